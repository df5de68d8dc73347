package dev.tp4j.comm.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Partition;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import dev.tp4j.testutil.CommGroup;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A model step runs the same collectives on the same buffers over and over: after warm-up those calls
 * must not allocate (no per-call buffers, views, iterators or selector bookkeeping).
 */
@Timeout(60)
class TcpRingSteadyStateTest {
    private static final int COLLECTIVES_PER_ROUND = 5;
    // CommStats keeps fixed per-op counters, so nothing grows; the warm-up gives the JIT time. The best window
    // counts, so a JIT compilation that lands late on a busy machine does not fail the test.
    private static final int WARMUP_ROUNDS = 1_640;
    private static final int WINDOWS = 5;
    private static final int ROUNDS_PER_WINDOW = 300;
    private static final int SIZE = 4_099;

    @Test
    void repeatedCollectivesOnTheSameTensorsAllocateNothing() throws Exception {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        int ranks = 3;
        try (RingGroup ring = new RingGroup(ranks, Duration.ofSeconds(30))) {
            List<Long> bytesPerRound = CommGroup.run(ring, Duration.ofSeconds(30), m -> {
                TcpRingCommunicator comm = m.comm();
                try (Tensor buffer = Tensor.allocateHost(Shape.of(SIZE), DType.F32);
                     Tensor gathered = Tensor.allocateHost(Shape.of((long) ranks * SIZE), DType.F32);
                     Tensor chunk = Tensor.allocateHost(Shape.of(new Partition(SIZE, ranks).count(comm.rank())), DType.F32)) {
                    long[] counts = {SIZE, SIZE, SIZE};
                    for (int i = 0; i < WARMUP_ROUNDS; i++) {
                        round(comm, buffer, gathered, chunk, counts);
                    }
                    long best = Long.MAX_VALUE;
                    for (int w = 0; w < WINDOWS; w++) {
                        long before = threads.getCurrentThreadAllocatedBytes();
                        for (int i = 0; i < ROUNDS_PER_WINDOW; i++) {
                            round(comm, buffer, gathered, chunk, counts);
                        }
                        best = Math.min(best, threads.getCurrentThreadAllocatedBytes() - before);
                    }
                    assertEquals(COLLECTIVES_PER_ROUND * (WARMUP_ROUNDS + WINDOWS * ROUNDS_PER_WINDOW), comm.stats().count());
                    return best / ROUNDS_PER_WINDOW;
                }
            });
            for (int r = 0; r < ranks; r++) {
                // A few bytes of slack for a stray deoptimisation; a per-call allocation costs tens of bytes.
                assertTrue(bytesPerRound.get(r) < 16,
                        "rank " + r + " allocated " + bytesPerRound.get(r) + " bytes per round of five collectives");
            }
        }
    }

    private static void round(TcpRingCommunicator comm, Tensor buffer, Tensor gathered, Tensor chunk, long[] counts) {
        comm.allReduce(buffer);
        comm.allGather(buffer, gathered, counts);
        comm.reduceScatter(buffer, chunk);
        comm.broadcast(buffer, 1);
        comm.barrier();
    }
}
