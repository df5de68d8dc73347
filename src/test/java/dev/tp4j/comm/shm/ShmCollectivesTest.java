package dev.tp4j.comm.shm;

import dev.tp4j.testutil.CollectiveData;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.comm.CollectiveOp;
import dev.tp4j.comm.CommStats;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Partition;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.nio.DoubleBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every collective for tp 1–4 over shared memory, on sizes from empty through fewer elements than ranks
 * to primes, with the default slot and with slots so small that every collective runs in many segments.
 * Sums must be bitwise the rank-order float32 sum {@code ((x₀ + x₁) + x₂) + x₃} on every rank; copies
 * must be exact; no file may stay behind.
 */
@Timeout(120)
class ShmCollectivesTest {
    private static final int[] SIZES = {0, 1, 2, 3, 7, 13, 1021, 100_003};
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    @ParameterizedTest(name = "tp={0}, slot {1} bytes")
    @CsvSource({"1, 4194304", "2, 4194304", "3, 4194304", "4, 4194304",
                "2, 4096", "3, 4096", "4, 4096", "2, 128", "3, 192", "4, 256"})
    void everyCollectiveIsTheRankOrderResult(int tp, int slotBytes) throws Exception {
        int[] sizes = slotBytes < 1024 ? Arrays.copyOf(SIZES, SIZES.length - 1) : SIZES; // keep the tiny slots quick
        float[][][] inputs = CollectiveData.inputs(tp, sizes, 12);
        try (ShmHarness shm = new ShmHarness(slotBytes)) {
            shm.run(tp, TIMEOUT, (comm, store) -> {
                if (tp > 1) {
                    assertTrue(!java.nio.file.Files.exists(comm.path()), "the file is unlinked once all ranks mapped it");
                    assertTrue(comm.describe().startsWith("shared memory (" + ShmRegion.directory() + ", " + tp + " ranks)"),
                            comm.describe());
                }
                runAll(comm, inputs, sizes);
                return null;
            });
        }
        assertEquals(List.of(), ShmHarness.leftovers(), "files left in " + ShmRegion.directory());
    }

    @ParameterizedTest(name = "tp={0}")
    @CsvSource({"2", "3", "4"})
    void aTensorLargerThanTheDefaultSlotIsSegmented(int tp) throws Exception {
        int size = ShmCommunicator.DEFAULT_SLOT_BYTES / Float.BYTES * 2 + 12_345;
        float[][][] inputs = CollectiveData.inputs(tp, new int[] {size}, 12);
        try (ShmHarness shm = new ShmHarness(ShmCommunicator.DEFAULT_SLOT_BYTES)) {
            shm.run(tp, TIMEOUT, (comm, store) -> {
                try (Tensor buffer = Tensor.hostOf(Shape.of(size), inputs[0][comm.rank()])) {
                    comm.allReduce(buffer);
                    CollectiveData.assertBitwiseEqual(rankOrderSum(inputs[0], 0, size), buffer.toFloatArray(), "all_reduce of " + size);
                }
                Partition chunks = new Partition(size, tp);
                try (Tensor input = Tensor.hostOf(Shape.of(size), inputs[0][comm.rank()]);
                     Tensor output = Tensor.allocateHost(Shape.of(chunks.count(comm.rank())), DType.F32)) {
                    comm.reduceScatter(input, output);
                    CollectiveData.assertBitwiseEqual(rankOrderSum(inputs[0], chunks.intOffset(comm.rank()), chunks.intCount(comm.rank())),
                            output.toFloatArray(), "reduce_scatter of " + size);
                }
                return null;
            });
        }
    }

