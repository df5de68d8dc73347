package dev.tp4j.comm.shm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.comm.CollectiveOp;
import dev.tp4j.CommunicationException;
import dev.tp4j.rendezvous.auth.JobToken;
import dev.tp4j.rendezvous.store.StoreClient;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import dev.tp4j.testutil.RankThreads;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** A lost, dead or silent rank fails the others' shared-memory collectives quickly, naming it; no file stays. */
@Timeout(60)
class ShmFailureTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    @ParameterizedTest(name = "tp={0}, rank {1} closes")
    @CsvSource({"2, 1", "3, 1", "4, 2", "4, 0"})
    void aRankThatClosesFailsEveryOtherRankFastNamingIt(int tp, int lost) throws Exception {
        CyclicBarrier afterClose = new CyclicBarrier(tp);
        try (ShmHarness shm = new ShmHarness(ShmCommunicator.DEFAULT_SLOT_BYTES)) {
            List<RankThreads.Outcome<Long>> outcomes = shm.outcomes(tp, TIMEOUT, (comm, store) -> {
                try (Tensor buffer = Tensor.allocateHost(Shape.of(50_000), DType.F32)) {
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
                    assertEquals("rank " + lost + " lost during all_reduce: it closed its communicator", e.getMessage(),
                            "rank " + comm.rank());
                    assertTrue(comm.failed());
                    assertEquals(1, comm.stats().count(), "a failed collective is not recorded");
                    CommunicationException later = assertThrows(CommunicationException.class, comm::barrier);
                    assertTrue(later.getMessage().contains(e.getMessage()), later.getMessage());
                    return elapsed;
                }
            });
            for (RankThreads.Outcome<Long> o : outcomes) {
                assertFalse(o.failed(), () -> "rank " + o.rank() + ": " + o.error());
                assertTrue(o.value() < TIMEOUT.toNanos() / 10, "rank " + o.rank() + " took " + o.value() / 1_000_000 + " ms to notice");
            }
        }
    }

    @Test
    void aRankWhoseProcessIsGoneIsNamedAtOnce() throws Exception {
        Process gone = new ProcessBuilder("true").start();
        gone.waitFor();
        long deadPid = gone.pid();
        try (ShmHarness shm = new ShmHarness(ShmCommunicator.DEFAULT_SLOT_BYTES)) {
            shm.pids = rank -> rank == 2 ? deadPid : ProcessHandle.current().pid();
            List<RankThreads.Outcome<String>> outcomes = shm.outcomes(3, TIMEOUT, (comm, store) -> {
                if (comm.rank() == 2) {
                    return null; // "dead": never arrives at the collective
                }
                try (Tensor buffer = Tensor.allocateHost(Shape.of(1000), DType.F32)) {
                    long start = System.nanoTime();
                    CommunicationException e = assertThrows(CommunicationException.class, () -> comm.allGather(buffer,
                            Tensor.allocateHost(Shape.of(3000), DType.F32)));
                    assertTrue(System.nanoTime() - start < 2_000_000_000L, "noticed within 2 s, not after the 20 s timeout");
                    return e.getMessage();
                }
            });
            for (int rank : new int[] {0, 1}) {
                assertEquals("rank 2 lost during all_gather: its process (pid " + deadPid + ") is gone", outcomes.get(rank).value(),
                        String.valueOf(outcomes.get(rank).error()));
            }
        }
        assertEquals(List.of(), ShmHarness.leftovers());
    }

    @Test
    void aRankThatNeverJoinsACollectiveTimesOutNamingWhoIsNotAnswering() throws Exception {
        Duration shortTimeout = Duration.ofMillis(800);
        try (ShmHarness shm = new ShmHarness(ShmCommunicator.DEFAULT_SLOT_BYTES)) {
            List<RankThreads.Outcome<String>> outcomes = shm.outcomes(3, shortTimeout, (comm, store) -> {
                if (comm.rank() == 1) {
                    Thread.sleep(shortTimeout.toMillis() * 3); // alive but never calls the collective
                    try (Tensor buffer = Tensor.allocateHost(Shape.of(10), DType.F32)) {
                        // the others gave up: it finds out at once rather than after its own timeout
                        long start = System.nanoTime();
                        CommunicationException e = assertThrows(CommunicationException.class, () -> comm.allReduce(buffer));
                        assertTrue(System.nanoTime() - start < shortTimeout.toNanos() / 2, "stops at the failure word");
                        return e.getMessage();
                    }
                }
                try (Tensor buffer = Tensor.allocateHost(Shape.of(1000), DType.F32)) {
                    long start = System.nanoTime();
                    CommunicationException e = assertThrows(CommunicationException.class, () -> comm.allReduce(buffer));
                    assertTrue(System.nanoTime() - start < shortTimeout.toNanos() + 3_000_000_000L, "bounded wait");
                    return e.getMessage();
                }
            });
            for (int rank = 0; rank < 3; rank++) {
                String m = outcomes.get(rank).value();
                assertTrue(m != null && m.startsWith("all_reduce made no progress for 800ms: rank 1 is not answering (rank "),
                        "rank " + rank + ": " + m + " / " + outcomes.get(rank).error());
            }
        }
    }

    @Test
    void closingDuringACollectiveEndsItAtOnce() throws Exception {
        try (ShmHarness shm = new ShmHarness(ShmCommunicator.DEFAULT_SLOT_BYTES)) {
            List<RankThreads.Outcome<String>> outcomes = shm.outcomes(2, TIMEOUT, (comm, store) -> {
                if (comm.rank() == 1) {
                    Thread.sleep(3000); // alive, never arrives; rank 0 waits in vain until it is closed
                    return null;
                }
                Thread closer = new Thread(() -> {
                    sleep(200);
                    comm.close();
                });
                closer.start();
                try (Tensor buffer = Tensor.allocateHost(Shape.of(10), DType.F32)) {
                    long start = System.nanoTime();
                    CommunicationException e = assertThrows(CommunicationException.class, () -> comm.allReduce(buffer));
                    assertTrue(System.nanoTime() - start < 2_000_000_000L);
                    closer.join();
                    assertThrows(IllegalStateException.class, () -> comm.allReduce(buffer));
                    return e.getMessage();
                }
            });
            assertEquals("the communicator of rank 0 was closed during all_reduce", outcomes.get(0).value(),
                    String.valueOf(outcomes.get(0).error()));
        }
    }

    @Test
    void aRendezvousThatNeverCompletesLeavesNoFile() throws Exception {
        Duration shortTimeout = Duration.ofMillis(600);
        try (ShmHarness shm = new ShmHarness(ShmCommunicator.DEFAULT_SLOT_BYTES);
             StoreClient store = StoreClient.connect("127.0.0.1", shm.server.port(), JobToken.of(ShmHarness.TOKEN), 0,
                     shortTimeout)) {
            // rank 1 of 2 never comes
            CommunicationException e = assertThrows(CommunicationException.class, () -> ShmCommunicator.connect(store,
                    ShmCommunicator.DEFAULT_KEY_PREFIX, 0, 2, shortTimeout));
            assertTrue(e.getMessage().contains("rank 1"), e.getMessage());
        }
        assertEquals(List.of(), ShmHarness.leftovers());
    }

    @Test
    void badArgumentsAreRejectedBeforeAnyTraffic() throws Exception {
        try (ShmHarness shm = new ShmHarness(ShmCommunicator.DEFAULT_SLOT_BYTES)) {
            shm.run(2, TIMEOUT, (comm, store) -> {
                try (Tensor wide = Tensor.allocateHost(Shape.of(4, 6), DType.F32);
                     Tensor f16 = Tensor.allocateHost(Shape.of(4), DType.F16);
                     Tensor local = Tensor.allocateHost(Shape.of(3), DType.F32);
                     Tensor gathered = Tensor.allocateHost(Shape.of(7), DType.F32)) {
                    IllegalArgumentException strided = assertThrows(IllegalArgumentException.class,
                            () -> comm.allReduce(wide.narrowColumns(1, 2)));
                    assertTrue(strided.getMessage().contains("strided"), strided.getMessage());
                    assertThrows(IllegalArgumentException.class, () -> comm.allReduce(f16));
                    assertThrows(IllegalArgumentException.class, () -> comm.allGather(local, gathered, new long[] {3, 3}));
                    assertThrows(IllegalArgumentException.class, () -> comm.allGather(local, gathered, new long[] {3}));
                    assertThrows(IllegalArgumentException.class, () -> comm.broadcast(local, 2));
                    assertThrows(IllegalArgumentException.class, () -> comm.reduceScatter(local, gathered));
                    assertEquals(0, comm.stats().count());
                    assertFalse(comm.failed(), "argument errors do not break the group");
                    comm.broadcast(f16, 1); // any dtype broadcasts
                    assertEquals(1, comm.stats().snapshot().count(CollectiveOp.BROADCAST));
                }
                return null;
            });
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
