package dev.tp4j.comm;

import dev.tp4j.backend.Backend;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;

/**
 * Small bookkeeping exchanges between ranks over the F32 collectives every transport offers (reports:
 * each rank's bytes and times), as opposed to the activations the layers move.
 */
public final class Exchange {
    private Exchange() {
    }

    /** Every rank's copy of {@code root}'s verdict (its argument elsewhere is ignored): one broadcast. */
    public static boolean agree(Communicator comm, Backend backend, boolean verdict, int root) {
        try (Tensor flag = backend.allocate(Shape.of(1), DType.F32)) {
            backend.copyFromHost(new float[] {verdict ? 1f : 0f}, flag);
            comm.broadcast(flag, root);
            return backend.copyToHost(flag)[0] == 1f;
        }
    }

    /**
     * Every rank's {@code mine} (the same length on each), on every rank: {@code result[r]} is rank r's.
     * Each long below 2^48 travels exactly as two floats of 24 bits.
     */
    public static long[][] allGatherLongs(Communicator comm, Backend backend, long[] mine) {
        int n = mine.length;
        float[] encoded = new float[2 * n];
        for (int i = 0; i < n; i++) {
            if (mine[i] < 0 || mine[i] >= 1L << 48) {
                throw new IllegalArgumentException("value " + mine[i] + " is outside [0, 2^48)");
            }
            encoded[2 * i] = (float) (mine[i] >>> 24);
            encoded[2 * i + 1] = (float) (mine[i] & 0xFF_FFFF);
        }
        try (Tensor local = backend.allocate(Shape.of(2L * n), DType.F32);
             Tensor all = backend.allocate(Shape.of(2L * n * comm.worldSize()), DType.F32)) {
            backend.copyFromHost(encoded, local);
            comm.allGather(local, all);
            float[] values = backend.copyToHost(all);
            long[][] out = new long[comm.worldSize()][n];
            for (int r = 0; r < out.length; r++) {
                for (int i = 0; i < n; i++) {
                    int at = 2 * (r * n + i);
                    out[r][i] = ((long) values[at] << 24) | (long) values[at + 1];
                }
            }
            return out;
        }
    }
}
