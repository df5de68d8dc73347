package dev.tp4j.io;

import dev.tp4j.tensor.DType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

/**
 * Converts between a file's little-endian elements (F32, F16, BF16, F64) and F32, the compute dtype.
 * Works on buffers so that the reader can decode straight out of a mapped window and the writer can
 * encode straight into its output buffer, one chunk at a time.
 */
final class ElementCodec {
    private ElementCodec() {
    }

    /**
     * Decodes every element of {@code source} (position to limit, a whole number of elements) into
     * {@code destination} at its position, advancing both.
     */
    static void decode(DType stored, ByteBuffer source, FloatBuffer destination) {
        ByteBuffer le = source.order(ByteOrder.LITTLE_ENDIAN);
        requireWholeElements(stored, le.remaining());
        switch (stored) {
            case F32 -> {
                // Bulk copy; the JDK byte-swaps only if the destination's order differs.
                FloatBuffer floats = le.asFloatBuffer();
                destination.put(floats);
                le.position(le.limit());
            }
            case F16 -> {
                while (le.hasRemaining()) {
                    destination.put(Float16.toFloat(le.getShort()));
                }
            }
            case BF16 -> {
                while (le.hasRemaining()) {
                    destination.put(BFloat16.toFloat(le.getShort()));
                }
            }
            case F64 -> {
                while (le.hasRemaining()) {
                    destination.put((float) le.getDouble());
                }
            }
        }
    }

    /**
     * Encodes floats from {@code source} into {@code destination} as {@code stored} (rounding to nearest,
     * ties to even, when narrowing) until either runs out; advances both.
     */
    static void encode(DType stored, FloatBuffer source, ByteBuffer destination) {
        ByteBuffer le = destination.order(ByteOrder.LITTLE_ENDIAN);
        int count = Math.min(source.remaining(), le.remaining() / stored.byteSize());
        switch (stored) {
            case F32 -> {
                FloatBuffer chunk = source.slice().limit(count);
                le.asFloatBuffer().put(chunk);
                source.position(source.position() + count);
                le.position(le.position() + count * Float.BYTES);
            }
            case F16 -> {
                for (int i = 0; i < count; i++) {
                    le.putShort(Float16.fromFloat(source.get()));
                }
            }
            case BF16 -> {
                for (int i = 0; i < count; i++) {
                    le.putShort(BFloat16.fromFloat(source.get()));
                }
            }
            case F64 -> {
                for (int i = 0; i < count; i++) {
                    le.putDouble(source.get());
                }
            }
        }
    }

    private static void requireWholeElements(DType stored, int bytes) {
        if (bytes % stored.byteSize() != 0) {
            throw new IllegalArgumentException(bytes + " bytes is not a whole number of " + stored + " elements");
        }
    }
}
