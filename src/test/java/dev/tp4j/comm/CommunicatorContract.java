package dev.tp4j.comm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tp4j.CommunicationException;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Partition;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import dev.tp4j.testutil.CollectiveData;
import dev.tp4j.testutil.CommGroup;
import dev.tp4j.testutil.Member;
import dev.tp4j.testutil.Poll;
import dev.tp4j.testutil.RankThreads;
import dev.tp4j.testutil.ThreadProbe;
import java.nio.DoubleBuffer;
import java.nio.ShortBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What every {@link Communicator} promises, checked against each implementation: a subclass says how to
 * open a group of ranks (threads of this JVM, see {@link CommGroup}) and which promises beyond the
 * interface's the implementation keeps ({@link Capability}); a promise it does not keep is skipped with
 * its reason, never passed in silence.
 *
 * <p>The contract: every collective for tp 1–4 on sizes from empty through fewer elements than ranks to
 * primes, with uneven partitions and skewed all_gather counts, broadcast from every root, and a barrier;
 * copies are exact, sums are within float32 rounding of the float64 sum and bitwise the same on every
 * rank; one stats record per collective. Then the failures: a rank that closes mid-job, a rank that never
 * joins a collective, a communicator closed under a running collective, and misuse.
 */
public abstract class CommunicatorContract {
    /** Element counts: empty, fewer than ranks, odd, primes, and one large enough to be split up. */
    protected static final int[] SIZES = {0, 1, 2, 3, 7, 13, 1021, 100_003};
    /** Rendezvous and no-progress limit where nothing is meant to time out. */
    protected static final Duration TIMEOUT = Duration.ofSeconds(30);
    /** The limit for the failure cases: a survivor must notice a lost rank in a tenth of it. */
    private static final Duration FAILURE_TIMEOUT = Duration.ofSeconds(20);
    /** The no-progress limit when a rank stays away on purpose: the others must give up after it. */
    private static final Duration SILENT_TIMEOUT = Duration.ofMillis(800);

    // ------------------------------------------------------------------------ what a subclass provides

    /** Opens a group of {@code worldSize} ranks whose collectives give up after {@code timeout} without progress. */
    protected abstract CommGroup<? extends Communicator> open(int worldSize, Duration timeout) throws Exception;

    /** Whether an implementation keeps a promise here; when it does not, why (the skipped test says so). */
    protected record Capability(boolean supported, String reason) {
        public static final Capability SUPPORTED = new Capability(true, null);

        public static Capability unsupported(String reason) {
            return new Capability(false, reason);
        }
    }

    /** Whether a group of {@code worldSize} ranks can run here (NCCL needs a device per rank). */
    protected Capability groupsOf(int worldSize) {
        return Capability.SUPPORTED;
    }

    /** Sums bitwise equal to the rank-order float32 sum {@code ((x₀ + x₁) + x₂) + …}, not only close to it. */
    protected abstract Capability rankOrderSums();

    /** all_gather and broadcast move tensors of any dtype byte for byte (only sums need F32). */
    protected abstract Capability copiesOfAnyDType();

    /** Misuse (strided views, F16 sums, counts that do not fit, a root that is no rank) fails before any traffic. */
    protected abstract Capability argumentChecks();

    /** A survivor's next collective names a rank that closed its communicator, fast; see {@link #closedPeerCause()}. */
    protected abstract Capability lostPeerDetection();

    /** What follows "rank N lost during all_reduce: " when rank N closed its communicator. */
    protected String closedPeerCause() {
        throw new AssertionError(getClass().getSimpleName() + " detects lost peers but does not say how it names one");
    }

    /**
     * Every cause a survivor may give for a closed peer: {@link #closedPeerCause()} alone, unless the
     * implementation composes links that each see the close their own way (whichever saw it first is named).
     */
    protected List<String> closedPeerCauses() {
        return List.of(closedPeerCause());
    }

