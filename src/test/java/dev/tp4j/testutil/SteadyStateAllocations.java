package dev.tp4j.testutil;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tp4j.comm.Communicator;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Partition;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;

/**
 * A model step runs the same collectives on the same buffers over and over: this measures what one round of
 * them (all_reduce, all_gather, reduce_scatter, broadcast, barrier) allocates on each rank's thread after
 * warm-up, for the steady-state tests of every transport. The best window counts, so a JIT compilation that
 * lands late on a busy machine does not fail a test.
 */
public final class SteadyStateAllocations {
    /** The collectives of one {@link #round}. */
    public static final int COLLECTIVES_PER_ROUND = 5;
    private static final int SIZE = 4_099;
    private static final int WINDOWS = 5;

    private SteadyStateAllocations() {
    }

    /**
     * Every rank's bytes allocated per round, the best of five windows of {@code roundsPerWindow} rounds after
     * {@code warmupRounds}. Also checks that each rank's stats counted every collective it ran (CommStats keeps
     * fixed per-op counters, so nothing grows).
     */
    public static List<Long> bytesPerRound(CommGroup<? extends Communicator> group, int ranks, int warmupRounds,
                                           int roundsPerWindow, Duration timeout) throws Exception {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        return CommGroup.run(group, timeout, m -> {
            Communicator comm = m.comm();
            try (Tensor buffer = Tensor.allocateHost(Shape.of(SIZE), DType.F32);
                 Tensor gathered = Tensor.allocateHost(Shape.of((long) ranks * SIZE), DType.F32);
                 Tensor chunk = Tensor.allocateHost(Shape.of(Partition.count(SIZE, ranks, comm.rank())), DType.F32)) {
                long[] counts = new long[ranks];
                Arrays.fill(counts, SIZE);
                for (int i = 0; i < warmupRounds; i++) {
                    round(comm, buffer, gathered, chunk, counts);
                }
                long best = Long.MAX_VALUE;
                for (int w = 0; w < WINDOWS; w++) {
                    long before = threads.getCurrentThreadAllocatedBytes();
                    for (int i = 0; i < roundsPerWindow; i++) {
                        round(comm, buffer, gathered, chunk, counts);
                    }
                    best = Math.min(best, threads.getCurrentThreadAllocatedBytes() - before);
                }
                assertEquals(COLLECTIVES_PER_ROUND * ((long) warmupRounds + (long) WINDOWS * roundsPerWindow),
                        comm.stats().count());
                return best / roundsPerWindow;
            }
        });
    }

    private static void round(Communicator comm, Tensor buffer, Tensor gathered, Tensor chunk, long[] counts) {
        comm.allReduce(buffer);
        comm.allGather(buffer, gathered, counts);
        comm.reduceScatter(buffer, chunk);
        comm.broadcast(buffer, 1);
        comm.barrier();
    }
}
