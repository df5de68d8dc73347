package dev.tp4j.io;

import dev.tp4j.tensor.DType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;

/**
 * Converts between a file's little-endian elements (F32, F16, BF16, F64) and F32, the compute dtype.
 * Works on buffers so that the reader can decode straight out of a mapped window and the writer can
 * encode straight into its output buffer, one chunk at a time.
 */
final class ElementCodec {
    /** Elements converted per bulk transfer. */
    private static final int CHUNK = 8192;
    /** Conversion arrays, one set per reading thread so the codec needs no lock and allocates nothing per chunk. */
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

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
            case F16, BF16 -> {
                // Bulk in, convert in arrays, bulk out, instead of a buffer's get and put per element: JFR put
                // most of a BF16 model's load's Java time in those. (Its wall time is mostly the kernel
                // zeroing the new pages the weights are written to; see docs/performance.md.)
                ShortBuffer in = le.asShortBuffer();
                Scratch scratch = SCRATCH.get();
                boolean brain = stored == DType.BF16;
                while (in.hasRemaining()) {
                    int n = Math.min(CHUNK, in.remaining());
                    in.get(scratch.halves, 0, n);
                    if (brain) {
                        for (int i = 0; i < n; i++) {
                            scratch.floats[i] = BFloat16.toFloat(scratch.halves[i]);
                        }
                    } else {
                        for (int i = 0; i < n; i++) {
                            scratch.floats[i] = Float16.toFloat(scratch.halves[i]);
                        }
                    }
                    destination.put(scratch.floats, 0, n);
                }
                le.position(le.limit());
            }
            case F64 -> {
                DoubleBuffer in = le.asDoubleBuffer();
                Scratch scratch = SCRATCH.get();
                while (in.hasRemaining()) {
                    int n = Math.min(CHUNK, in.remaining());
                    in.get(scratch.doubles, 0, n);
                    for (int i = 0; i < n; i++) {
                        scratch.floats[i] = (float) scratch.doubles[i];
                    }
                    destination.put(scratch.floats, 0, n);
                }
                le.position(le.limit());
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

    private static final class Scratch {
        private final short[] halves = new short[CHUNK];
        private final double[] doubles = new double[CHUNK];
        private final float[] floats = new float[CHUNK];
    }

    private static void requireWholeElements(DType stored, int bytes) {
        if (bytes % stored.byteSize() != 0) {
            throw new IllegalArgumentException(bytes + " bytes is not a whole number of " + stored + " elements");
        }
    }
}
