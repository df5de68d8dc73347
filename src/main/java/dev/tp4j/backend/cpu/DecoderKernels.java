package dev.tp4j.backend.cpu;

import dev.tp4j.tensor.Tensor;
import java.nio.FloatBuffer;
import java.util.Arrays;

/**
 * A CPU rank's decoder-model operations in float32, written as transformers computes them (so the
 * float64 reference's error bounds describe exactly these roundings): each row is copied into a Java
 * array, worked on there and written back, so the loops run on arrays the JIT vectorises.
 *
 * <p>The arrays are this object's, grown to the largest call seen and reused: a decode step allocates
 * nothing. One instance serves one thread (its backend's rank).
 */
final class DecoderKernels {
    /** Partial sums of a dot product: independent chains the core overlaps (a float reduction is not vectorised). */
    private static final int LANES = 8;

    private float[] rowA = new float[0];
    private float[] rowB = new float[0];
    private float[] weights = new float[0];
    private float[] cos = new float[0];
    private float[] sin = new float[0];
    private float[] keys = new float[0];
    private float[] values = new float[0];
    private float[] scores = new float[0];

    void embedding(Tensor table, int[] ids, long firstId, Tensor out) {
        int hidden = out.cols();
        if (table.cols() != hidden || out.rows() != ids.length) {
            throw new IllegalArgumentException("embedding: table " + table.shape() + ", " + ids.length + " ids -> out "
                    + out.shape());
        }
        FloatBuffer src = table.floatBuffer();
        FloatBuffer dst = out.floatBuffer();
        float[] zeros = null;
        for (int t = 0; t < ids.length; t++) {
            long row = ids[t] - firstId;
            if (row >= 0 && row < table.rows()) {
                dst.put(t * out.rowStride(), src, Math.toIntExact(row * table.rowStride()), hidden);
            } else {
                if (zeros == null) {
                    zeros = rowA = grow(rowA, hidden);
                    Arrays.fill(zeros, 0, hidden, 0f);
                }
                dst.put(t * out.rowStride(), zeros, 0, hidden);
            }
        }
    }

    void rmsNorm(Tensor x, Tensor weight, float eps, Tensor y) {
        int n = x.cols();
        if (weight.numel() != n || y.rows() != x.rows() || y.cols() != n) {
            throw new IllegalArgumentException("rmsNorm: x " + x.shape() + ", weight " + weight.shape() + " -> y " + y.shape());
        }
        float[] w = weights = grow(weights, n);
        weight.floatBuffer().get(0, w, 0, n);
        float[] row = rowA = grow(rowA, n);
        FloatBuffer in = x.floatBuffer();
        FloatBuffer out = y.floatBuffer();
        for (int i = 0; i < x.rows(); i++) {
            in.get(i * x.rowStride(), row, 0, n);
            float sumSquares = 0f;
            for (int j = 0; j < n; j++) {
                sumSquares += row[j] * row[j];
            }
            // transformers: hidden * torch.rsqrt(variance + eps), then weight * hidden.
            float r = (float) (1.0 / Math.sqrt(sumSquares / n + eps));
            for (int j = 0; j < n; j++) {
                row[j] = w[j] * (row[j] * r);
            }
            out.put(i * y.rowStride(), row, 0, n);
        }
    }

    void rotary(Tensor x, int headDim, float[] invFreq, int firstPosition) {
        int half = headDim / 2;
        if (x.cols() % headDim != 0 || invFreq.length != half) {
            throw new IllegalArgumentException("rotary: x " + x.shape() + ", head_dim " + headDim + ", "
                    + invFreq.length + " frequencies");
        }
        int heads = x.cols() / headDim;
        float[] c = cos = grow(cos, half);
        float[] s = sin = grow(sin, half);
        float[] row = rowA = grow(rowA, x.cols());
        int width = x.cols();
        FloatBuffer buf = x.floatBuffer();
        for (int t = 0; t < x.rows(); t++) {
            float position = firstPosition + t;
            for (int i = 0; i < half; i++) {
                // transformers: freqs = inv_freq (float32) · position (float32), then cos/sin of that float.
                float angle = position * invFreq[i];
                c[i] = (float) Math.cos(angle);
                s[i] = (float) Math.sin(angle);
            }
            buf.get(t * x.rowStride(), row, 0, width);
            for (int h = 0; h < heads; h++) {
                int base = h * headDim;
                for (int i = 0; i < half; i++) {
                    float x1 = row[base + i];
                    float x2 = row[base + half + i];
                    row[base + i] = x1 * c[i] - x2 * s[i];
                    row[base + half + i] = x2 * c[i] + x1 * s[i];
                }
            }
            buf.put(t * x.rowStride(), row, 0, width);
        }
    }

