package dev.tp4j.comm;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * The record of every collective one rank ran: op, elements, payload bytes, bytes this rank sent, and
 * wall time. Kept in primitive arrays that grow by doubling, so recording allocates nothing in steady
 * state. Reports take a {@link #mark()} before a layer runs and summarise {@link #since(int)}.
 */
public final class CommStats {
    private CollectiveOp[] ops = new CollectiveOp[64];
    private long[] elements = new long[64];
    private long[] payloadBytes = new long[64];
    private long[] sentBytes = new long[64];
    private long[] nanos = new long[64];
    private int size;

    /** One collective: {@code payloadBytes} is the size of the buffer as the API sees it. */
    public record Entry(CollectiveOp op, long elements, long payloadBytes, long sentBytes, long nanos) {
    }

    /** Totals for one kind of collective over a span of the record. */
    public record Summary(CollectiveOp op, int count, long payloadBytes, long sentBytes, long nanos) {
    }

    public synchronized void record(CollectiveOp op, long elementCount, long payload, long sent, long elapsedNanos) {
        if (size == ops.length) {
            int n = size * 2;
            ops = java.util.Arrays.copyOf(ops, n);
            elements = java.util.Arrays.copyOf(elements, n);
            payloadBytes = java.util.Arrays.copyOf(payloadBytes, n);
            sentBytes = java.util.Arrays.copyOf(sentBytes, n);
            nanos = java.util.Arrays.copyOf(nanos, n);
        }
        ops[size] = op;
        elements[size] = elementCount;
        payloadBytes[size] = payload;
        sentBytes[size] = sent;
        nanos[size] = elapsedNanos;
        size++;
    }

    /** A position in the record; pass it to {@link #since(int)}. */
    public synchronized int mark() {
        return size;
    }

    public synchronized int count() {
        return size;
    }

    /** Entries recorded after {@code mark}, in order. */
    public synchronized List<Entry> since(int mark) {
        List<Entry> out = new ArrayList<>(size - mark);
        for (int i = mark; i < size; i++) {
            out.add(new Entry(ops[i], elements[i], payloadBytes[i], sentBytes[i], nanos[i]));
        }
        return out;
    }

    /** Totals per op after {@code mark}, in the order ops first occurred. */
    public synchronized List<Summary> summarySince(int mark) {
        Map<CollectiveOp, long[]> totals = new EnumMap<>(CollectiveOp.class);
        List<CollectiveOp> order = new ArrayList<>();
        for (int i = mark; i < size; i++) {
            long[] t = totals.get(ops[i]);
            if (t == null) {
                t = new long[4];
                totals.put(ops[i], t);
                order.add(ops[i]);
            }
            t[0]++;
            t[1] += payloadBytes[i];
            t[2] += sentBytes[i];
            t[3] += nanos[i];
        }
        List<Summary> out = new ArrayList<>();
        for (CollectiveOp op : order) {
            long[] t = totals.get(op);
            out.add(new Summary(op, (int) t[0], t[1], t[2], t[3]));
        }
        return out;
    }

    /** Number of {@code op} collectives after {@code mark}. */
    public synchronized int countSince(int mark, CollectiveOp op) {
        int n = 0;
        for (int i = mark; i < size; i++) {
            if (ops[i] == op) {
                n++;
            }
        }
        return n;
    }
}
