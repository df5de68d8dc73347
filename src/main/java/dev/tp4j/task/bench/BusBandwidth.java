package dev.tp4j.task.bench;

import dev.tp4j.comm.CollectiveOp;

/**
 * nccl-tests' bandwidth definitions (PERFORMANCE.md of nccl-tests): algbw = S / t, and busbw scales
 * algbw by the fraction of S each rank must move over its busiest link, so figures from different
 * world sizes compare with the hardware's link speed. S is the buffer size for all_reduce and
 * broadcast, and the total (gathered / scattered) size for all_gather and reduce_scatter.
 */
public final class BusBandwidth {
    private BusBandwidth() {
    }

    public static double factor(CollectiveOp op, int n) {
        return switch (op) {
            case ALL_REDUCE -> 2.0 * (n - 1) / n;
            case ALL_GATHER, REDUCE_SCATTER -> (double) (n - 1) / n;
            case BROADCAST -> 1.0;
            case BARRIER -> 0.0;
        };
    }

    /** Bytes per second → GB/s (10⁹, as nccl-tests prints). */
    public static double gbPerSecond(long bytes, double millis) {
        return millis <= 0 ? 0 : bytes / (millis * 1e-3) / 1e9;
    }
}
