package dev.tp4j.comm.hierarchical;

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
 * As for the flat transports: after warm-up, the same collectives on the same tensors allocate nothing,
 * neither in the hierarchy (its scratch and views are kept) nor in the links under it. Two pretend hosts
 * of two ranks each, so every rank runs the steps inside its node and the leaders those between nodes.
 */
@Timeout(120)
class HierarchicalSteadyStateTest {
    private static final int COLLECTIVES_PER_ROUND = 5;
    private static final int WARMUP_ROUNDS = 1_200;
    private static final int WINDOWS = 5;
    private static final int ROUNDS_PER_WINDOW = 200;
    private static final int SIZE = 4_099;

    @Test
    void repeatedCollectivesOnTheSameTensorsAllocateNothing() throws Exception {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        int ranks = 4;
        List<Long> bytesPerRound = CommGroup.run(new HierarchicalGroup(ranks, Duration.ofSeconds(30)),
                Duration.ofSeconds(90), m -> {
                    HierarchicalCommunicator comm = m.comm();
                    try (Tensor buffer = Tensor.allocateHost(Shape.of(SIZE), DType.F32);
                         Tensor gathered = Tensor.allocateHost(Shape.of((long) ranks * SIZE), DType.F32);
                         Tensor chunk = Tensor.allocateHost(Shape.of(Partition.count(SIZE, ranks, comm.rank())),
                                 DType.F32)) {
                        long[] counts = {SIZE, SIZE, SIZE, SIZE};
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
                        assertEquals(COLLECTIVES_PER_ROUND * (WARMUP_ROUNDS + WINDOWS * ROUNDS_PER_WINDOW),
                                comm.stats().count());
                        return best / ROUNDS_PER_WINDOW;
                    }
                });
        for (int r = 0; r < ranks; r++) {
            assertTrue(bytesPerRound.get(r) < 16,
                    "rank " + r + " allocated " + bytesPerRound.get(r) + " bytes per round of five collectives");
        }
    }

    private static void round(HierarchicalCommunicator comm, Tensor buffer, Tensor gathered, Tensor chunk, long[] counts) {
        comm.allReduce(buffer);
        comm.allGather(buffer, gathered, counts);
        comm.reduceScatter(buffer, chunk);
        comm.broadcast(buffer, 1);
        comm.barrier();
    }
}
