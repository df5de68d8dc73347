package dev.tp4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.backend.cpu.CpuBackend;
import dev.tp4j.comm.CollectiveOp;
import dev.tp4j.comm.CommStats;
import dev.tp4j.io.ModelDirectory;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import dev.tp4j.testing.InMemoryGroup;
import dev.tp4j.testutil.RandomModels;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** A whole decoder on tp ranks (threads): the collectives it runs and the KV cache against recomputation. */
class DecoderModelTest {
    private static final int[] PROMPT = {3, 17, 42, 5, 99};

    @TempDir
    static Path dir;

    @ParameterizedTest(name = "tp={0}, {1} heads, {2} kv heads")
    @CsvSource({"1, 8, 2", "2, 8, 2", "4, 8, 2", "3, 6, 1"})
    void aForwardIsOneAllReducePerEmbeddingAttentionAndMlpAndGreedyMovesOnlyTheWinners(int tp, int heads, int kv)
            throws Exception {
        Path model = RandomModels.write(dir.resolve("counts-" + heads + "-" + kv),
                RandomModels.Spec.llama(heads, kv, 101));
        int layers = 2;
        List<long[]> counts = InMemoryGroup.run(tp, comm -> {
            try (CpuBackend backend = new CpuBackend(1); ModelDirectory d = ModelDirectory.open(model)) {
                ModelConfig config = ModelConfig.read(d);
                try (DecoderModel m = DecoderModel.load(d, config, backend, comm, 16)) {
                    CommStats.Snapshot before = comm.stats().snapshot();
                    m.forward(PROMPT, 0);
                    CommStats.Snapshot forward = comm.stats().since(before);
                    CommStats.Snapshot beforeHead = comm.stats().snapshot();
                    m.greedyNext();
                    CommStats.Snapshot head = comm.stats().since(beforeHead);
                    return new long[] {forward.count(CollectiveOp.ALL_REDUCE), forward.count(),
                            head.count(CollectiveOp.ALL_GATHER), head.count(), head.summary(CollectiveOp.ALL_GATHER)
                            .payloadBytes()};
                }
            }
        });
        for (long[] c : counts) {
            assertEquals(1 + 2 * layers, c[0], "all_reduce: one per embedding, attention and MLP");
            assertEquals(c[0], c[1], "nothing else in the forward");
            assertEquals(1, c[2], "greedy: one all_gather of the winners");
            assertEquals(1, c[3]);
            assertEquals(2L * tp * Float.BYTES, c[4], "two numbers per rank, not the logits");
        }
    }

    @ParameterizedTest(name = "tp={0}")
    @CsvSource({"1", "2", "4"})
    void decodingThroughTheKvCacheGivesTheTokensOfRecomputingTheWholeSequence(int tp) throws Exception {
        Path model = RandomModels.write(dir.resolve("cache"), RandomModels.Spec.llama(8, 2, 101));
        List<int[][]> results = InMemoryGroup.run(tp, comm -> {
            try (CpuBackend backend = new CpuBackend(1); ModelDirectory d = ModelDirectory.open(model)) {
                ModelConfig config = ModelConfig.read(d);
                int steps = 8;
                int[] cached;
                try (DecoderModel m = DecoderModel.load(d, config, backend, comm, PROMPT.length + steps)) {
                    cached = new Generator(m, backend, comm).run(PROMPT,
                            new Generator.Settings(steps, true, null, List.of(), false), id -> { }).tokens();
                }
                int[] recomputed = new int[steps];
                int[] sequence = Arrays.copyOf(PROMPT, PROMPT.length + steps);
                for (int s = 0; s < steps; s++) {
                    // A fresh model each step: no cache, the whole sequence from position 0.
                    try (DecoderModel m = DecoderModel.load(d, config, backend, comm, PROMPT.length + steps)) {
                        m.forward(Arrays.copyOf(sequence, PROMPT.length + s), 0);
                        recomputed[s] = m.greedyNext();
                        sequence[PROMPT.length + s] = recomputed[s];
                    }
                }
                return new int[][] {cached, recomputed};
            }
        });
        for (int[][] r : results) {
            assertArrayEquals(r[1], r[0], "KV-cache decode vs full recomputation");
            assertArrayEquals(results.get(0)[0], r[0], "every rank continues with the same tokens");
        }
    }

    @Test
    void sampledTokensAreTheSameOnEveryRankAndRepeatWithTheSeed() throws Exception {
        Path model = RandomModels.write(dir.resolve("sample"), RandomModels.Spec.llama(8, 2, 101));
        List<int[]> runs = InMemoryGroup.run(2, comm -> {
            try (CpuBackend backend = new CpuBackend(1); ModelDirectory d = ModelDirectory.open(model)) {
                ModelConfig config = ModelConfig.read(d);
                int[][] twice = new int[2][];
                for (int i = 0; i < 2; i++) {
                    try (DecoderModel m = DecoderModel.load(d, config, backend, comm, 32)) {
                        twice[i] = new Generator(m, backend, comm).run(PROMPT, new Generator.Settings(10, true,
                                new Sampler(1.5, 20, 0.95, 1234), List.of(), false), id -> { }).tokens();
                    }
                }
                assertArrayEquals(twice[0], twice[1], "the same seed, the same tokens");
                return twice[0];
            }
        });
        assertArrayEquals(runs.get(0), runs.get(1));
        assertEquals(10, runs.get(0).length);
    }

