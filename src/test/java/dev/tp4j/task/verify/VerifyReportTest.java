package dev.tp4j.task.verify;

import dev.tp4j.reference.Comparison;
import static dev.tp4j.testutil.ReportText.keys;
import static dev.tp4j.testutil.ReportText.lineWith;
import static dev.tp4j.testutil.ReportText.parse;
import static dev.tp4j.testutil.ReportText.printed;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tp4j.backend.Activation;
import dev.tp4j.comm.CollectiveOp;
import dev.tp4j.comm.LinkTraffic;
import dev.tp4j.comm.TrafficReport;
import dev.tp4j.comm.CommStats;
import dev.tp4j.report.ReportJson;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;

/** The verify report: the same bytes for the same facts, keys in declaration order, text and JSON agreeing. */
class VerifyReportTest {

    /** Two ranks, three checks (one with no collective, one failing), built afresh on every call. */
    static VerifyResult result() {
        VerifyOptions options = new VerifyOptions(3, 31, 47, 99, Activation.SILU, true, false, 2);
        List<long[]> shards = List.of(new long[] {24, 31, 31, 24, 24, 31, 31, 24},
                new long[] {23, 31, 31, 23, 23, 31, 31, 23});
        List<CheckResult> checks = List.of(
                new CheckResult("column", "each rank's columns", new Comparison("column", 144, 1.25e-7, 3.5e-6, 0.04, 3),
                        false, false, List.of(), "each rank computes its own output columns", 0),
                new CheckResult("row", "the gathered output", new Comparison("row", 93, 2.5e-7, 1.5e-6, 0.5, 1),
                        true, false, List.of(summary(CollectiveOp.ALL_GATHER, 1, 1116, 123_456)), null, 0),
                new CheckResult("mlp", "the reduced output", new Comparison("mlp", 93, 6.75e-6, 2e-6, 3.4, 2),
                        true, true, List.of(summary(CollectiveOp.ALL_REDUCE, 1, 372, 654_321)), null, 2));
        return new VerifyResult(options, 2, "cpu (OpenBLAS, 1 thread)", "tcp ring", shards, checks,
                List.of(summary(CollectiveOp.ALL_GATHER, 4, 4096, 7_777_777)),
                List.of(new LinkTraffic("shm inside node 0", 12, 3 << 20), new LinkTraffic("tcp between nodes", 6, 1536)),
                false);
    }

    static CommStats.Summary summary(CollectiveOp op, long count, long bytes, long nanos) {
        return new CommStats.Summary(op, count, bytes / Float.BYTES, bytes, bytes / 2, nanos);
    }

    @Test
    void equalResultsGiveTheSameBytesWithKeysInDeclarationOrder() {
        VerifyReport report = VerifyReport.of(result());
        String json = ReportJson.text(report);
        assertEquals(json, ReportJson.text(report), "the same report twice");
        assertEquals(json, ReportJson.text(VerifyReport.of(result())), "two equal results, built apart");

        JsonNode root = parse(json);
        assertEquals(List.of("task", "passed", "world_size", "options", "backend", "communicator", "shards", "checks",
                "verification_collectives", "links"), keys(root));
        assertEquals(List.of("link", "collectives", "sent_bytes"), keys(root.get("links").get(0)));
        assertEquals("verify", root.get("task").asText());
        assertEquals(List.of("batch", "hidden", "ffn", "seed", "activation", "gated", "bias", "repeat"),
                keys(root.get("options")));
        assertEquals(List.of("rank", "column_weight", "row_weight", "mlp_up_weight", "mlp_down_weight"),
                keys(root.get("shards").get(1)));
        List<String> check = List.of("layer", "claim", "passed", "max_abs_diff", "max_bound", "worst_diff_over_bound",
                "elements", "identical_on_all_ranks", "drift_repeats", "collectives");
        JsonNode checks = root.get("checks");
        assertEquals(concat(check, "no_collectives_because"), keys(checks.get(0)), "a layer without collectives says why");
        assertEquals(check, keys(checks.get(1)));
        assertEquals(List.of("op", "count", "bytes", "sent_bytes", "time_ms"),
                keys(checks.get(1).get("collectives").get(0)));
    }

    @Test
    void theTextShowsTheValuesOfTheJson() {
        VerifyReport report = VerifyReport.of(result());
        String text = printed(out -> VerifyReportText.print(report, out));
        JsonNode root = parse(ReportJson.text(report));

        int failed = 0;
        for (JsonNode c : root.get("checks")) {
            String row = lineWith(text, c.get("claim").asText());
            assertTrue(row.contains(sci(c.get("max_abs_diff").asDouble()) + " "), row);
            assertTrue(row.contains(sci(c.get("max_bound").asDouble()) + " "), row);
            boolean passed = c.get("passed").asBoolean();
            assertTrue(row.contains(passed ? " ok " : " FAIL "), row);
            assertEquals(!c.get("identical_on_all_ranks").asBoolean(), row.contains("[ranks disagree bitwise]"), row);
            assertEquals(c.get("drift_repeats").asInt() > 0,
                    row.contains("[drift in " + c.get("drift_repeats").asInt() + " repeats]"), row);
            failed += passed ? 0 : 1;
            for (JsonNode t : c.get("collectives")) {
                lineWith(text, t.get("count").asLong() + " " + t.get("op").asText() + ", ");
            }
        }
        assertEquals(2, failed, "the fixture fails two checks");
        assertFalse(root.get("passed").asBoolean());
        for (JsonNode link : root.get("links")) {
            assertTrue(lineWith(text, link.get("link").asText()).contains(
                    TrafficReport.bytes(link.get("sent_bytes").asLong()) + " in " + link.get("collectives").asInt()
                            + " collectives"), text);
        }
        assertTrue(text.contains("verify: " + failed + " of " + root.get("checks").size() + " checks FAILED"), text);
        assertTrue(lineWith(text, "none — ").endsWith(root.get("checks").get(0).get("no_collectives_because").asText()));
        JsonNode options = root.get("options");
        assertTrue(lineWith(text, "tp4j verify:").contains("activation " + options.get("activation").asText()
                + " (gated), no bias, seed " + options.get("seed").asLong()), text);
    }

    private static String sci(double v) {
        return String.format(Locale.ROOT, "%.2e", v);
    }

    private static List<String> concat(List<String> keys, String last) {
        return java.util.stream.Stream.concat(keys.stream(), java.util.stream.Stream.of(last)).toList();
    }
}
