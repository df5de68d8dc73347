package dev.tp4j.nn;

import dev.tp4j.backend.Backend;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;

/**
 * One attention layer's keys and values on this rank (its kv heads only), preallocated for the whole
 * generation: {@code [capacity, kvHeads·headDim]} each, position p in row p.
 */
public final class KvCache implements AutoCloseable {
    private final Backend backend;
    private final Tensor keys;
    private final Tensor values;
    private final int capacity;

    public KvCache(Backend backend, int capacity, int width) {
        this.backend = backend;
        this.capacity = capacity;
        this.keys = backend.allocate(Shape.of(capacity, width), DType.F32);
        this.values = backend.allocate(Shape.of(capacity, width), DType.F32);
    }

    /** Stores {@code k, v [tokens, width]} at positions {@code [position, position + tokens)}. */
    public void append(Tensor k, Tensor v, int position) {
        int tokens = k.rows();
        if (position < 0 || position + tokens > capacity) {
            throw new IllegalArgumentException("positions [" + position + ", " + (position + tokens)
                    + ") beyond the cache's " + capacity);
        }
        backend.copy(k, rows(keys, position, tokens));
        backend.copy(v, rows(values, position, tokens));
    }

    /** Keys of every position so far (rows {@code [0, positions)} are valid; the view covers them all). */
    public Tensor keys() {
        return keys;
    }

    public Tensor values() {
        return values;
    }

    public int capacity() {
        return capacity;
    }

    public long bytes() {
        return keys.byteSize() + values.byteSize();
    }

    /** Bytes of the keys and values of the first {@code positions} positions: what attention over them reads. */
    public long bytes(int positions) {
        return 2L * positions * keys.cols() * keys.dtype().byteSize();
    }

    private static Tensor rows(Tensor t, int first, int count) {
        return t.slice((long) first * t.cols(), (long) count * t.cols()).view(Shape.of(count, t.cols()));
    }

    @Override
    public void close() {
        keys.close();
        values.close();
    }
}