    /** When a rank never joins a collective, the others give up after the timeout naming who is not answering. */
    protected abstract Capability silentPeerDiagnosis();

    /** {@link Communicator#close()} from another thread ends a collective that waits for a peer, at once. */
    protected abstract Capability closeDuringCollective();

    /** The element counts the collective tests run (a subclass with a slow configuration may leave some out). */
    protected int[] sizes() {
        return SIZES;
    }

    /**
     * The bytes rank {@code call.rank()} puts on its links for {@code call}, as {@link CommStats} must record
     * them; null where the implementation's traffic is not modelled by its test.
     */
    protected Long expectedSentBytes(Call call) {
        return null;
    }

    /**
     * Implementation-specific wording of the silent-peer diagnoses, beyond what the contract checks;
     * {@code messages.get(r)} is rank r's (null for the silent rank).
     */
    protected void assertSilentPeerDiagnoses(int silentRank, List<String> messages) {
    }

    /** One collective as a rank ran it in {@link #everyCollectiveMatchesItsDefinitionOnEveryRank}. */
    protected record Call(CollectiveOp op, int rank, int worldSize, int elements, long[] counts, int root) {
        /** The partition of {@code elements} over the ranks (the chunks of all_reduce and reduce_scatter). */
        public Partition chunks() {
            return new Partition(elements, worldSize);
        }
    }

    // ------------------------------------------------------------------------ the collectives

    @ParameterizedTest(name = "tp={0}")
    @ValueSource(ints = {1, 2, 3, 4})
    @Timeout(180)
    void everyCollectiveMatchesItsDefinitionOnEveryRank(int tp) throws Exception {
        assume(groupsOf(tp));
        int[] sizes = sizes();
        float[][][] inputs = CollectiveData.inputs(tp, sizes, 12);
        List<List<float[]>> allReduced = onEveryRank(tp, TIMEOUT, m -> everyCollective(m, inputs, sizes));
        for (int s = 0; s < sizes.length; s++) {
            for (int r = 1; r < tp; r++) {
                CollectiveData.assertBitwiseEqual(allReduced.get(0).get(s), allReduced.get(r).get(s),
                        "all_reduce of " + sizes[s] + " elements, rank 0 vs rank " + r);
            }
        }
    }

