package dev.tp4j.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code tp4j launch ... mlp} through real processes, on a checkpoint PyTorch wrote (Llama-style SwiGLU, BF16). */
class MlpEndToEndIT {
    private static final Path FIXTURE = Tp4jCommand.ROOT.resolve("src/test/resources/interop/llama_bf16_silu_gated");
    private static final String PREFIX = "model.layers.0.mlp.";

    private static String[] mlp(int tp, Path output, Path json) {
        return new String[] {"launch", "--nproc-per-node", "" + tp, "mlp",
            "--checkpoint", FIXTURE.resolve("model.safetensors").toString(),
            "--up", PREFIX + "up_proj", "--gate", PREFIX + "gate_proj", "--down", PREFIX + "down_proj",
            "--activation", "silu", "--input", FIXTURE.resolve("input.safetensors").toString(),
            "--output", output.toString(), "--verify", "--json", json.toString()};
    }

    @ParameterizedTest(name = "tp={0}")
    @ValueSource(ints = {2, 3})
    void eachRankLoadsItsShardAndTheOutputMatches(int tp, @TempDir Path dir) throws Exception {
        Path output = dir.resolve("out.safetensors");
        Path json = dir.resolve("mlp.json");
        Tp4jCommand.Result r = Tp4jCommand.run(mlp(tp, output, json));
        assertEquals(0, r.status(), r::all);
        assertTrue(r.out().contains("[0] tp4j mlp: " + tp + " ranks, silu (gated)"), r::all);
        assertTrue(Files.exists(output), r::all);

        JsonNode root = new ObjectMapper().readTree(json.toFile());
        assertTrue(root.get("passed").asBoolean());
        assertTrue(root.get("verify").get("max_abs_diff").asDouble() <= root.get("verify").get("max_bound").asDouble());
        assertEquals(1, root.get("collectives").size(), root::toString);
        assertEquals("all_reduce", root.get("collectives").get(0).get("op").asText());
        assertEquals(1, root.get("collectives").get(0).get("count").asInt());
        long rows = 0;
        for (JsonNode shard : root.get("shards")) {
            rows += shard.get("up_weight").get(0).asLong();
            assertEquals(shard.get("shard_bytes").asLong(), shard.get("bytes_read").asLong(), shard::toString);
        }
        assertEquals(176, rows, "the up shards cover the ffn rows exactly once");
    }

    @Test
    void badInputIsRefusedOnceByTheLauncher(@TempDir Path dir) throws Exception {
        String[] args = mlp(2, dir.resolve("out.safetensors"), dir.resolve("mlp.json"));
        args[java.util.Arrays.asList(args).indexOf("silu")] = "swiglu"; // not an activation
        Tp4jCommand.Result r = Tp4jCommand.run(args);
        assertEquals(2, r.status(), r::all);
        assertEquals(1, r.err().lines().count(), r::all);
        assertTrue(r.err().contains("swiglu"), r::all);
        assertFalse(r.err().contains("[0]"), "the launcher, not a worker, refuses: " + r.err());
        assertFalse(Files.exists(dir.resolve("out.safetensors")));
    }

    /** A mismatch ends with every rank saying why, not only the launcher's "rank N exited with status 1". */
    @Test
    void aVerificationMismatchIsSaidByEveryRank(@TempDir Path dir) throws Exception {
        float[] values = new float[5 * 64];
        values[7] = Float.NaN;
        Path input = dir.resolve("nan.safetensors");
        try (dev.tp4j.tensor.Tensor t = dev.tp4j.tensor.Tensor.hostOf(dev.tp4j.tensor.Shape.of(5, 64), values)) {
            new dev.tp4j.io.SafetensorsWriter().add("input", t).write(input);
        }
        Path output = dir.resolve("out.safetensors");
        Tp4jCommand.Result r = Tp4jCommand.run("launch", "--nproc-per-node", "2", "mlp",
                "--checkpoint", FIXTURE.resolve("model.safetensors").toString(),
                "--up", "model.layers.0.mlp.up_proj", "--gate", "model.layers.0.mlp.gate_proj",
                "--down", "model.layers.0.mlp.down_proj", "--activation", "silu", "--input", input.toString(),
                "--output", output.toString(), "--verify");
        assertEquals(1, r.status(), r::all);
        String all = r.all();
        assertTrue(all.contains("FAIL: 64 of 320 values are NaN or infinite"), all);
        assertTrue(all.contains("[1] tp4j: the MLP's output does not match its float64 reference (rank 0's report "
                + "gives the numbers)") || all.contains("[0] tp4j: the MLP's output does not match its float64 "
                + "reference (see the report above)"), all);
        assertTrue(all.contains("exited with status 1"), all);
        assertFalse(Files.exists(output));
    }
}
