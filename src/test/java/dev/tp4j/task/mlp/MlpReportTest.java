package dev.tp4j.task.mlp;

import static dev.tp4j.testutil.ReportText.keys;
import static dev.tp4j.testutil.ReportText.lineWith;
import static dev.tp4j.testutil.ReportText.parse;
import static dev.tp4j.testutil.ReportText.printed;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tp4j.backend.Activation;
import dev.tp4j.checkpoint.LinearTensors;
import dev.tp4j.checkpoint.MlpLayout;
import dev.tp4j.comm.CollectiveOp;
import dev.tp4j.comm.CommStats;
import dev.tp4j.comm.TrafficReport;
import dev.tp4j.io.TensorInfo;
import dev.tp4j.report.ReportJson;
import dev.tp4j.reference.Comparison;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;

/** The mlp report: the same bytes for the same facts, keys in declaration order, text and JSON agreeing. */
class MlpReportTest {

    /** A gated MLP on two ranks, verified or not, built afresh on every call. */
    static MlpResult result(boolean verified) {
        LinearTensors up = new LinearTensors("mlp.up", new TensorInfo("mlp.up.weight", DType.BF16, Shape.of(101, 37), 0,
                7474), new TensorInfo("mlp.up.bias", DType.BF16, Shape.of(101), 7474, 7676));
        LinearTensors gate = new LinearTensors("mlp.gate", new TensorInfo("mlp.gate.weight", DType.BF16,
                Shape.of(101, 37), 7676, 15150), null);
        LinearTensors down = new LinearTensors("mlp.down", new TensorInfo("mlp.down.weight", DType.BF16,
                Shape.of(37, 101), 15150, 22624), null);
        MlpOptions options = new MlpOptions(Path.of("/data/model.safetensors"), "mlp.up", "mlp.gate", "mlp.down",
                Activation.SILU, Path.of("/data/in.safetensors"), "input", Path.of("/data/out.safetensors"), "output",
                verified);
        List<MlpResult.RankLoad> loads = List.of(new MlpResult.RankLoad(0, 51, 51, 11_322, 11_322, 1_234_567_890L),
                new MlpResult.RankLoad(1, 50, 50, 11_100, 11_100, 34_567_000L));
        return new MlpResult(options, 2, "cpu (OpenBLAS, 1 thread)", "shm", new MlpLayout("/data/model.safetensors",
                up, gate, down), Shape.of(2, 3, 37), 6, loads, 2_345_678,
                List.of(new CommStats.Summary(CollectiveOp.ALL_REDUCE, 1, 222, 888, 444, 45_678)),
                List.of(new CommStats.Summary(CollectiveOp.ALL_GATHER, 1, 24, 96, 48, 5_555)),
                verified ? new Comparison("mlp", 222, 3.5e-7, 1.25e-5, 0.1, 4) : null, true, true);
    }

    @Test
    void equalResultsGiveTheSameBytesWithKeysInDeclarationOrder() {
        MlpReport report = MlpReport.of(result(true));
        String json = ReportJson.text(report);
        assertEquals(json, ReportJson.text(report), "the same report twice");
        assertEquals(json, ReportJson.text(MlpReport.of(result(true))), "two equal results, built apart");

        JsonNode root = parse(json);
        assertEquals(List.of("task", "passed", "world_size", "backend", "communicator", "checkpoint", "layers",
                "activation", "gated", "hidden", "ffn", "input", "tokens", "shards", "forward_ms", "collectives",
                "report_collectives", "verify", "output"), keys(root));
        assertEquals("mlp", root.get("task").asText());
        assertEquals(List.of("prefix", "weight_shape", "dtype", "bias", "weight_name", "bias_shape"),
                keys(root.get("layers").get(0)));
        assertEquals(List.of("prefix", "weight_shape", "dtype", "bias", "weight_name"), keys(root.get("layers").get(1)),
                "no bias_shape without a bias");
        assertEquals(List.of("file", "name", "shape"), keys(root.get("input")));
        assertEquals(List.of("rank", "up_weight", "down_weight", "shard_bytes", "bytes_read", "load_seconds"),
                keys(root.get("shards").get(0)));
        assertEquals(List.of("passed", "max_abs_diff", "max_bound", "worst_diff_over_bound", "elements", "non_finite"),
                keys(root.get("verify")));
        assertEquals(List.of("file", "name", "shape", "dtype"), keys(root.get("output")));
    }

    @Test
    void withoutVerifyTheJsonHasNoVerifyKey() {
        JsonNode root = parse(ReportJson.text(MlpReport.of(result(false))));
        assertFalse(root.has("verify"), root::toString);
        assertTrue(root.get("passed").asBoolean());
    }

    @Test
    void theTextShowsTheValuesOfTheJson() {
        MlpReport report = MlpReport.of(result(true));
        String text = printed(out -> MlpReportText.print(report, out));
        JsonNode root = parse(ReportJson.text(report));

        JsonNode verify = root.get("verify");
        assertTrue(lineWith(text, "Verify against").contains(String.format(Locale.ROOT, "max |Δ| %.2e, bound %.2e",
                verify.get("max_abs_diff").asDouble(), verify.get("max_bound").asDouble())), text);
        assertTrue(lineWith(text, "Forward: ").contains(String.format(Locale.ROOT, "%.3f ms",
                root.get("forward_ms").asDouble())), text);
        JsonNode reduce = root.get("collectives").get(0);
        assertTrue(lineWith(text, "Forward: ").contains(reduce.get("count").asLong() + " " + reduce.get("op").asText()
                + ", " + TrafficReport.bytes(reduce.get("bytes").asLong())), text);
        for (JsonNode layer : root.get("layers")) {
            String row = lineWith(text, layer.get("weight_name").asText());
            assertTrue(row.contains(layer.get("dtype").asText()), row);
            assertEquals(layer.get("bias").asBoolean(), row.contains("+ bias [" + layer.path("bias_shape").path(0).asLong()
                    + "]"), row);
        }
        for (JsonNode shard : root.get("shards")) {
            String row = lineWith(text, String.format(Locale.ROOT, "%.3f s", shard.get("load_seconds").asDouble()));
            assertTrue(row.startsWith("  " + shard.get("rank").asInt() + " "), row);
            assertTrue(row.contains(TrafficReport.bytes(shard.get("bytes_read").asLong())), row);
        }
        JsonNode output = root.get("output");
        assertEquals("Output: " + output.get("file").asText() + " '" + output.get("name").asText() + "' [2, 3, 37] "
                + output.get("dtype").asText(), lineWith(text, "Output: "));
    }
}
