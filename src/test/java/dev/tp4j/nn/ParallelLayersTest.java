package dev.tp4j.nn;

import dev.tp4j.backend.Activation;
import dev.tp4j.task.seeded.SeededLayers;
import dev.tp4j.task.seeded.SeededWeights;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.backend.cpu.CpuBackend;
import dev.tp4j.comm.CollectiveOp;
import dev.tp4j.comm.CommStats;
import dev.tp4j.comm.Communicator;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Partition;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import dev.tp4j.testing.InMemoryGroup;
import dev.tp4j.reference.Bounded;
import dev.tp4j.reference.Comparison;
import dev.tp4j.reference.Float64Reference;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Each layer on tp ranks against the float64 sequential reference, with exact collective counts. */
class ParallelLayersTest {
    private static final long SEED = 20261124L;
    private static final int TOKENS = 5;

    private static Tensor input(SeededWeights w, int tokens, int features) {
        Tensor x = Tensor.allocateHost(Shape.of(tokens, features), DType.F32);
        w.fillRows("input", features, 0, 1f, x);
        return x;
    }

    private static Bounded referenceInput(SeededWeights w, int tokens, int features) {
        return Bounded.exact(w.full("input", tokens, features, 1f));
    }

    private static void assertWithin(Comparison c) {
        assertTrue(c.passed(), () -> c.label() + ": max |Δ| " + c.maxAbsDiff() + " exceeds its bound (ratio "
                + c.worstRatio() + " at element " + c.worstIndex() + ")");
    }

    private static float[] columns(float[] full, int rows, int cols, int first, int count) {
        float[] out = new float[rows * count];
        for (int i = 0; i < rows; i++) {
            System.arraycopy(full, i * cols + first, out, i * count, count);
        }
        return out;
    }

    private static double[] columns(double[] full, int rows, int cols, int first, int count) {
        double[] out = new double[rows * count];
        for (int i = 0; i < rows; i++) {
            System.arraycopy(full, i * cols + first, out, i * count, count);
        }
        return out;
    }

    @ParameterizedTest(name = "tp={0} in={1} out={2} bias={3}")
    @CsvSource({"1,16,12,true", "2,16,12,true", "3,16,12,false", "4,16,12,true",
                "2,16,13,true", "3,17,13,true", "4,9,14,false", "4,8,3,true"})
    void columnParallelShardsConcatenateToTheFullProduct(int tp, int in, int out, boolean bias) throws Exception {
        SeededWeights w = new SeededWeights(SEED);
        List<float[]> shards = InMemoryGroup.run(tp, comm -> {
            CpuBackend backend = new CpuBackend(1);
            ColumnParallelLinear layer = new SeededLayers(backend, comm, w).column("l", in, out, bias, false);
            CommStats.Snapshot before = comm.stats().snapshot();
            try (Tensor x = input(w, TOKENS, in); Tensor y = layer.forward(x)) {
                assertEquals(0, comm.stats().since(before).count(), "column-parallel forward needs no collective");
                assertEquals(new Partition(out, tp).count(comm.rank()), y.cols());
                return y.toFloatArray();
            }
        });
        Bounded ref = Float64Reference.linear(referenceInput(w, TOKENS, in), TOKENS, in,
                SeededLayers.fullWeight(w, "l", in, out), out, bias ? SeededLayers.fullBias(w, "l", in, out) : null);
        Partition p = new Partition(out, tp);
        for (int r = 0; r < tp; r++) {
            Bounded slice = new Bounded(columns(ref.value(), TOKENS, out, p.intOffset(r), p.intCount(r)),
                    columns(ref.bound(), TOKENS, out, p.intOffset(r), p.intCount(r)));
            assertWithin(Comparison.of("rank " + r, shards.get(r), slice));
        }
    }