    /** Runs every collective on every size, checks each result and the stats; returns the all_reduce results. */
    private List<float[]> everyCollective(Member<? extends Communicator> m, float[][][] inputs, int[] sizes) throws Exception {
        Communicator comm = m.comm();
        int rank = comm.rank();
        int n = comm.worldSize();
        CommStats.Snapshot before = comm.stats().snapshot();
        List<Call> calls = new ArrayList<>();
        List<float[]> allReduced = new ArrayList<>();
        for (int s = 0; s < sizes.length; s++) {
            int size = sizes[s];
            float[][] all = inputs[s];
            Partition chunks = new Partition(size, n);

            try (Tensor buffer = m.upload(all[rank])) {
                comm.allReduce(buffer);
                float[] got = m.download(buffer);
                CollectiveData.assertCloseToSum(got, all, 0, "all_reduce of " + size + " on rank " + rank);
                allReduced.add(got);
            }
            calls.add(new Call(CollectiveOp.ALL_REDUCE, rank, n, size, null, -1));

            try (Tensor input = m.upload(all[rank]);
                 Tensor output = m.allocate(Shape.of(chunks.count(rank)), DType.F32)) {
                comm.reduceScatter(input, output);
                CollectiveData.assertCloseToSum(m.download(output), all, chunks.intOffset(rank),
                        "reduce_scatter of " + size + " on rank " + rank);
                assertArrayEquals(all[rank], m.download(input), "reduce_scatter must leave its input alone");
            }
            calls.add(new Call(CollectiveOp.REDUCE_SCATTER, rank, n, size, null, -1));

            // all_gather with the partition's counts (some zero when size < n), skewed counts, equal counts.
            long[] partitionCounts = new long[n];
            long[] skewedCounts = new long[n];
            long[] equalCounts = new long[n];
            for (int r = 0; r < n; r++) {
                partitionCounts[r] = chunks.count(r);
                skewedCounts[r] = r == n - 1 ? size : size / (r + 2);
                equalCounts[r] = size;
            }
            for (long[] counts : List.of(partitionCounts, skewedCounts, equalCounts)) {
                float[] expected = CollectiveData.concatPrefixes(all, counts);
                try (Tensor local = m.upload(Arrays.copyOf(all[rank], (int) counts[rank]));
                     Tensor gathered = m.allocate(Shape.of(expected.length), DType.F32)) {
                    if (counts == equalCounts) {
                        comm.allGather(local, gathered); // the interface's overload for equal counts
                    } else {
                        comm.allGather(local, gathered, counts);
                    }
                    assertArrayEquals(expected, m.download(gathered), "all_gather " + Arrays.toString(counts) + " on rank " + rank);
                }
                calls.add(new Call(CollectiveOp.ALL_GATHER, rank, n, expected.length, counts, -1));
            }

            for (int root = 0; root < n; root++) {
                try (Tensor buffer = rank == root ? m.upload(all[root]) : m.allocate(Shape.of(size), DType.F32)) {
                    comm.broadcast(buffer, root);
                    assertArrayEquals(all[root], m.download(buffer), "broadcast of " + size + " from " + root + " on rank " + rank);
                }
                calls.add(new Call(CollectiveOp.BROADCAST, rank, n, size, null, root));
            }

            comm.barrier();
            calls.add(new Call(CollectiveOp.BARRIER, rank, n, 0, null, -1));
        }
        assertStatsRecord(comm.stats().since(before), calls);
        return allReduced;
    }

    /** One record per collective, per op; the bytes sent summed where the subclass models every call's share. */
    private void assertStatsRecord(CommStats.Snapshot ran, List<Call> calls) {
        assertEquals(calls.size(), ran.count(), "one stats record per collective");
        for (CollectiveOp op : CollectiveOp.values()) {
            long count = 0;
            Long sent = 0L;
            for (Call call : calls) {
                if (call.op() == op) {
                    count++;
                    Long share = expectedSentBytes(call);
                    sent = sent == null || share == null ? null : sent + share;
                }
            }
            assertEquals(count, ran.count(op), "count of " + op);
            if (sent != null) {
                assertEquals(sent, ran.summary(op).sentBytes(), "bytes sent by " + op);
            }
            assertTrue(ran.summary(op).nanos() >= 0, op + " took negative time: " + ran.summary(op));
        }
    }

    @ParameterizedTest(name = "tp={0}")
    @ValueSource(ints = {1, 2, 3, 4})
    @Timeout(120)
    void sumsAreBitwiseTheRankOrderFloatSum(int tp) throws Exception {
        assume(groupsOf(tp));
        assume(rankOrderSums());
        int[] sizes = sizes();
        float[][][] inputs = CollectiveData.inputs(tp, sizes, 12);
        onEveryRank(tp, TIMEOUT, m -> {
            Communicator comm = m.comm();
            int rank = comm.rank();
            for (int s = 0; s < sizes.length; s++) {
                int size = sizes[s];
                float[][] all = inputs[s];
                try (Tensor buffer = m.upload(all[rank])) {
                    comm.allReduce(buffer);
                    CollectiveData.assertBitwiseEqual(CollectiveData.rankOrderSum(all, 0, size), m.download(buffer),
                            "all_reduce of " + size + " on rank " + rank);
                }
                Partition chunks = new Partition(size, tp);
                try (Tensor input = m.upload(all[rank]);
                     Tensor output = m.allocate(Shape.of(chunks.count(rank)), DType.F32)) {
                    comm.reduceScatter(input, output);
                    CollectiveData.assertBitwiseEqual(CollectiveData.rankOrderSum(all, chunks.intOffset(rank), chunks.intCount(rank)),
                            m.download(output), "reduce_scatter of " + size + " on rank " + rank);
                }
            }
            return null;
        });
    }