    private static void runAll(ShmCommunicator comm, float[][][] inputs, int[] sizes) {
        int rank = comm.rank();
        int n = comm.worldSize();
        List<CollectiveOp> expectedOps = new ArrayList<>();
        List<Long> expectedSent = new ArrayList<>();
        for (int s = 0; s < sizes.length; s++) {
            int size = sizes[s];
            float[][] all = inputs[s];
            Partition chunks = new Partition(size, n);

            try (Tensor buffer = hostOf(all[rank])) {
                comm.allReduce(buffer);
                CollectiveData.assertBitwiseEqual(rankOrderSum(all, 0, size), buffer.toFloatArray(), "all_reduce of " + size + " on rank " + rank);
            }
            expectedOps.add(CollectiveOp.ALL_REDUCE);
            expectedSent.add(n == 1 ? 0L : 4L * size); // all but its chunk in, then its reduced chunk out

            try (Tensor input = hostOf(all[rank]);
                 Tensor output = Tensor.allocateHost(Shape.of(chunks.count(rank)), DType.F32)) {
                comm.reduceScatter(input, output);
                CollectiveData.assertBitwiseEqual(rankOrderSum(all, chunks.intOffset(rank), chunks.intCount(rank)), output.toFloatArray(),
                        "reduce_scatter of " + size + " on rank " + rank);
                assertArrayEquals(all[rank], input.toFloatArray(), "reduce_scatter must leave its input alone");
            }
            expectedOps.add(CollectiveOp.REDUCE_SCATTER);
            expectedSent.add(n == 1 ? 0L : 4L * (size - chunks.count(rank)));

            long[] partitionCounts = new long[n];
            long[] skewedCounts = new long[n];
            for (int r = 0; r < n; r++) {
                partitionCounts[r] = chunks.count(r);
                skewedCounts[r] = r == n - 1 ? size : size / (r + 2);
            }
            for (long[] counts : List.of(partitionCounts, skewedCounts)) {
                float[] local = Arrays.copyOf(all[rank], (int) counts[rank]);
                float[] expected = CollectiveData.concatPrefixes(all, counts);
                try (Tensor localT = hostOf(local);
                     Tensor gathered = Tensor.allocateHost(Shape.of(expected.length), DType.F32)) {
                    comm.allGather(localT, gathered, counts);
                    assertArrayEquals(expected, gathered.toFloatArray(), "all_gather " + Arrays.toString(counts) + " on rank " + rank);
                }
                expectedOps.add(CollectiveOp.ALL_GATHER);
                expectedSent.add(n == 1 ? 0L : 4L * counts[rank]);
            }

            for (int root = 0; root < n; root++) {
                try (Tensor buffer = rank == root ? hostOf(all[root]) : Tensor.allocateHost(Shape.of(size), DType.F32)) {
                    comm.broadcast(buffer, root);
                    assertArrayEquals(all[root], buffer.toFloatArray(), "broadcast of " + size + " from " + root + " on rank " + rank);
                }
                expectedOps.add(CollectiveOp.BROADCAST);
                expectedSent.add(n == 1 || rank != root ? 0L : 4L * size);
            }

            comm.barrier();
            expectedOps.add(CollectiveOp.BARRIER);
            expectedSent.add(0L);
        }
        gatherNonFloat(comm);
        expectedOps.add(CollectiveOp.ALL_GATHER);
        expectedSent.add(null);

        // Per op: one count per collective, and the bytes sent summed where every call's share is known.
        CommStats.Snapshot totals = comm.stats().snapshot();
        assertEquals(expectedOps.size(), totals.count(), "one stats record per collective");
        for (CollectiveOp op : CollectiveOp.values()) {
            long count = 0;
            Long sent = 0L;
            for (int i = 0; i < expectedOps.size(); i++) {
                if (expectedOps.get(i) == op) {
                    count++;
                    sent = sent == null || expectedSent.get(i) == null ? null : sent + expectedSent.get(i);
                }
            }
            assertEquals(count, totals.count(op), "count of " + op);
            if (sent != null) {
                assertEquals(sent, totals.summary(op).sentBytes(), "bytes written by " + op);
            }
            assertTrue(totals.summary(op).nanos() >= 0);
        }
    }

    /** An F64 all_gather of an odd byte count per rank (5 × 8 bytes, 40 = not a multiple of a tiny slot). */
    private static void gatherNonFloat(ShmCommunicator comm) {
        int n = comm.worldSize();
        int per = 5;
        try (Tensor local = Tensor.allocateHost(Shape.of(per), DType.F64);
             Tensor gathered = Tensor.allocateHost(Shape.of((long) n * per), DType.F64)) {
            DoubleBuffer mine = local.byteBuffer().asDoubleBuffer();
            for (int i = 0; i < per; i++) {
                mine.put(i, comm.rank() * 1000.0 + i + 0.25);
            }
            comm.allGather(local, gathered);
            DoubleBuffer out = gathered.byteBuffer().asDoubleBuffer();
            for (int r = 0; r < n; r++) {
                for (int i = 0; i < per; i++) {
                    assertEquals(r * 1000.0 + i + 0.25, out.get(r * per + i), "F64 all_gather element " + (r * per + i));
                }
            }
        }
    }

    /** {@code ((x₀ + x₁) + x₂) + …} in float32, element by element. */
    static float[] rankOrderSum(float[][] all, int offset, int count) {
        float[] sum = new float[count];
        for (int i = 0; i < count; i++) {
            float s = all[0][offset + i];
            for (int r = 1; r < all.length; r++) {
                s += all[r][offset + i];
            }
            sum[i] = s;
        }
        return sum;
    }

    private static Tensor hostOf(float[] values) {
        return Tensor.hostOf(Shape.of(values.length), values);
    }
}
