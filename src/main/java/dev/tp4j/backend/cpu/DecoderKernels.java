package dev.tp4j.backend.cpu;

import static org.bytedeco.openblas.global.openblas_nolapack.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasRowMajor;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_sgemm;

import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.nio.FloatBuffer;
import java.util.Arrays;
import org.bytedeco.javacpp.FloatPointer;

/**
 * A CPU rank's decoder-model operations in float32, written as transformers computes them (so the
 * float64 reference's error bounds describe exactly these roundings): each row is copied into a Java
 * array, worked on there and written back, so the loops run on arrays the JIT vectorises.
 *
 * <p>The arrays are this object's, grown to the largest call seen and reused: a decode step allocates
 * nothing. One instance serves one thread (its backend's rank).
 */
final class DecoderKernels {
    private float[] rowA = new float[0];
    private float[] rowB = new float[0];
    private float[] weights = new float[0];
    private float[] cos = new float[0];
    private float[] sin = new float[0];
    private float[] scores = new float[0];
    private Tensor scoreBlock;

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

    /**
     * Per token and kv head g, with Q_g the rows of g's query heads ({@code [group, headDim]}) and K_g, V_g its
     * columns of the cache ({@code [visible, headDim]}, row stride the cache's width):
     * {@code S = scale·Q_g·K_gᵀ} and {@code O_g = softmax(S)·V_g}, the two products as sgemm straight on the
     * tensors' memory (no copy of the cache), the softmax in Java between them. The sums run in the BLAS's
     * order, which the float64 reference's bound allows (any order, with or without FMA). (Java loops over
     * the cache ran 5-10 times slower: the JIT does not vectorise a loop whose arrays start at different
     * variable offsets.)
     */
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
        Tensor s = scoreBlock(group * positions);
        FloatPointer sp = s.floatPointer();
        FloatBuffer sb = s.floatBuffer();
        float[] p = scores = grow(scores, positions);
        // The tensors' own pointers are moved to each block and moved back: no pointer objects per call.
        FloatPointer qp = q.floatPointer();
        FloatPointer kp = keyCache.floatPointer();
        FloatPointer vp = valueCache.floatPointer();
        FloatPointer op = out.floatPointer();
        long q0 = qp.position();
        long k0 = kp.position();
        long v0 = vp.position();
        long o0 = op.position();
        try {
            for (int t = 0; t < tokens; t++) {
                int visible = firstPosition + t + 1; // causal: this token and every one before it
                for (int g = 0; g < kvHeads; g++) {
                    qp.position(q0 + (long) t * q.rowStride() + (long) g * group * headDim);
                    kp.position(k0 + (long) g * headDim);
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, group, visible, headDim, scale, qp, headDim,
                            kp, keyCache.rowStride(), 0f, sp, visible);
                    for (int h = 0; h < group; h++) {
                        softmax(sb, h * visible, p, visible);
                    }
                    vp.position(v0 + (long) g * headDim);
                    op.position(o0 + (long) t * out.rowStride() + (long) g * group * headDim);
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, group, headDim, visible, 1f, sp, visible,
                            vp, valueCache.rowStride(), 0f, op, headDim);
                }
            }
        } finally {
            qp.position(q0);
            kp.position(k0);
            vp.position(v0);
            op.position(o0);
        }
    }

    /** {@code s[from, from + n) ← softmax} in place: e_j = exp(s_j − max) rounded to float, then e_j / Σ e. */
    private static void softmax(FloatBuffer s, int from, float[] p, int n) {
        s.get(from, p, 0, n);
        float max = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < n; j++) {
            max = Math.max(max, p[j]);
        }
        float sum = 0f;
        for (int j = 0; j < n; j++) {
            p[j] = (float) Math.exp(p[j] - max);
            sum += p[j];
        }
        for (int j = 0; j < n; j++) {
            p[j] /= sum;
        }
        s.put(from, p, 0, n);
    }

    /** Native room for {@code n} scores, grown as the sequence grows. */
    private Tensor scoreBlock(int n) {
        if (scoreBlock == null || scoreBlock.numel() < n) {
            long size = Math.max(n, scoreBlock == null ? 0 : scoreBlock.numel() * 3 / 2);
            close();
            scoreBlock = Tensor.allocateHost(Shape.of(size), DType.F32);
        }
        return scoreBlock;
    }

    /** Releases the native score block. */
    void close() {
        if (scoreBlock != null) {
            scoreBlock.close();
            scoreBlock = null;
        }
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

    /** {@code array} when it holds {@code n} floats, else a larger one (its contents are not kept). */
    private static float[] grow(float[] array, int n) {
        return array.length >= n ? array : new float[Math.max(n, array.length + (array.length >> 1))];
    }
}
