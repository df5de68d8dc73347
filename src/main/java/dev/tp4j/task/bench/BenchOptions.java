package dev.tp4j.task.bench;

import dev.tp4j.backend.Activation;
import dev.tp4j.backend.DTypeChoice;

/**
 * What {@code tp4j bench} measures.
 *
 * @param tokens, hidden, ffn   the MLP shape (the GEMM measured is this rank's up-projection shard)
 * @param warmup                untimed runs before each measurement
 * @param iterations            timed runs of each measurement
 * @param minCollectiveBytes    smallest collective size in the sweep (×4 per step)
 * @param maxCollectiveBytes    largest collective size in the sweep
 * @param dtype                 the weights' dtype in the GEMM and the MLP ({@code auto}: F32, the seeded weights')
 * @param collectivesOnly       only the collective sweep (comparing transports), no GEMM and no MLP
 */
public record BenchOptions(int tokens, int hidden, int ffn, Activation activation, int warmup, int iterations,
                           long minCollectiveBytes, long maxCollectiveBytes, DTypeChoice dtype,
                           boolean collectivesOnly) {

    public BenchOptions(int tokens, int hidden, int ffn, Activation activation, int warmup, int iterations,
                        long minCollectiveBytes, long maxCollectiveBytes) {
        this(tokens, hidden, ffn, activation, warmup, iterations, minCollectiveBytes, maxCollectiveBytes,
                DTypeChoice.AUTO, false);
    }

    /** Sizes of the collective sweep: min, 4·min, … up to max. */
    public long[] collectiveSizes() {
        int n = 0;
        for (long s = minCollectiveBytes; s <= maxCollectiveBytes; s *= 4) {
            n++;
        }
        long[] sizes = new long[n];
        long s = minCollectiveBytes;
        for (int i = 0; i < n; i++, s *= 4) {
            sizes[i] = s;
        }
        return sizes;
    }
}