    @ParameterizedTest(name = "tp={0} out={1}")
    @CsvSource({"1,12", "2,12", "3,13", "4,14"})
    void columnParallelGatherOutputIsOneAllGatherAndTheFullProductEverywhere(int tp, int out) throws Exception {
        int in = 10;
        SeededWeights w = new SeededWeights(SEED);
        List<float[]> results = InMemoryGroup.run(tp, comm -> {
            ColumnParallelLinear layer = new SeededLayers(new CpuBackend(1), comm, w).column("g", in, out, true, true);
            CommStats.Snapshot before = comm.stats().snapshot();
            try (Tensor x = input(w, TOKENS, in); Tensor y = layer.forward(x)) {
                assertEquals(1, comm.stats().since(before).count(CollectiveOp.ALL_GATHER));
                assertEquals(1, comm.stats().since(before).count());
                return y.toFloatArray();
            }
        });
        Bounded ref = Float64Reference.linear(referenceInput(w, TOKENS, in), TOKENS, in,
                SeededLayers.fullWeight(w, "g", in, out), out, SeededLayers.fullBias(w, "g", in, out));
        for (float[] y : results) {
            assertArrayEquals(results.get(0), y, 0f);
            assertWithin(Comparison.of("gathered", y, ref));
        }
    }

    @ParameterizedTest(name = "tp={0} in={1} out={2} parallelInput={3}")
    @CsvSource({"1,12,6,false", "2,12,6,true", "3,12,7,false", "4,12,5,true",
                "2,13,6,false", "3,13,6,true", "4,10,3,false", "4,3,4,true"})
    void rowParallelPartialsSumToTheFullProductWithOneAllReduce(int tp, int in, int out, boolean parallelInput)
            throws Exception {
        SeededWeights w = new SeededWeights(SEED);
        Partition inputs = new Partition(in, tp);
        List<float[]> results = InMemoryGroup.run(tp, comm -> {
            RowParallelLinear layer = new SeededLayers(new CpuBackend(1), comm, w).row("r", in, out, true, parallelInput);
            try (Tensor full = input(w, TOKENS, in)) {
                Tensor x = parallelInput
                        ? full.narrowColumns(inputs.intOffset(comm.rank()), inputs.intCount(comm.rank()))
                        : full;
                CommStats.Snapshot before = comm.stats().snapshot();
                try (Tensor y = layer.forward(x)) {
                    assertEquals(1, comm.stats().since(before).count(CollectiveOp.ALL_REDUCE));
                    assertEquals(1, comm.stats().since(before).count());
                    return y.toFloatArray();
                }
            }
        });
        Bounded ref = Float64Reference.linear(referenceInput(w, TOKENS, in), TOKENS, in,
                SeededLayers.fullWeight(w, "r", in, out), out, SeededLayers.fullBias(w, "r", in, out));
        for (float[] y : results) {
            assertArrayEquals(results.get(0), y, 0f, "every rank holds bitwise the same Y");
            assertWithin(Comparison.of("row-parallel", y, ref));
        }
    }

    @ParameterizedTest(name = "tp={0}")
    @CsvSource({"1", "2", "3", "4"})
    void rowParallelBiasIsAddedOnceNotTpTimes(int tp) throws Exception {
        int in = 8;
        int out = 4;
        SeededWeights w = new SeededWeights(SEED);
        List<float[]> results = InMemoryGroup.run(tp, comm -> {
            RowParallelLinear layer = new SeededLayers(new CpuBackend(1), comm, w).row("b", in, out, true, false);
            // X = 0, so Y must be exactly b: any rank adding the bias too makes it k·b.
            try (Tensor x = Tensor.allocateHost(Shape.of(3, in), DType.F32); Tensor y = layer.forward(x)) {
                return y.toFloatArray();
            }
        });
        double[] b = SeededLayers.fullBias(w, "b", in, out);
        for (float[] y : results) {
            for (int i = 0; i < y.length; i++) {
                assertEquals((float) b[i % out], y[i], 0f);
            }
        }
    }

