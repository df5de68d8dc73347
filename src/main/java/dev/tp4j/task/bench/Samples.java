package dev.tp4j.task.bench;

import java.util.Arrays;

/** Repeated timings of one measurement, in nanoseconds, and the order statistics reports use. */
public final class Samples {
    private final long[] nanos;

    public Samples(long[] nanos) {
        if (nanos.length == 0) {
            throw new IllegalArgumentException("no samples");
        }
        this.nanos = nanos.clone();
        Arrays.sort(this.nanos);
    }

    /** The q-quantile (0 ≤ q ≤ 1) by linear interpolation between order statistics, in milliseconds. */
    public double quantileMs(double q) {
        double pos = q * (nanos.length - 1);
        int lo = (int) Math.floor(pos);
        int hi = Math.min(lo + 1, nanos.length - 1);
        double frac = pos - lo;
        return (nanos[lo] + frac * (nanos[hi] - nanos[lo])) / 1e6;
    }

    public double medianMs() {
        return quantileMs(0.5);
    }

    public double p10Ms() {
        return quantileMs(0.1);
    }

    public double p90Ms() {
        return quantileMs(0.9);
    }

    public int count() {
        return nanos.length;
    }
}
