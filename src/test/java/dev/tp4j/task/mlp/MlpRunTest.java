package dev.tp4j.task.mlp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.backend.cpu.CpuBackend;
import dev.tp4j.checkpoint.LoadListener;
import dev.tp4j.comm.CollectiveOp;
import dev.tp4j.io.SafetensorsFile;
import dev.tp4j.backend.Activation;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;
import dev.tp4j.testing.InMemoryGroup;
import dev.tp4j.reference.Bounded;
import dev.tp4j.reference.Comparison;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class MlpRunTest {
    @TempDir
    Path dir;

    @ParameterizedTest(name = "tp={0} {1} {2} gated={3} bias={4}")
    @CsvSource({
        "1, F32,  gelu,      false, true",
        "2, F16,  relu,      false, true",
        "3, BF16, silu,      true,  false",
        "4, F32,  gelu_tanh, true,  true",
        "5, BF16, gelu,      false, false",
        "5, F16,  silu,      true,  true",
        "2, BF16, silu,      true,  true",
        "3, F32,  relu,      false, false",
        "4, F16,  gelu,      false, false",
    })
    void matchesTheFloat64ReferenceWithOneAllReduce(int tp, DType dtype, String act, boolean gated, boolean bias)
            throws Exception {
        int hidden = 37; // odd sizes: every tp here shards unevenly
        int ffn = 101;
        Path checkpoint = MlpCheckpoints.write(dir.resolve("model.safetensors"), hidden, ffn, dtype, gated, bias, 7);
        Path input = MlpCheckpoints.writeInput(dir.resolve("in.safetensors"), "input", Shape.of(6, hidden), dtype, 8);
        Path output = dir.resolve("out.safetensors");
        Activation activation = Activation.parse(act);
        MlpOptions options = new MlpOptions(checkpoint, MlpCheckpoints.UP, gated ? MlpCheckpoints.GATE : null,
                MlpCheckpoints.DOWN, activation, input, "input", output, "output", true);

        List<MlpResult> results = InMemoryGroup.run(tp,
                comm -> new MlpRun(new CpuBackend(1), comm, options, LoadListener.NONE).run());

        MlpResult r = results.get(0);
        assertTrue(r.passed(), () -> render(r));
        assertTrue(r.outputWritten());
        for (MlpResult other : results) {
            assertEquals(1, other.forwardTraffic().size(), other.forwardTraffic()::toString);
            assertEquals(CollectiveOp.ALL_REDUCE, other.forwardTraffic().get(0).op());
            assertEquals(tp == 1 ? 0 : 1, tp == 1 ? 0 : other.forwardTraffic().get(0).count());
            assertTrue(other.passed(), "every rank exits with rank 0's verdict");
        }
        // The file rank 0 wrote, checked independently of the run's own comparison.
        float[] written = MlpCheckpoints.readOutput(output, "output");
        Bounded reference = MlpCheckpoints.reference(checkpoint, input, "input", activation, gated, bias);
        Comparison c = Comparison.of("output", written, reference);
        assertTrue(c.passed(), c::toString);
        assertEquals(6 * hidden, written.length);

        long upRows = 0;
        long downColumns = 0;
        for (MlpResult.RankLoad load : r.loads()) {
            upRows += load.upRows();
            downColumns += load.downColumns();
            assertEquals(ffn / tp + (load.rank() < ffn % tp ? 1 : 0), load.upRows(), "uneven rule: first ranks take one more");
            assertEquals(load.shardBytes(), load.bytesRead(), "a rank reads exactly its shard");
        }
        assertEquals(ffn, upRows);
        assertEquals(ffn, downColumns);
    }

    @Test
    void aSingleRankRunsNoCollectiveInTheForward() throws Exception {
        Path checkpoint = MlpCheckpoints.write(dir.resolve("m.safetensors"), 8, 12, DType.F32, false, true, 1);
        Path input = MlpCheckpoints.writeInput(dir.resolve("in.safetensors"), "x", Shape.of(2, 3, 8), DType.F32, 2);
        MlpOptions options = new MlpOptions(checkpoint, MlpCheckpoints.UP, null, MlpCheckpoints.DOWN, Activation.RELU,
                input, "x", dir.resolve("y.safetensors"), "y", false);
        MlpResult r = InMemoryGroup.run(1, comm -> new MlpRun(new CpuBackend(1), comm, options, LoadListener.NONE).run())
                .get(0);
        assertEquals(List.of(), r.forwardTraffic().stream().filter(s -> s.count() > 0 && s.op() != CollectiveOp.ALL_REDUCE).toList());
        assertEquals(6, r.tokens(), "leading dimensions of the input are tokens");
        try (SafetensorsFile out = SafetensorsFile.open(dir.resolve("y.safetensors"))) {
            assertEquals(Shape.of(2, 3, 8), out.info("y").shape(), "the output keeps the input's shape");
            assertEquals(DType.F32, out.info("y").dtype());
        }
        assertTrue(render(r).contains("Output: "), render(r));
    }

    @Test
    void eachRankTouchesOnlyItsShardNotTheFile() throws Exception {
        int hidden = 256;
        int ffn = 1024;
        Path checkpoint = MlpCheckpoints.write(dir.resolve("m.safetensors"), hidden, ffn, DType.BF16, true, true, 3);
        Path input = MlpCheckpoints.writeInput(dir.resolve("in.safetensors"), "input", Shape.of(2, hidden), DType.F32, 4);
        MlpOptions options = new MlpOptions(checkpoint, MlpCheckpoints.UP, MlpCheckpoints.GATE, MlpCheckpoints.DOWN,
                Activation.SILU, input, "input", dir.resolve("o.safetensors"), "output", false);
        int tp = 4;
        List<MlpResult> results = InMemoryGroup.run(tp,
                comm -> new MlpRun(new CpuBackend(1), comm, options, LoadListener.NONE).run());
        long fileBytes = Files.size(checkpoint);
        long mlpBytes = 3L * hidden * ffn * 2 + (2L * ffn + hidden) * 2;
        for (MlpResult.RankLoad load : results.get(0).loads()) {
            long expected = 3L * (ffn / tp) * hidden * 2 + 2L * (ffn / tp) * 2 + hidden * 2L;
            assertEquals(expected, load.bytesRead(), "rank " + load.rank());
            assertTrue(load.bytesRead() < mlpBytes / tp + hidden * 2L + 1, "about a quarter of the MLP");
            assertTrue(load.bytesRead() * 3 < fileBytes, "far less than the file");
        }
    }

    @Test
    void aMismatchWritesNoOutputAndFailsEveryRank() throws Exception {
        // A checkpoint whose down-projection holds a NaN: the parallel result cannot match the bound.
        Path checkpoint = MlpCheckpoints.write(dir.resolve("m.safetensors"), 8, 12, DType.F32, false, false, 1);
        Path input = MlpCheckpoints.writeInput(dir.resolve("in.safetensors"), "input", Shape.of(2, 8),
                DType.F32, 2);
        Path nanInput = dir.resolve("nan.safetensors");
        float[] values = MlpCheckpoints.readOutput(input, "input");
        values[3] = Float.NaN;
        try (var t = dev.tp4j.tensor.Tensor.hostOf(Shape.of(2, 8), values)) {
            new dev.tp4j.io.SafetensorsWriter().add("input", t).write(nanInput);
        }
        Path output = dir.resolve("o.safetensors");
        MlpOptions options = new MlpOptions(checkpoint, MlpCheckpoints.UP, null, MlpCheckpoints.DOWN, Activation.GELU,
                nanInput, "input", output, "output", true);
        List<MlpResult> results = InMemoryGroup.run(2,
                comm -> new MlpRun(new CpuBackend(1), comm, options, LoadListener.NONE).run());
        for (MlpResult r : results) {
            assertFalse(r.passed());
        }
        assertNotNull(results.get(0).verification());
        assertFalse(Files.exists(output), "no output for a result that fails verification");
        String text = render(results.get(0));
        // The NaN row is named as such, not as "max |Δ| Infinity, bound NaN".
        assertTrue(text.contains("FAIL: 8 of 16 values are NaN or infinite"), text);
        assertFalse(text.contains("bound NaN"), text);
        assertEquals(8, results.get(0).verification().nonFinite());
    }

    @Test
    void nanWeightsAreNamedWhileLoadingEvenWithoutVerify() throws Exception {
        Path checkpoint = dir.resolve("nan-weights.safetensors");
        float[] down = new float[8 * 12];
        down[13] = Float.NaN;
        down[50] = Float.POSITIVE_INFINITY;
        try (var up = dev.tp4j.tensor.Tensor.allocateHost(Shape.of(12, 8), DType.F32);
             var d = dev.tp4j.tensor.Tensor.hostOf(Shape.of(8, 12), down)) {
            new dev.tp4j.io.SafetensorsWriter().add(MlpCheckpoints.UP + ".weight", up)
                    .add(MlpCheckpoints.DOWN + ".weight", d).write(checkpoint);
        }
        Path input = MlpCheckpoints.writeInput(dir.resolve("in.safetensors"), "input", Shape.of(2, 8), DType.F32, 2);
        MlpOptions options = new MlpOptions(checkpoint, MlpCheckpoints.UP, null, MlpCheckpoints.DOWN, Activation.GELU,
                input, "input", dir.resolve("o.safetensors"), "output", false);
        List<String> warnings = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        InMemoryGroup.run(2, comm -> new MlpRun(new CpuBackend(1), comm, options, new LoadListener() {
            @Override
            public void nonFinite(String name, long count, long first) {
                warnings.add(comm.rank() + " " + name + " " + count + " " + first);
            }
        }).run());
        // down [8, 12] is split by columns, rank 0 holding columns 0-5 and rank 1 columns 6-11. Element 13 is
        // [1, 1] and element 50 is [4, 2]: both in rank 0's shard [8, 6], at its elements 7 and 26.
        assertEquals(List.of("0 " + MlpCheckpoints.DOWN + ".weight 2 7"), warnings);
    }

    private static String render(MlpResult r) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        MlpReportText.print(MlpReport.of(r), new PrintStream(bytes, true, StandardCharsets.UTF_8));
        return bytes.toString(StandardCharsets.UTF_8);
    }
}