    /**
     * An F64 all_gather of 5 elements (40 bytes) per rank, so byte offsets must scale with the element size,
     * and an F16 broadcast of 7 (14 bytes) from every root: neither a multiple of four nor of a small slot.
     */
    @ParameterizedTest(name = "tp={0}")
    @ValueSource(ints = {1, 2, 3, 4})
    @Timeout(60)
    void copiesMoveEveryDTypeByteForByte(int tp) throws Exception {
        assume(groupsOf(tp));
        assume(copiesOfAnyDType());
        onEveryRank(tp, TIMEOUT, m -> {
            Communicator comm = m.comm();
            int rank = comm.rank();
            CommStats.Snapshot before = comm.stats().snapshot();
            int per = 5;
            try (Tensor local = m.allocate(Shape.of(per), DType.F64);
                 Tensor gathered = m.allocate(Shape.of((long) tp * per), DType.F64)) {
                DoubleBuffer mine = local.byteBuffer().asDoubleBuffer();
                for (int i = 0; i < per; i++) {
                    mine.put(i, rank * 1000.0 + i + 0.25);
                }
                comm.allGather(local, gathered);
                DoubleBuffer out = gathered.byteBuffer().asDoubleBuffer();
                for (int r = 0; r < tp; r++) {
                    for (int i = 0; i < per; i++) {
                        assertEquals(r * 1000.0 + i + 0.25, out.get(r * per + i), "F64 all_gather element " + (r * per + i));
                    }
                }
            }
            int halves = 7;
            for (int root = 0; root < tp; root++) {
                try (Tensor buffer = m.allocate(Shape.of(halves), DType.F16)) {
                    ShortBuffer bits = buffer.byteBuffer().asShortBuffer();
                    if (rank == root) {
                        for (int i = 0; i < halves; i++) {
                            bits.put(i, (short) (root * 100 + i + 1));
                        }
                    }
                    comm.broadcast(buffer, root);
                    for (int i = 0; i < halves; i++) {
                        assertEquals((short) (root * 100 + i + 1), bits.get(i), "F16 broadcast from " + root + ", element " + i);
                    }
                }
            }
            CommStats.Snapshot ran = comm.stats().since(before);
            assertEquals(1, ran.count(CollectiveOp.ALL_GATHER));
            assertEquals(tp, ran.count(CollectiveOp.BROADCAST));
            return null;
        });
    }

    @Test
    @Timeout(60)
    void badArgumentsAreRejectedBeforeAnyTraffic() throws Exception {
        assume(groupsOf(2));
        assume(argumentChecks());
        onEveryRank(2, TIMEOUT, m -> {
            Communicator comm = m.comm();
            CommStats.Snapshot before = comm.stats().snapshot();
            try (Tensor wide = m.allocate(Shape.of(4, 6), DType.F32);
                 Tensor f16 = m.allocate(Shape.of(4), DType.F16);
                 Tensor local = m.allocate(Shape.of(3), DType.F32);
                 Tensor gathered = m.allocate(Shape.of(7), DType.F32)) {
                IllegalArgumentException strided = assertThrows(IllegalArgumentException.class,
                        () -> comm.allReduce(wide.narrowColumns(1, 2)));
                assertTrue(strided.getMessage().contains("strided"), strided.getMessage());
                assertThrows(IllegalArgumentException.class, () -> comm.allReduce(f16), "an F16 sum");
                assertThrows(IllegalArgumentException.class, () -> comm.allGather(local, gathered, new long[] {3, 3}),
                        "counts that do not sum to the output");
                assertThrows(IllegalArgumentException.class, () -> comm.allGather(local, gathered, new long[] {3}),
                        "one count for two ranks");
                assertThrows(IllegalArgumentException.class, () -> comm.broadcast(local, 2), "root 2 of 2 ranks");
                assertThrows(IllegalArgumentException.class, () -> comm.reduceScatter(local, gathered),
                        "an output that is not this rank's chunk");
                assertEquals(0, comm.stats().since(before).count(), "a rejected call is not a collective");
                assertFalse(comm.failed(), "argument errors do not break the group");
                comm.broadcast(local, 1); // and the group still works
                assertEquals(1, comm.stats().since(before).count(CollectiveOp.BROADCAST));
            }
            return null;
        });
    }

