package dev.tp4j.comm.tcp;

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
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every collective, for tp 1–4, on sizes from empty through fewer elements than ranks to a prime
 * around 100k, against a float64 reference. Sums may differ from the reference by the float32 rounding
 * of n summands, (n-1)·2⁻²⁴·Σ|x|; copies (gather, broadcast) must be exact, and all_reduce must leave
 * the same bits on every rank.
 */
@Timeout(60)
class TcpRingCollectivesTest {
    private static final int[] SIZES = {0, 1, 2, 3, 7, 13, 100_003};
    private static final Duration TIMEOUT = Duration.ofSeconds(20);
    private static final double UNIT_ROUNDOFF = Math.scalb(1.0, -24);

    /** What one rank brings back for the cross-rank checks. */
    record RankResult(List<float[]> allReduced) {
    }

    @ParameterizedTest(name = "tp={0}")
    @ValueSource(ints = {1, 2, 3, 4})
    void everyCollectiveMatchesTheReference(int tp) throws Exception {
        float[][][] inputs = CollectiveData.inputs(tp, SIZES, 6);
        List<RankResult> results;
        try (RingHarness ring = new RingHarness()) {
            results = ring.run(tp, TIMEOUT, (comm, store) -> runAll(comm, inputs));
        }
        for (int s = 0; s < SIZES.length; s++) {
            float[] first = results.get(0).allReduced().get(s);
            for (int r = 1; r < tp; r++) {
                CollectiveData.assertBitwiseEqual(first, results.get(r).allReduced().get(s),
                        "all_reduce of " + SIZES[s] + " elements, rank 0 vs rank " + r);
            }
        }
    }

    private static RankResult runAll(TcpRingCommunicator comm, float[][][] inputs) {
        int rank = comm.rank();
        int n = comm.worldSize();
        List<CollectiveOp> expectedOps = new ArrayList<>();
        List<Long> expectedSent = new ArrayList<>();
        List<float[]> allReduced = new ArrayList<>();
        for (int s = 0; s < SIZES.length; s++) {
            int size = SIZES[s];
            float[][] all = inputs[s];
            Partition chunks = new Partition(size, n);

            try (Tensor buffer = hostOf(all[rank])) {
                comm.allReduce(buffer);
                float[] got = buffer.toFloatArray();
                assertCloseToSum(got, all, 0, "all_reduce of " + size + " on rank " + rank);
                allReduced.add(got);
            }
            expectedOps.add(CollectiveOp.ALL_REDUCE);
            // Each rank sends every chunk but one in each phase: all but r+1, then all but r+2.
            expectedSent.add(n == 1 ? 0L
                    : 4L * (2L * size - chunks.count((rank + 1) % n) - chunks.count((rank + 2) % n)));

            try (Tensor input = hostOf(all[rank]);
                 Tensor output = Tensor.allocateHost(Shape.of(chunks.count(rank)), DType.F32)) {
                comm.reduceScatter(input, output);
                assertCloseToSum(output.toFloatArray(), all, chunks.intOffset(rank), "reduce_scatter of " + size + " on rank " + rank);
                assertArrayEquals(all[rank], input.toFloatArray(), "reduce_scatter must leave its input alone");
            }
            expectedOps.add(CollectiveOp.REDUCE_SCATTER);
            expectedSent.add(null);

            // all_gather with the partition's counts (some zero when size < n), equal counts, and skewed counts.
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
                expectedSent.add(4L * (expected.length - counts[(rank + 1) % n]) * (n == 1 ? 0 : 1));
            }
            try (Tensor localT = hostOf(all[rank]);
                 Tensor gathered = Tensor.allocateHost(Shape.of((long) n * size), DType.F32)) {
                comm.allGather(localT, gathered);
                long[] equal = new long[n];
                Arrays.fill(equal, size);
                assertArrayEquals(CollectiveData.concatPrefixes(all, equal), gathered.toFloatArray(), "all_gather, equal counts");
            }
            expectedOps.add(CollectiveOp.ALL_GATHER);
            expectedSent.add(null);

            for (int root = 0; root < n; root++) {
                try (Tensor buffer = rank == root ? hostOf(all[root]) : Tensor.allocateHost(Shape.of(size), DType.F32)) {
                    comm.broadcast(buffer, root);
                    assertArrayEquals(all[root], buffer.toFloatArray(), "broadcast of " + size + " from " + root + " on rank " + rank);
                }
                expectedOps.add(CollectiveOp.BROADCAST);
                // Everyone but the end of the chain (root-1) forwards the whole buffer.
                expectedSent.add(n == 1 || (rank + 1) % n == root ? 0L : 4L * size);
            }

            comm.barrier();
            expectedOps.add(CollectiveOp.BARRIER);
            expectedSent.add(n == 1 ? 0L : n - 1L);
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
                assertEquals(sent, totals.summary(op).sentBytes(), "bytes sent by " + op);
            }
            assertTrue(totals.summary(op).nanos() >= 0);
        }
        return new RankResult(allReduced);
    }

    /** An F64 all_gather: byte offsets must scale with the element size, not assume four bytes. */
    private static void gatherNonFloat(TcpRingCommunicator comm) {
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

    private static void assertCloseToSum(float[] got, float[][] all, int offset, String what) {
        int n = all.length;
        for (int i = 0; i < got.length; i++) {
            double sum = 0;
            double magnitude = 0;
            for (float[] rankInput : all) {
                sum += rankInput[offset + i];
                magnitude += Math.abs(rankInput[offset + i]);
            }
            double tolerance = (n - 1) * UNIT_ROUNDOFF * magnitude;
            if (Math.abs(got[i] - sum) > tolerance) {
                throw new AssertionError(what + ": element " + (offset + i) + " is " + got[i] + ", float64 reference "
                        + sum + " (tolerance " + tolerance + ")");
            }
        }
    }

    private static Tensor hostOf(float[] values) {
        return Tensor.hostOf(Shape.of(values.length), values);
    }
}
