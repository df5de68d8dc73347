package dev.tp4j.comm.tcp;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

/**
 * A direct buffer reused by every collective; it grows (to the next power of two) only when a larger
 * message comes, so steady-state collectives allocate nothing.
 */
final class ScratchBuffer {
    private static final int MIN_BYTES = 64 << 10;

    private ByteBuffer bytes = ByteBuffer.allocateDirect(0);
    private FloatBuffer floats = bytes.asFloatBuffer();

    /** The buffer with position 0 and limit {@code size}, grown if needed. */
    ByteBuffer bytes(int size) {
        if (bytes.capacity() < size) {
            int capacity = Math.max(MIN_BYTES, Integer.highestOneBit(Math.max(1, size - 1)) << 1);
            if (capacity < size) { // size above 2^30: no power of two fits in an int
                capacity = size;
            }
            bytes = ByteBuffer.allocateDirect(capacity).order(ByteOrder.nativeOrder());
            floats = bytes.asFloatBuffer();
        }
        bytes.clear().limit(size);
        return bytes;
    }

    /** Float view of the whole buffer, index 0 at byte 0; valid until the next growth. */
    FloatBuffer floats() {
        return floats;
    }
}
