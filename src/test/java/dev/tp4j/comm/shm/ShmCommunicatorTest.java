package dev.tp4j.comm.shm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.CommunicationException;
import dev.tp4j.rendezvous.store.StoreClient;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Partition;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import dev.tp4j.testutil.CollectiveData;
import dev.tp4j.testutil.CommGroup;
import dev.tp4j.testutil.LoopbackStore;
import dev.tp4j.testutil.RankThreads;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What only the shared-memory transport does, beyond the communicator contract
 * ({@link ShmCommunicatorContractTest}): its file, its segments, its peers' pids and its failure word.
 */
@Timeout(60)
class ShmCommunicatorTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    @ParameterizedTest(name = "tp={0}")
    @ValueSource(ints = {2, 3, 4})
    void theFileIsUnlinkedOnceEveryRankMappedItAndNothingStays(int tp) throws Exception {
        try (ShmGroup group = new ShmGroup(tp, TIMEOUT, ShmCommunicator.DEFAULT_SLOT_BYTES)) {
            CommGroup.run(group, TIMEOUT, m -> {
                ShmCommunicator comm = m.comm();
                assertFalse(Files.exists(comm.path()), "the file is unlinked once all ranks mapped it: " + comm.path());
                assertTrue(comm.describe().startsWith("shared memory (" + ShmRegion.directory() + ", " + tp + " ranks)"),
                        comm.describe());
                try (Tensor buffer = Tensor.hostOf(Shape.of(3), new float[] {1, 2, comm.rank()})) {
                    comm.allReduce(buffer); // the group works on the unlinked file
                    assertEquals(tp * (tp - 1) / 2f, buffer.toFloatArray()[2]);
                }
                return null;
            });
        }
        assertEquals(List.of(), ShmGroup.leftovers(), "files left in " + ShmRegion.directory());
    }

    @ParameterizedTest(name = "tp={0}")
    @ValueSource(ints = {2, 3, 4})
    void aTensorLargerThanTheDefaultSlotIsSegmented(int tp) throws Exception {
        int size = ShmCommunicator.DEFAULT_SLOT_BYTES / Float.BYTES * 2 + 12_345;
        float[][] inputs = CollectiveData.inputs(tp, new int[] {size}, 12)[0];
        try (ShmGroup group = new ShmGroup(tp, TIMEOUT, ShmCommunicator.DEFAULT_SLOT_BYTES)) {
            CommGroup.run(group, TIMEOUT, m -> {
                ShmCommunicator comm = m.comm();
                int rank = comm.rank();
                try (Tensor buffer = Tensor.hostOf(Shape.of(size), inputs[rank])) {
                    comm.allReduce(buffer);
                    CollectiveData.assertBitwiseEqual(CollectiveData.rankOrderSum(inputs, 0, size), buffer.toFloatArray(),
                            "all_reduce of " + size);
                }
                Partition chunks = new Partition(size, tp);
                try (Tensor input = Tensor.hostOf(Shape.of(size), inputs[rank]);
                     Tensor output = Tensor.allocateHost(Shape.of(chunks.count(rank)), DType.F32)) {
                    comm.reduceScatter(input, output);
                    CollectiveData.assertBitwiseEqual(CollectiveData.rankOrderSum(inputs, chunks.intOffset(rank),
                            chunks.intCount(rank)), output.toFloatArray(), "reduce_scatter of " + size);
                }
                return null;
            });
        }
    }

    @Test
    void waitingRanksKeepTheirCoreOnlyWhenNoRankSharesOne() {
        assertEquals(ShmCommunicator.DEDICATED_YIELD_NANOS, ShmCommunicator.yieldNanos(2, 2));
        assertEquals(ShmCommunicator.DEDICATED_YIELD_NANOS, ShmCommunicator.yieldNanos(1, 16));
        assertEquals(ShmCommunicator.SHARED_YIELD_NANOS, ShmCommunicator.yieldNanos(4, 2));
        assertTrue(ShmCommunicator.SHARED_YIELD_NANOS < ShmCommunicator.DEDICATED_YIELD_NANOS);
    }

    @Test
    void aRankWhoseProcessIsGoneIsNamedAtOnce() throws Exception {
        Process gone = new ProcessBuilder("true").start();
        gone.waitFor();
        long deadPid = gone.pid();
        List<RankThreads.Outcome<String>> outcomes;
        try (ShmGroup group = new ShmGroup(3, TIMEOUT, ShmCommunicator.DEFAULT_SLOT_BYTES,
                rank -> rank == 2 ? deadPid : ProcessHandle.current().pid())) {
            outcomes = CommGroup.outcomes(group, TIMEOUT, m -> {
                ShmCommunicator comm = m.comm();
                if (comm.rank() == 2) {
                    return null; // "dead": never arrives at the collective
                }
                try (Tensor local = Tensor.allocateHost(Shape.of(1000), DType.F32);
                     Tensor gathered = Tensor.allocateHost(Shape.of(3000), DType.F32)) {
                    long start = System.nanoTime();
                    CommunicationException e = assertThrows(CommunicationException.class, () -> comm.allGather(local, gathered));
                    assertTrue(System.nanoTime() - start < 2_000_000_000L, "noticed within 2 s, not after the 20 s timeout");
                    return e.getMessage();
                }
            });
        }
        for (int rank : new int[] {0, 1}) {
            assertEquals("rank 2 lost during all_gather: its process (pid " + deadPid + ") is gone", outcomes.get(rank).value(),
                    String.valueOf(outcomes.get(rank).error()));
        }
        assertEquals(List.of(), ShmGroup.leftovers());
    }

    /**
     * The failure word: a rank that arrives at a collective the others already gave up on learns it at
     * once, with their diagnosis, instead of waiting out its own timeout (the TCP ring cannot: its late
     * rank only has its own timeout).
     */
    @Test
    void aRankArrivingAfterTheOthersGaveUpLearnsWhyAtOnce() throws Exception {
        Duration shortTimeout = Duration.ofMillis(800);
        CountDownLatch othersGaveUp = new CountDownLatch(2);
        List<String> messages;
        try (ShmGroup group = new ShmGroup(3, shortTimeout, ShmCommunicator.DEFAULT_SLOT_BYTES)) {
            messages = CommGroup.run(group, shortTimeout, m -> {
                ShmCommunicator comm = m.comm();
                if (comm.rank() == 1) {
                    assertTrue(othersGaveUp.await(shortTimeout.toMillis() + 8_000, TimeUnit.MILLISECONDS),
                            "the others never gave up on rank 1");
                    try (Tensor buffer = Tensor.allocateHost(Shape.of(10), DType.F32)) {
                        long start = System.nanoTime();
                        CommunicationException e = assertThrows(CommunicationException.class, () -> comm.allReduce(buffer));
                        assertTrue(System.nanoTime() - start < shortTimeout.toNanos() / 2,
                                "stops at the failure word, not after its own timeout");
                        return e.getMessage();
                    }
                }
                try (Tensor buffer = Tensor.allocateHost(Shape.of(1000), DType.F32)) {
                    return assertThrows(CommunicationException.class, () -> comm.allReduce(buffer)).getMessage();
                } finally {
                    othersGaveUp.countDown();
                }
            });
        }
        for (int rank = 0; rank < 3; rank++) {
            String m = messages.get(rank);
            assertTrue(m.startsWith("all_reduce made no progress for 800ms: rank 1 is not answering (rank "),
                    "rank " + rank + ": " + m);
        }
    }

    @Test
    void aRendezvousThatNeverCompletesLeavesNoFile() throws Exception {
        Duration shortTimeout = Duration.ofMillis(600);
        try (LoopbackStore store = new LoopbackStore();
             StoreClient client = store.client(0, shortTimeout)) {
            // rank 1 of 2 never comes
            CommunicationException e = assertThrows(CommunicationException.class, () -> ShmCommunicator.connect(client,
                    ShmCommunicator.DEFAULT_KEY_PREFIX, 0, 2, shortTimeout));
            assertTrue(e.getMessage().contains("rank 1"), e.getMessage());
        }
        assertEquals(List.of(), ShmGroup.leftovers());
    }
}