    // ------------------------------------------------------------------------ failures

    @ParameterizedTest(name = "tp={0}, rank {1} closes")
    @CsvSource({"2, 1", "3, 1", "4, 2", "4, 0"})
    @Timeout(60)
    void aRankThatClosesFailsEveryOtherRankFastNamingIt(int tp, int lost) throws Exception {
        assume(groupsOf(tp));
        assume(lostPeerDetection());
        List<String> expected = closedPeerCauses().stream().map(c -> "rank " + lost + " lost during all_reduce: " + c).toList();
        CyclicBarrier afterClose = new CyclicBarrier(tp);
        List<RankThreads.Outcome<Long>> outcomes = outcomesOnEveryRank(tp, FAILURE_TIMEOUT, m -> {
            Communicator comm = m.comm();
            CommStats.Snapshot before = comm.stats().snapshot();
            try (Tensor buffer = m.allocate(Shape.of(50_000), DType.F32)) {
                comm.allReduce(buffer); // the group works first
                if (comm.rank() == lost) {
                    comm.close();
                    afterClose.await(5, TimeUnit.SECONDS);
                    return 0L;
                }
                afterClose.await(5, TimeUnit.SECONDS);
                long start = System.nanoTime();
                CommunicationException e = assertThrows(CommunicationException.class, () -> comm.allReduce(buffer));
                long elapsed = System.nanoTime() - start;
                assertTrue(expected.contains(e.getMessage()), "rank " + comm.rank() + ": " + e.getMessage()
                        + ", expected one of " + expected);
                assertTrue(comm.failed(), "a lost peer leaves the communicator failed");
                assertEquals(1, comm.stats().since(before).count(), "a failed collective is not recorded");
                CommunicationException later = assertThrows(CommunicationException.class, comm::barrier);
                assertTrue(later.getMessage().contains(e.getMessage()), "the next call repeats why: " + later.getMessage());
                return elapsed;
            }
        });
        for (RankThreads.Outcome<Long> o : outcomes) {
            assertFalse(o.failed(), () -> "rank " + o.rank() + ": " + o.error());
            assertTrue(o.value() < FAILURE_TIMEOUT.toNanos() / 10,
                    "rank " + o.rank() + " took " + o.value() / 1_000_000 + " ms to notice");
        }
    }

    @Test
    @Timeout(60)
    void aRankThatNeverJoinsACollectiveIsNamedWhenTheOthersTimeOut() throws Exception {
        assume(groupsOf(3));
        assume(silentPeerDiagnosis());
        int silent = 1;
        CountDownLatch survivorsGaveUp = new CountDownLatch(2);
        List<RankThreads.Outcome<String>> outcomes = outcomesOnEveryRank(3, SILENT_TIMEOUT, m -> {
            Communicator comm = m.comm();
            if (comm.rank() == silent) {
                // Alive and connected but never calls the collective, until the others have given up.
                assertTrue(survivorsGaveUp.await(SILENT_TIMEOUT.toMillis() + 8_000, TimeUnit.MILLISECONDS),
                        "the others never gave up on the silent rank");
                return null;
            }
            try (Tensor buffer = m.allocate(Shape.of(1000), DType.F32)) {
                long start = System.nanoTime();
                CommunicationException e = assertThrows(CommunicationException.class, () -> comm.allReduce(buffer));
                assertTrue(System.nanoTime() - start < SILENT_TIMEOUT.toNanos() + 3_000_000_000L,
                        "gave up after " + (System.nanoTime() - start) / 1_000_000 + " ms: a bounded wait");
                assertTrue(comm.failed(), "a timed-out collective leaves the communicator failed");
                return e.getMessage();
            } finally {
                survivorsGaveUp.countDown();
            }
        });
        List<String> messages = RankThreads.valuesOf(outcomes);
        String prefix = "all_reduce made no progress for 800ms: rank ";
        String namesSilent = prefix + silent + " is not answering (rank ";
        for (int rank : new int[] {0, 2}) {
            String msg = messages.get(rank);
            assertTrue(msg != null && msg.startsWith(prefix), "rank " + rank + ": " + msg);
        }
        assertTrue(messages.stream().anyMatch(msg -> msg != null && msg.startsWith(namesSilent)),
                "some rank that waited for rank " + silent + " names it: " + messages);
        assertSilentPeerDiagnoses(silent, messages);
    }

