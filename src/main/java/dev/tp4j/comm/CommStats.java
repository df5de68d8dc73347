package dev.tp4j.comm;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What one rank's collectives cost, in fixed memory: per {@link CollectiveOp} a count, the elements,
 * the payload bytes, the bytes this rank sent and the wall time, plus a latency histogram of
 * {@value #BUCKETS} power-of-two buckets. Recording writes into preallocated arrays, so it allocates
 * nothing and the memory is the same after ten collectives or ten million ({@code verify --repeat}).
 *
 * <p>Reports take a {@link #snapshot()} before a piece of work and subtract it afterwards
 * ({@link #since(Snapshot)}): the difference is what that work ran.
 */
public final class CommStats {
    /** Latency buckets: bucket {@code b} counts durations in {@code [2^b, 2^(b+1))} ns (bucket 0 also 0 ns). */
    public static final int BUCKETS = 48;

    private static final CollectiveOp[] OPS = CollectiveOp.values();

    private final long[] counts = new long[OPS.length];
    private final long[] elements = new long[OPS.length];
    private final long[] payloadBytes = new long[OPS.length];
    private final long[] sentBytes = new long[OPS.length];
    private final long[] nanos = new long[OPS.length];
    private final long[] histogram = new long[OPS.length * BUCKETS];

    /** Totals for one kind of collective. */
    public record Summary(CollectiveOp op, long count, long elements, long payloadBytes, long sentBytes, long nanos) {
    }

    /**
     * Records one collective: {@code payload} is the size of the buffer as the API sees it, {@code sent}
     * the bytes this rank put on its links.
     */
    public synchronized void record(CollectiveOp op, long elementCount, long payload, long sent, long elapsedNanos) {
        int i = op.ordinal();
        counts[i]++;
        elements[i] += elementCount;
        payloadBytes[i] += payload;
        sentBytes[i] += sent;
        nanos[i] += elapsedNanos;
        histogram[i * BUCKETS + bucketOf(elapsedNanos)]++;
    }

    /** The totals so far. */
    public synchronized Snapshot snapshot() {
        return new Snapshot(counts.clone(), elements.clone(), payloadBytes.clone(), sentBytes.clone(), nanos.clone(),
                histogram.clone());
    }

    /** What was recorded after {@code earlier} was taken. */
    public Snapshot since(Snapshot earlier) {
        return snapshot().minus(earlier);
    }

    /** Collectives recorded so far, of every kind. */
    public synchronized long count() {
        long n = 0;
        for (long c : counts) {
            n += c;
        }
        return n;
    }

    /** Bytes this rank sent over all collectives so far (allocation-free, unlike a snapshot). */
    public synchronized long sentBytes() {
        long n = 0;
        for (long b : sentBytes) {
            n += b;
        }
        return n;
    }

    static int bucketOf(long elapsedNanos) {
        if (elapsedNanos <= 1) {
            return 0;
        }
        return Math.min(BUCKETS - 1, 63 - Long.numberOfLeadingZeros(elapsedNanos));
    }

    /** Immutable totals per op at one moment, or the difference of two moments. */
    public static final class Snapshot {
        /** Nothing recorded: the start of a sum of differences. */
        public static final Snapshot EMPTY = new Snapshot(new long[OPS.length], new long[OPS.length],
                new long[OPS.length], new long[OPS.length], new long[OPS.length], new long[OPS.length * BUCKETS]);

        private final long[] counts;
        private final long[] elements;
        private final long[] payloadBytes;
        private final long[] sentBytes;
        private final long[] nanos;
        private final long[] histogram;

        private Snapshot(long[] counts, long[] elements, long[] payloadBytes, long[] sentBytes, long[] nanos,
                         long[] histogram) {
            this.counts = counts;
            this.elements = elements;
            this.payloadBytes = payloadBytes;
            this.sentBytes = sentBytes;
            this.nanos = nanos;
            this.histogram = histogram;
        }

        public long count(CollectiveOp op) {
            return counts[op.ordinal()];
        }

        /** Collectives of every kind. */
        public long count() {
            return Arrays.stream(counts).sum();
        }

        public Summary summary(CollectiveOp op) {
            int i = op.ordinal();
            return new Summary(op, counts[i], elements[i], payloadBytes[i], sentBytes[i], nanos[i]);
        }

        /** One summary per op that ran at least once, in {@link CollectiveOp} order; empty when none ran. */
        public List<Summary> summaries() {
            List<Summary> out = new ArrayList<>();
            for (CollectiveOp op : OPS) {
                if (counts[op.ordinal()] > 0) {
                    out.add(summary(op));
                }
            }
            return out;
        }

        /** The latency histogram of {@code op}: element {@code b} counts durations in {@code [2^b, 2^(b+1))} ns. */
        public long[] latencyHistogram(CollectiveOp op) {
            int from = op.ordinal() * BUCKETS;
            return Arrays.copyOfRange(histogram, from, from + BUCKETS);
        }

        /**
         * An upper bound on the {@code q}-quantile ({@code 0 < q ≤ 1}) of {@code op}'s durations, within a
         * factor of two: the top of the bucket it falls in. Zero when {@code op} never ran.
         */
        public long latencyQuantileNanos(CollectiveOp op, double q) {
            if (!(q > 0 && q <= 1)) {
                throw new IllegalArgumentException("quantile " + q + " is not in (0, 1]");
            }
            long n = counts[op.ordinal()];
            if (n == 0) {
                return 0;
            }
            long rank = (long) Math.ceil(q * n);
            long seen = 0;
            int from = op.ordinal() * BUCKETS;
            for (int b = 0; b < BUCKETS; b++) {
                seen += histogram[from + b];
                if (seen >= rank) {
                    return (2L << b) - 1;
                }
            }
            return Long.MAX_VALUE;
        }

        /** {@code this − earlier}, element by element. */
        public Snapshot minus(Snapshot earlier) {
            return combine(earlier, -1);
        }

        /** {@code this + other}, element by element: the traffic of two spans of work together. */
        public Snapshot plus(Snapshot other) {
            return combine(other, 1);
        }

        private Snapshot combine(Snapshot o, int sign) {
            return new Snapshot(add(counts, o.counts, sign), add(elements, o.elements, sign),
                    add(payloadBytes, o.payloadBytes, sign), add(sentBytes, o.sentBytes, sign),
                    add(nanos, o.nanos, sign), add(histogram, o.histogram, sign));
        }

        private static long[] add(long[] a, long[] b, int sign) {
            long[] out = new long[a.length];
            for (int i = 0; i < a.length; i++) {
                out[i] = a[i] + sign * b[i];
            }
            return out;
        }

        @Override
        public String toString() {
            return summaries().toString();
        }
    }
}