    @Test
    void generationStopsAtEosUnlessIgnored() throws Exception {
        Path model = RandomModels.write(dir.resolve("eos"), RandomModels.Spec.llama(8, 2, 101));
        InMemoryGroup.run(1, comm -> {
            try (CpuBackend backend = new CpuBackend(1); ModelDirectory d = ModelDirectory.open(model)) {
                ModelConfig config = ModelConfig.read(d);
                int[] free;
                try (DecoderModel m = DecoderModel.load(d, config, backend, comm, 32)) {
                    free = new Generator(m, backend, comm).run(PROMPT,
                            new Generator.Settings(6, true, null, List.of(), false), id -> { }).tokens();
                }
                // Declare the third greedy token an EOS: generation must end right after emitting it.
                try (DecoderModel m = DecoderModel.load(d, config, backend, comm, 32)) {
                    Generator.Outcome o = new Generator(m, backend, comm).run(PROMPT,
                            new Generator.Settings(6, false, null, List.of(free[2]), false), id -> { });
                    int firstEos = 0;
                    while (free[firstEos] != free[2]) {
                        firstEos++;
                    }
                    assertArrayEquals(Arrays.copyOf(free, firstEos + 1), o.tokens());
                    assertTrue(o.stoppedAtEos());
                    // One time per decode step, and together they are the decode time.
                    assertEquals(firstEos, o.decodeSteps());
                    assertEquals(o.decodeSteps(), o.stepNanos().length);
                    assertEquals(o.decodeNanos(), Arrays.stream(o.stepNanos()).sum());
                }
                return null;
            }
        });
    }

    @Test
    void promptLogitsAreTheSameWhateverTheTp() throws Exception {
        Path model = RandomModels.write(dir.resolve("logits"), RandomModels.Spec.llama(8, 2, 101));
        float[] one = promptLogits(model, 1);
        for (int tp : new int[] {2, 4}) {
            float[] many = promptLogits(model, tp);
            double max = 0;
            double scale = 0;
            for (int i = 0; i < one.length; i++) {
                max = Math.max(max, Math.abs(one[i] - many[i]));
                scale = Math.max(scale, Math.abs(one[i]));
            }
            // Only the summation order differs between tp values: differences of a few float roundings.
            assertTrue(max < 1e-4 * scale, "tp " + tp + ": max |Δ| " + max + " vs logits up to " + scale);
        }
    }

    @ParameterizedTest(name = "tied={0}")
    @CsvSource({"false", "true"})
    void aDecodeStepReadsEveryWeightButTheEmbeddingTableAndTheCacheSoFar(boolean tied) throws Exception {
        Path model = RandomModels.write(dir.resolve("bytes-" + tied), RandomModels.Spec.llama(8, 2, 101).tied(tied));
        InMemoryGroup.run(1, comm -> {
            try (CpuBackend backend = new CpuBackend(1); ModelDirectory d = ModelDirectory.open(model)) {
                ModelConfig c = ModelConfig.read(d);
                try (DecoderModel m = DecoderModel.load(d, c, backend, comm, 16)) {
                    long table = (long) c.vocabSize() * c.hiddenSize();
                    // Untied: the lookup reads one row of the table, the head all of its own. Tied: the head
                    // reads the one table, the lookup a row of it again (already counted).
                    long weights = tied ? c.parameterCount() : c.parameterCount() - table + c.hiddenSize();
                    int positions = 11;
                    long cache = (long) c.numLayers() * positions * 2 * c.numKvHeads() * c.headDim();
                    assertEquals(Float.BYTES * (weights + cache), m.decodeBytesPerToken(positions));
                    assertEquals(Float.BYTES * c.parameterCount(), m.weightBytes(), "what the rank holds");
                }
            }
            return null;
        });
    }

    private static float[] promptLogits(Path model, int tp) throws Exception {
        return InMemoryGroup.run(tp, comm -> {
            try (CpuBackend backend = new CpuBackend(1); ModelDirectory d = ModelDirectory.open(model)) {
                ModelConfig config = ModelConfig.read(d);
                try (DecoderModel m = DecoderModel.load(d, config, backend, comm, 16);
                     Tensor out = Tensor.allocateHost(Shape.of(PROMPT.length, config.vocabSize()), DType.F32)) {
                    m.forward(PROMPT, 0);
                    m.logits(out);
                    return out.toFloatArray();
                }
            }
        }).get(0);
    }
}