    @Test
    @Timeout(60)
    void closingDuringACollectiveEndsItAtOnce() throws Exception {
        assume(groupsOf(2));
        assume(closeDuringCollective());
        List<RankThreads.Outcome<String>> outcomes = outcomesOnEveryRank(2, FAILURE_TIMEOUT, m -> {
            Communicator comm = m.comm();
            if (comm.rank() == 1) {
                return null; // alive and connected, never arrives: rank 0 waits for it in vain until closed
            }
            Thread rankThread = Thread.currentThread();
            AtomicLong closedAt = new AtomicLong();
            CompletableFuture<Void> closer = CompletableFuture.runAsync(() -> {
                try {
                    Poll.until("rank 0 waiting for rank 1 inside all_reduce", Duration.ofSeconds(10),
                            () -> ThreadProbe.isBlockedInside(rankThread, comm.getClass().getName(), "allReduce"));
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                } finally {
                    closedAt.set(System.nanoTime());
                    comm.close(); // closed either way, so rank 0 is not left waiting for the whole timeout
                }
            }, runnable -> {
                Thread t = new Thread(runnable, "closer of rank 0");
                t.setDaemon(true);
                t.start();
            });
            try (Tensor buffer = m.allocate(Shape.of(10), DType.F32)) {
                CommunicationException e = assertThrows(CommunicationException.class, () -> comm.allReduce(buffer));
                long sinceClose = System.nanoTime() - closedAt.get();
                closer.get(10, TimeUnit.SECONDS); // fails the rank if the collective was never seen waiting
                assertTrue(sinceClose < 2_000_000_000L, "the collective went on for " + sinceClose / 1_000_000
                        + " ms after the close");
                assertThrows(IllegalStateException.class, () -> comm.allReduce(buffer), "a closed communicator is closed");
                return e.getMessage();
            }
        });
        assertNull(outcomes.get(1).error(), () -> "rank 1: " + outcomes.get(1).error());
        assertNotNull(outcomes.get(0).value(), () -> "rank 0: " + outcomes.get(0).error());
        assertEquals("the communicator of rank 0 was closed during all_reduce", outcomes.get(0).value());
    }

    // ------------------------------------------------------------------------ helpers

    private static void assume(Capability c) {
        assumeTrue(c.supported(), c.reason());
    }

    /** Opens a group of {@code tp}, runs {@code body} on every rank, and returns their values; fails if any rank failed. */
    private <T> List<T> onEveryRank(int tp, Duration timeout, CommGroup.RankBody<Communicator, T> body) throws Exception {
        return RankThreads.valuesOf(outcomesOnEveryRank(tp, timeout, body));
    }

    private <T> List<RankThreads.Outcome<T>> outcomesOnEveryRank(int tp, Duration timeout,
                                                                CommGroup.RankBody<Communicator, T> body) throws Exception {
        try (CommGroup<? extends Communicator> group = open(tp, timeout)) {
            return CommGroup.outcomes(group, timeout, body);
        }
    }
}
