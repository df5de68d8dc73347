package dev.tp4j.task.bench;

import static dev.tp4j.testutil.ReportText.keys;
import static dev.tp4j.testutil.ReportText.lineWith;
import static dev.tp4j.testutil.ReportText.parse;
import static dev.tp4j.testutil.ReportText.printed;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tp4j.report.ReportJson;
import dev.tp4j.task.bench.BenchResult.Figure;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The bench report: the same bytes for the same facts, keys in declaration order, text and JSON agreeing. */
class BenchReportTest {
    private static final String HEADER = "tp4j bench: 2 ranks; compute: cpu; collectives: tcp ring";

    /** One result of each kind, built afresh on every call. */
    static List<BenchResult> results() {
        Samples slow = new Samples(new long[] {1_000_000, 2_000_000, 3_500_000});
        Samples fast = new Samples(new long[] {10_000, 20_000, 35_000, 41_000});
        return List.of(
                BenchResult.of("gemm", "tp4j linear", 2, "f32", null, "4x12x16", slow,
                        new Figure("gflops", 12.5), new Figure("fraction_of_raw", 0.93)),
                BenchResult.of("gemm", "raw cblas_sgemm", 2, "f32", null, "4x12x16", fast, new Figure("gflops", 13.4)),
                BenchResult.of("collective", "all_reduce", 2, "f32", 4096L, null, fast,
                        new Figure("algbw_gbps", 0.25), new Figure("busbw_gbps", 0.375)),
                BenchResult.of("mlp", "forward (gelu)", 2, "f32", null, "tokens 4, hidden 16, ffn 24", slow,
                        new Figure("gflops", 1.5), new Figure("comm_ms", 0.25), new Figure("comm_fraction", 0.125)));
    }

    @Test
    void equalResultsGiveTheSameBytesWithKeysInDeclarationOrder() {
        BenchReport report = new BenchReport(HEADER, results());
        String json = ReportJson.text(report);
        assertEquals(json, ReportJson.text(report), "the same report twice");
        assertEquals(json, ReportJson.text(new BenchReport(HEADER, results())), "two equal results, built apart");

        JsonNode root = parse(json);
        assertEquals(List.of("task", "header", "results"), keys(root));
        assertEquals("bench", root.get("task").asText());
        JsonNode results = root.get("results");
        List<String> timing = List.of("kind", "op", "tp", "dtype", "shape", "median_ms", "p10_ms", "p90_ms");
        assertEquals(concat(timing, "gflops", "fraction_of_raw"), keys(results.get(0)),
                "derived figures after the timings, in the order the benchmark gave them");
        assertEquals(List.of("kind", "op", "tp", "dtype", "bytes", "median_ms", "p10_ms", "p90_ms", "algbw_gbps",
                "busbw_gbps"), keys(results.get(2)), "a collective has bytes and no shape");
        assertEquals(concat(timing, "gflops", "comm_ms", "comm_fraction"), keys(results.get(3)));
    }

    @Test
    void theTextShowsTheValuesOfTheJson() {
        BenchReport report = new BenchReport(HEADER, results());
        String text = printed(out -> BenchReportText.print(report, out));
        JsonNode results = parse(ReportJson.text(report)).get("results");

        JsonNode gemm = results.get(0);
        assertTrue(lineWith(text, gemm.get("op").asText() + " ").contains(String.format(Locale.ROOT,
                "%10.3f %10.3f %10.3f %10.1f %.1f%% of raw", gemm.get("median_ms").asDouble(), gemm.get("p10_ms").asDouble(),
                gemm.get("p90_ms").asDouble(), gemm.get("gflops").asDouble(), 100 * gemm.get("fraction_of_raw").asDouble())),
                text);
        JsonNode reduce = results.get(2);
        assertTrue(lineWith(text, "  all_reduce ").endsWith(String.format(Locale.ROOT, "%12.3f %12.3f",
                reduce.get("algbw_gbps").asDouble(), reduce.get("busbw_gbps").asDouble())), text);
        assertTrue(lineWith(text, "  all_reduce ").contains(BenchReportText.size(reduce.get("bytes").asLong())), text);
        JsonNode mlp = results.get(3);
        assertTrue(lineWith(text, "tp " + mlp.get("tp").asInt() + ", ").contains(String.format(Locale.ROOT,
                "%.1f GFLOP/s, all_reduce %.3f ms", mlp.get("gflops").asDouble(), mlp.get("comm_ms").asDouble())), text);
        assertTrue(text.startsWith(HEADER + "\n"), text);
    }

    @Test
    void aFileFromBeforeTheKeysWereOrderedReadsBackTheSame(@TempDir Path dir) throws Exception {
        // As earlier versions wrote it: "task" last, derived figures in Map.of's order of the day.
        Path earlier = Files.writeString(dir.resolve("earlier.json"), """
                {
                  "header" : "tp4j bench: 2 ranks",
                  "results" : [ {
                    "kind" : "mlp", "op" : "forward (gelu)", "tp" : 2, "dtype" : "f32",
                    "shape" : "tokens 4, hidden 16, ffn 24", "median_ms" : 2.0, "p10_ms" : 1.2, "p90_ms" : 3.2,
                    "comm_fraction" : 0.125, "comm_ms" : 0.25, "gflops" : 1.5
                  }, {
                    "kind" : "collective", "op" : "all_reduce", "tp" : 2, "dtype" : "f32", "bytes" : 4096,
                    "median_ms" : 0.0275, "p10_ms" : 0.013, "p90_ms" : 0.0392, "busbw_gbps" : 0.375, "algbw_gbps" : 0.25
                  } ],
                  "task" : "bench"
                }""");
        List<BenchResult> back = BenchResultsFile.read(earlier);
        List<BenchResult> now = results();
        assertEquals(List.of(now.get(3), now.get(2)), back);
        Path rewritten = dir.resolve("rewritten.json");
        ReportJson.write(rewritten, new BenchReport(HEADER, back));
        assertEquals(back, BenchResultsFile.read(rewritten), "read, written and read again: the same results");
    }

    private static List<String> concat(List<String> keys, String... more) {
        return java.util.stream.Stream.concat(keys.stream(), java.util.Arrays.stream(more)).toList();
    }
}
