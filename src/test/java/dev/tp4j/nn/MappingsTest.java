package dev.tp4j.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.tp4j.backend.Activation;
import dev.tp4j.backend.Backend;
import dev.tp4j.backend.cpu.CpuBackend;
import dev.tp4j.comm.CollectiveOp;
import dev.tp4j.comm.CommStats;
import dev.tp4j.task.seeded.SeededLayers;
import dev.tp4j.task.seeded.SeededWeights;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Partition;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import dev.tp4j.backend.ForwardingBackend;
import dev.tp4j.testing.InMemoryGroup;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The four mappings: what each moves, and that steady-state forwards allocate no native memory. */
class MappingsTest {

    @ParameterizedTest(name = "tp={0}")
    @ValueSource(ints = {1, 2, 3, 4})
    void gatherPutsEachRanksColumnBlockInItsColumnsWithOneAllGather(int tp) throws Exception {
        int tokens = 3;
        Partition features = new Partition(10, tp); // uneven for tp 3 and 4
        List<float[]> results = InMemoryGroup.run(tp, comm -> {
            try (CpuBackend backend = new CpuBackend(1); Mappings mappings = new Mappings(backend, comm);
                 Tensor local = Tensor.allocateHost(Shape.of(tokens, features.count(comm.rank())), DType.F32);
                 Tensor y = Tensor.allocateHost(Shape.of(tokens, features.size()), DType.F32)) {
                for (int i = 0; i < tokens; i++) {
                    for (int j = 0; j < local.cols(); j++) {
                        local.set(i, j, 100 * i + features.intOffset(comm.rank()) + j); // its value says its place
                    }
                }
                CommStats.Snapshot before = comm.stats().snapshot();
                mappings.gatherFromTensorParallelRegion(local, y, features);
                assertEquals(1, comm.stats().since(before).count(CollectiveOp.ALL_GATHER));
                assertEquals(1, comm.stats().since(before).count());
                return y.toFloatArray();
            }
        });
        float[] expected = new float[tokens * 10];
        for (int i = 0; i < tokens; i++) {
            for (int j = 0; j < 10; j++) {
                expected[i * 10 + j] = 100 * i + j;
            }
        }
        for (float[] y : results) {
            assertArrayEquals(expected, y);
        }
    }

    @ParameterizedTest(name = "tp={0}")
    @ValueSource(ints = {1, 3})
    void scatterIsAViewOfTheRanksColumnsAndReduceIsOneAllReduce(int tp) throws Exception {
        Partition features = new Partition(7, tp);
        InMemoryGroup.run(tp, comm -> {
            try (CpuBackend backend = new CpuBackend(1); Mappings mappings = new Mappings(backend, comm);
                 Tensor x = Tensor.allocateHost(Shape.of(2, 7), DType.F32)) {
                x.set(1, features.intOffset(comm.rank()), 42f);
                CommStats.Snapshot before = comm.stats().snapshot();
                assertSame(x, mappings.copyToTensorParallelRegion(x));
                Tensor xr = mappings.scatterToTensorParallelRegion(x, features);
                assertEquals(features.count(comm.rank()), xr.cols());
                assertEquals(42f, xr.get(1, 0), "a window on x's memory, not a copy");
                assertEquals(0, comm.stats().since(before).count(), "copy and scatter move nothing");
                mappings.reduceFromTensorParallelRegion(x);
                assertEquals(1, comm.stats().since(before).count(CollectiveOp.ALL_REDUCE));
                assertEquals(1, comm.stats().since(before).count());
                return null;
            }
        });
    }

    @ParameterizedTest(name = "tp={0}")
    @ValueSource(ints = {1, 2, 3})
    void repeatedForwardsOfOneTokenCountAllocateNothing(int tp) throws Exception {
        SeededWeights w = new SeededWeights(5);
        List<long[]> counts = InMemoryGroup.run(tp, comm -> {
            CountingBackend backend = new CountingBackend(new CpuBackend(1));
            SeededLayers layers = new SeededLayers(backend, comm, w);
            try (ColumnParallelLinear gathered = layers.column("g", 12, 11, true, true);
                 ParallelMlp mlp = layers.mlp("m", 12, 13, Activation.SILU, true, true);
                 Tensor x = Tensor.allocateHost(Shape.of(4, 12), DType.F32);
                 Tensor gy = gathered.allocateOutput(4);
                 Tensor my = Tensor.allocateHost(Shape.of(4, 12), DType.F32)) {
                gathered.forward(x, gy);
                mlp.forward(x, my);
                long afterFirst = backend.allocations;
                for (int i = 0; i < 5; i++) {
                    gathered.forward(x, gy);
                    mlp.forward(x, my);
                }
                long afterSteady = backend.allocations;
                try (Tensor x2 = Tensor.allocateHost(Shape.of(2, 12), DType.F32);
                     Tensor gy2 = Tensor.allocateHost(Shape.of(2, 11), DType.F32)) {
                    gathered.forward(x2, gy2); // another token count: its workspaces are sized anew, once
                }
                return new long[] {afterFirst, afterSteady, backend.allocations};
            }
        });
        for (long[] c : counts) {
            assertEquals(c[0], c[1], "allocations after the first forward vs after five more");
            assertEquals(c[1] + 2, c[2], "a new token count re-sizes Y_r and the gather buffer, once each");
        }
    }

    /** A CPU backend that counts what it allocates. */
    private static final class CountingBackend extends ForwardingBackend {
        long allocations;

        CountingBackend(Backend inner) {
            super(inner);
        }

        @Override
        public Tensor allocate(Shape shape, DType dtype) {
            allocations++;
            return inner.allocate(shape, dtype);
        }
    }
}
