package dev.tp4j.task.bench;

import dev.tp4j.backend.Backend;
import dev.tp4j.comm.CollectiveOp;
import dev.tp4j.comm.Communicator;
import dev.tp4j.task.bench.BenchResult.Figure;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Partition;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * all_reduce, all_gather, reduce_scatter and broadcast over a sweep of sizes. Every timed run starts
 * after a barrier, so a run measures the collective from a common start, not a rank's wait for a late
 * peer. Sizes are S in nccl-tests' sense (see {@link BusBandwidth}).
 */
final class CollectiveBench {
    private static final CollectiveOp[] OPS = {CollectiveOp.ALL_REDUCE, CollectiveOp.ALL_GATHER,
        CollectiveOp.REDUCE_SCATTER, CollectiveOp.BROADCAST};

    private CollectiveBench() {
    }

    static List<BenchResult> run(Backend backend, Communicator comm, BenchOptions o) {
        List<BenchResult> out = new ArrayList<>();
        int n = comm.worldSize();
        for (long bytes : o.collectiveSizes()) {
            long elements = bytes / Float.BYTES;
            for (CollectiveOp op : OPS) {
                Samples s = measure(backend, comm, op, elements, o);
                double algbw = BusBandwidth.gbPerSecond(bytes, s.medianMs());
                out.add(BenchResult.of("collective", op.label(), n, "f32", bytes, null, s,
                        new Figure("algbw_gbps", algbw), new Figure("busbw_gbps", algbw * BusBandwidth.factor(op, n))));
            }
        }
        return out;
    }

    private static Samples measure(Backend backend, Communicator comm, CollectiveOp op, long elements,
                                   BenchOptions o) {
        int n = comm.worldSize();
        // all_gather's S is the gathered total, reduce_scatter's the input total: each rank holds S/n.
        long mine = new Partition(elements, n).count(comm.rank());
        long[] counts = new long[n];
        for (int r = 0; r < n; r++) {
            counts[r] = new Partition(elements, n).count(r);
        }
        try (Tensor full = backend.allocate(Shape.of(elements), DType.F32);
             Tensor part = backend.allocate(Shape.of(mine), DType.F32)) {
            Runnable call = switch (op) {
                case ALL_REDUCE -> () -> comm.allReduce(full);
                case ALL_GATHER -> () -> comm.allGather(part, full, counts);
                case REDUCE_SCATTER -> () -> comm.reduceScatter(full, part);
                case BROADCAST -> () -> comm.broadcast(full, 0);
                case BARRIER -> comm::barrier;
            };
            int iterations = bytesScaledIterations(o, elements * Float.BYTES);
            return Timer.time(Math.min(o.warmup(), iterations), iterations, call, comm::barrier);
        }
    }

    /** Fewer runs of the largest sizes: they are long enough to time well and dominate the wall time. */
    private static int bytesScaledIterations(BenchOptions o, long bytes) {
        if (bytes >= (16L << 20)) {
            return Math.max(3, o.iterations() / 4);
        }
        return o.iterations();
    }
}
