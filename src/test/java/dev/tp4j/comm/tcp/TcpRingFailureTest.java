package dev.tp4j.comm.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.comm.CollectiveOp;
import dev.tp4j.CommunicationException;
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

/** A lost or silent rank fails the others' collectives quickly, with a message that names it. */
@Timeout(60)
class TcpRingFailureTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    @ParameterizedTest(name = "tp={0}, rank {1} lost")
    @CsvSource({"2, 1", "3, 1", "4, 2", "4, 0"})
    void aLostRankFailsEveryOtherRankFastNamingIt(int tp, int lost) throws Exception {
        CyclicBarrier afterClose = new CyclicBarrier(tp);
        try (RingHarness ring = new RingHarness()) {
            List<RankThreads.Outcome<Long>> outcomes = ring.outcomes(tp, TIMEOUT, (comm, store) -> {
                try (Tensor buffer = Tensor.allocateHost(Shape.of(50_000), DType.F32)) {
                    comm.allReduce(buffer); // the ring works first
                    if (comm.rank() == lost) {
                        comm.close();
                        afterClose.await(5, TimeUnit.SECONDS);
                        return 0L;
                    }
                    afterClose.await(5, TimeUnit.SECONDS);
                    long start = System.nanoTime();
                    CommunicationException e = assertThrows(CommunicationException.class, () -> comm.allReduce(buffer));
                    long elapsed = System.nanoTime() - start;
                    assertEquals("rank " + lost + " lost during all_reduce: connection closed", e.getMessage(),
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
                assertTrue(o.value() < TIMEOUT.toNanos() / 10,
                        "rank " + o.rank() + " took " + o.value() / 1_000_000 + " ms to notice");
            }
        }
    }

    @Test
    void aRankThatNeverJoinsACollectiveTimesOutNamingWhoIsNotAnswering() throws Exception {
        Duration shortTimeout = Duration.ofMillis(800);
        try (RingHarness ring = new RingHarness()) {
            List<RankThreads.Outcome<String>> outcomes = ring.outcomes(3, shortTimeout, (comm, store) -> {
                if (comm.rank() == 1) {
                    Thread.sleep(shortTimeout.toMillis() * 3); // alive but never calls the collective
                    return null;
                }
                try (Tensor buffer = Tensor.allocateHost(Shape.of(1000), DType.F32)) {
                    long start = System.nanoTime();
                    CommunicationException e = assertThrows(CommunicationException.class, () -> comm.allReduce(buffer));
                    assertTrue(System.nanoTime() - start < shortTimeout.toNanos() + 3_000_000_000L, "bounded wait");
                    return e.getMessage();
                }
            });
            String rank2 = outcomes.get(2).value();
            assertEquals("all_reduce made no progress for 800ms: rank 1 is not answering (rank 2 waits for its data)", rank2);
            String rank0 = outcomes.get(0).value();
            assertTrue(rank0 != null && rank0.startsWith("all_reduce made no progress for 800ms: rank "), rank0);
        }
    }

    @Test
    void closingDuringACollectiveEndsItAtOnce() throws Exception {
        try (RingHarness ring = new RingHarness()) {
            List<RankThreads.Outcome<String>> outcomes = ring.outcomes(2, TIMEOUT, (comm, store) -> {
                if (comm.rank() == 1) {
                    return null; // rank 0 waits for it in vain until rank 0 is closed
                }
                Thread closer = new Thread(() -> {
                    sleep(200);
                    comm.close();
                });
                closer.start();
                try (Tensor buffer = Tensor.allocateHost(Shape.of(10), DType.F32)) {
                    CommunicationException e = assertThrows(CommunicationException.class, () -> comm.allReduce(buffer));
                    closer.join();
                    assertThrows(IllegalStateException.class, () -> comm.allReduce(buffer));
                    return e.getMessage();
                }
            });
            assertEquals("the communicator of rank 0 was closed during all_reduce", outcomes.get(0).value());
        }
    }

    @Test
    void badArgumentsAreRejectedBeforeAnyTraffic() throws Exception {
        try (RingHarness ring = new RingHarness()) {
            ring.run(2, TIMEOUT, (comm, store) -> {
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
                    assertFalse(comm.failed(), "argument errors do not break the ring");
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
