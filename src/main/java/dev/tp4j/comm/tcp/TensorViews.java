package dev.tp4j.comm.tcp;

import java.nio.ByteBuffer;

/**
 * A second position/limit window on a tensor's bytes, for steps that send one part of a tensor while
 * receiving into another part of it. Views are made once per tensor buffer and kept for the last few
 * buffers seen, because a model step alternates between a handful of tensors (one all_reduce buffer,
 * one all_gather output, ...) and steady-state collectives should allocate nothing.
 *
 * <p>Keyed by identity: a {@code Tensor} hands out the same {@code ByteBuffer} for its whole life, and
 * holding it here keeps that identity from being reused by another buffer.
 */
final class TensorViews {
    private static final int SLOTS = 8;

    private final ByteBuffer[] sources = new ByteBuffer[SLOTS];
    private final ByteBuffer[] views = new ByteBuffer[SLOTS];
    private final long[] lastUse = new long[SLOTS];
    private long clock;

    /** A buffer over the same memory as {@code buffer} with its own position and limit. */
    ByteBuffer secondView(ByteBuffer buffer) {
        clock++;
        int victim = 0;
        for (int i = 0; i < SLOTS; i++) {
            if (sources[i] == buffer) {
                lastUse[i] = clock;
                return views[i].clear();
            }
            if (lastUse[i] < lastUse[victim]) {
                victim = i;
            }
        }
        sources[victim] = buffer;
        views[victim] = buffer.duplicate().order(buffer.order());
        lastUse[victim] = clock;
        return views[victim];
    }
}