    void attention(Tensor q, Tensor keyCache, Tensor valueCache, int headDim, int firstPosition, float scale,
                   Tensor out) {
        int tokens = q.rows();
        int qHeads = q.cols() / headDim;
        int kvHeads = keyCache.cols() / headDim;
        int positions = firstPosition + tokens;
        if (q.cols() % headDim != 0 || keyCache.cols() % headDim != 0 || valueCache.cols() != keyCache.cols()
                || kvHeads == 0 || qHeads % kvHeads != 0 || keyCache.rows() < positions
                || valueCache.rows() < positions || out.rows() != tokens || out.cols() != q.cols()) {
            throw new IllegalArgumentException("attention: q " + q.shape() + ", keys " + keyCache.shape() + ", values "
                    + valueCache.shape() + ", head_dim " + headDim + ", first position " + firstPosition + " -> out "
                    + out.shape());
        }
        int group = qHeads / kvHeads;
        int kvCols = keyCache.cols();
        int width = q.cols();
        // Keys and values of every position, copied once per call: the cache is read for every query head.
        float[] k = keys = grow(keys, positions * kvCols);
        float[] v = values = grow(values, positions * kvCols);
        readRows(keyCache, positions, k);
        readRows(valueCache, positions, v);
        float[] qRow = rowA = grow(rowA, width);
        float[] outRow = rowB = grow(rowB, width);
        float[] p = scores = grow(scores, positions);
        FloatBuffer qBuf = q.floatBuffer();
        FloatBuffer outBuf = out.floatBuffer();
        for (int t = 0; t < tokens; t++) {
            int visible = firstPosition + t + 1; // causal: this token and every one before it
            qBuf.get(t * q.rowStride(), qRow, 0, width);
            for (int h = 0; h < qHeads; h++) {
                int qBase = h * headDim;
                int kvBase = (h / group) * headDim;
                float max = Float.NEGATIVE_INFINITY;
                for (int j = 0; j < visible; j++) {
                    p[j] = dot(qRow, qBase, k, j * kvCols + kvBase, headDim) * scale;
                    max = Math.max(max, p[j]);
                }
                float sum = 0f;
                for (int j = 0; j < visible; j++) {
                    p[j] = (float) Math.exp(p[j] - max);
                    sum += p[j];
                }
                for (int d = 0; d < headDim; d++) {
                    outRow[qBase + d] = 0f;
                }
                for (int j = 0; j < visible; j++) {
                    float pj = p[j] / sum;
                    int vb = j * kvCols + kvBase;
                    for (int d = 0; d < headDim; d++) {
                        outRow[qBase + d] += pj * v[vb + d];
                    }
                }
            }
            outBuf.put(t * out.rowStride(), outRow, 0, width);
        }
    }

    /**
     * {@code Σ_d a[ai + d]·b[bi + d]} over {@code n} terms, summed in {@link #LANES} interleaved partial sums
     * and then pairwise: one sequential chain would wait on the adder's latency at every term. The float64
     * reference's bound holds for a sum in any order.
     */
    private static float dot(float[] a, int ai, float[] b, int bi, int n) {
        float s0 = 0f;
        float s1 = 0f;
        float s2 = 0f;
        float s3 = 0f;
        float s4 = 0f;
        float s5 = 0f;
        float s6 = 0f;
        float s7 = 0f;
        int d = 0;
        for (; d + LANES <= n; d += LANES) {
            s0 += a[ai + d] * b[bi + d];
            s1 += a[ai + d + 1] * b[bi + d + 1];
            s2 += a[ai + d + 2] * b[bi + d + 2];
            s3 += a[ai + d + 3] * b[bi + d + 3];
            s4 += a[ai + d + 4] * b[bi + d + 4];
            s5 += a[ai + d + 5] * b[bi + d + 5];
            s6 += a[ai + d + 6] * b[bi + d + 6];
            s7 += a[ai + d + 7] * b[bi + d + 7];
        }
        for (; d < n; d++) {
            s0 += a[ai + d] * b[bi + d];
        }
        return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
    }

    void add(Tensor a, Tensor b) {
        if (!a.shape().equals(b.shape())) {
            throw new IllegalArgumentException("add: " + a.shape() + " + " + b.shape());
        }
        int cols = a.cols();
        float[] ra = rowA = grow(rowA, cols);
        float[] rb = rowB = grow(rowB, cols);
        FloatBuffer pa = a.floatBuffer();
        FloatBuffer pb = b.floatBuffer();
        for (int i = 0; i < a.rows(); i++) {
            pa.get(i * a.rowStride(), ra, 0, cols);
            pb.get(i * b.rowStride(), rb, 0, cols);
            for (int j = 0; j < cols; j++) {
                ra[j] += rb[j];
            }
            pa.put(i * a.rowStride(), ra, 0, cols);
        }
    }

    private static void readRows(Tensor t, int rows, float[] dst) {
        FloatBuffer buf = t.floatBuffer();
        int cols = t.cols();
        if (t.isContiguous()) {
            buf.get(0, dst, 0, rows * cols);
            return;
        }
        for (int i = 0; i < rows; i++) {
            buf.get(i * t.rowStride(), dst, i * cols, cols);
        }
    }

    /** {@code array} when it holds {@code n} floats, else a larger one (its contents are not kept). */
    private static float[] grow(float[] array, int n) {
        return array.length >= n ? array : new float[Math.max(n, array.length + (array.length >> 1))];
    }
}
