package dev.tp4j.comm.tcp;

import java.nio.FloatBuffer;

/**
 * The reduction kernels: plain indexed loops over direct float buffers, which C2 compiles into tight
 * (often unrolled) loops without per-element allocation or bounds surprises.
 */
final class FloatSum {
    private FloatSum() {
    }

    /** {@code dst[d + i] += src[s + i]} for {@code i < count}. */
    static void addInto(FloatBuffer dst, int d, FloatBuffer src, int s, int count) {
        for (int i = 0; i < count; i++) {
            dst.put(d + i, dst.get(d + i) + src.get(s + i));
        }
    }

    /** {@code dst[d + i] = a[x + i] + b[y + i]} for {@code i < count}; {@code dst} may be {@code b}'s memory. */
    static void sum(FloatBuffer dst, int d, FloatBuffer a, int x, FloatBuffer b, int y, int count) {
        for (int i = 0; i < count; i++) {
            dst.put(d + i, a.get(x + i) + b.get(y + i));
        }
    }
}