    @ParameterizedTest(name = "tp={0} ffn={1} {2} gated={3} bias={4}")
    @CsvSource({"1,32,gelu,false,true", "2,32,gelu,false,true", "3,32,relu,false,false", "4,32,gelu_tanh,false,true",
                "3,22,silu,true,false", "4,22,silu,true,true", "2,21,gelu,true,true", "4,30,relu,false,true",
                "1,16,silu,true,false"})
    void megatronMlpMatchesTheSequentialMlpWithExactlyOneAllReduce(int tp, int ffn, String act, boolean gated,
                                                                   boolean bias) throws Exception {
        int hidden = 12;
        Activation activation = Activation.parse(act);
        SeededWeights w = new SeededWeights(SEED);
        List<float[]> results = InMemoryGroup.run(tp, comm -> {
            try (ParallelMlp mlp = new SeededLayers(new CpuBackend(1), comm, w).mlp("mlp", hidden, ffn, activation, gated, bias);
                 Tensor x = input(w, TOKENS, hidden)) {
                CommStats.Snapshot before = comm.stats().snapshot();
                try (Tensor y = mlp.forward(x)) {
                    assertEquals(1, comm.stats().since(before).count(CollectiveOp.ALL_REDUCE));
                    assertEquals(1, comm.stats().since(before).count(), "the MLP needs exactly one collective");
                    return y.toFloatArray();
                }
            }
        });
        Bounded ref = referenceMlp(w, hidden, ffn, activation, gated, bias);
        for (float[] y : results) {
            assertArrayEquals(results.get(0), y, 0f, "every rank holds bitwise the same output");
            assertWithin(Comparison.of("mlp", y, ref));
        }
    }

    @ParameterizedTest(name = "tp={0}")
    @CsvSource({"2", "3"})
    void theToleranceCatchesAWrongAnswer(int tp) throws Exception {
        int hidden = 12;
        int ffn = 24;
        SeededWeights w = new SeededWeights(SEED);
        List<float[]> results = InMemoryGroup.run(tp, comm -> {
            try (ParallelMlp mlp = new SeededLayers(new CpuBackend(1), comm, w).mlp("mlp", hidden, ffn, Activation.GELU, false, true);
                 Tensor x = input(w, TOKENS, hidden);
                 Tensor y = mlp.forward(x)) {
                return y.toFloatArray();
            }
        });
        // The same network with the down-projection's bias counted tp times must fail the check.
        Bounded ref = referenceMlp(w, hidden, ffn, Activation.GELU, false, true);
        double[] b = SeededLayers.fullBias(w, "mlp.down_proj", ffn, hidden);
        float[] wrong = results.get(0).clone();
        for (int i = 0; i < wrong.length; i++) {
            wrong[i] += (float) ((tp - 1) * b[i % hidden]);
        }
        assertFalse(Comparison.of("bias added tp times", wrong, ref).passed());
        assertWithin(Comparison.of("correct", results.get(0), ref));
    }

    static Bounded referenceMlp(SeededWeights w, int hidden, int ffn, Activation act, boolean gated, boolean bias) {
        Bounded x = referenceInput(w, TOKENS, hidden);
        Bounded up = Float64Reference.linear(x, TOKENS, hidden, SeededLayers.fullWeight(w, "mlp.up_proj", hidden, ffn),
                ffn, bias ? SeededLayers.fullBias(w, "mlp.up_proj", hidden, ffn) : null);
        Bounded h;
        if (gated) {
            Bounded gate = Float64Reference.linear(x, TOKENS, hidden,
                    SeededLayers.fullWeight(w, "mlp.gate_proj", hidden, ffn), ffn,
                    bias ? SeededLayers.fullBias(w, "mlp.gate_proj", hidden, ffn) : null);
            h = Float64Reference.gated(act, gate, up);
        } else {
            h = Float64Reference.activate(act, up);
        }
        return Float64Reference.linear(h, TOKENS, ffn, SeededLayers.fullWeight(w, "mlp.down_proj", ffn, hidden),
                hidden, bias ? SeededLayers.fullBias(w, "mlp.down_proj", ffn, hidden) : null);
    }
}
