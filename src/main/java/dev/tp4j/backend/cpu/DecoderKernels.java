package dev.tp4j.backend.cpu;

import dev.tp4j.tensor.Tensor;
import java.nio.FloatBuffer;

/**
 * A CPU rank's decoder-model operations in float32, written as transformers computes them (so the
 * float64 reference's error bounds describe exactly these roundings): each row is copied into a Java
 * array, worked on there and written back, so the loops run on arrays the JIT vectorises.
 */
final class DecoderKernels {
    private DecoderKernels() {
    }

    static void embedding(Tensor table, int[] ids, long firstId, Tensor out) {
        int hidden = out.cols();
        if (table.cols() != hidden || out.rows() != ids.length) {
            throw new IllegalArgumentException("embedding: table " + table.shape() + ", " + ids.length + " ids -> out "
                    + out.shape());
        }
        FloatBuffer src = table.floatBuffer();
        FloatBuffer dst = out.floatBuffer();
        float[] zeros = new float[hidden];
        for (int t = 0; t < ids.length; t++) {
            long row = ids[t] - firstId;
            if (row >= 0 && row < table.rows()) {
                dst.put(t * out.rowStride(), src, Math.toIntExact(row * table.rowStride()), hidden);
            } else {
                dst.put(t * out.rowStride(), zeros, 0, hidden);
            }
        }
    }

    static void rmsNorm(Tensor x, Tensor weight, float eps, Tensor y) {
        int n = x.cols();
        if (weight.numel() != n || y.rows() != x.rows() || y.cols() != n) {
            throw new IllegalArgumentException("rmsNorm: x " + x.shape() + ", weight " + weight.shape() + " -> y " + y.shape());
        }
        float[] w = new float[n];
        weight.floatBuffer().get(0, w, 0, n);
        float[] row = new float[n];
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

    static void rotary(Tensor x, int headDim, float[] invFreq, int firstPosition) {
        int half = headDim / 2;
        if (x.cols() % headDim != 0 || invFreq.length != half) {
            throw new IllegalArgumentException("rotary: x " + x.shape() + ", head_dim " + headDim + ", "
                    + invFreq.length + " frequencies");
        }
        int heads = x.cols() / headDim;
        float[] cos = new float[half];
        float[] sin = new float[half];
        float[] row = new float[x.cols()];
        FloatBuffer buf = x.floatBuffer();
        for (int t = 0; t < x.rows(); t++) {
            float position = firstPosition + t;
            for (int i = 0; i < half; i++) {
                // transformers: freqs = inv_freq (float32) · position (float32), then cos/sin of that float.
                float angle = position * invFreq[i];
                cos[i] = (float) Math.cos(angle);
                sin[i] = (float) Math.sin(angle);
            }
            buf.get(t * x.rowStride(), row, 0, row.length);
            for (int h = 0; h < heads; h++) {
                int base = h * headDim;
                for (int i = 0; i < half; i++) {
                    float x1 = row[base + i];
                    float x2 = row[base + half + i];
                    row[base + i] = x1 * cos[i] - x2 * sin[i];
                    row[base + half + i] = x2 * cos[i] + x1 * sin[i];
                }
            }
            buf.put(t * x.rowStride(), row, 0, row.length);
        }
    }

    static void attention(Tensor q, Tensor keys, Tensor values, int headDim, int firstPosition, float scale,
                          Tensor out) {
        int tokens = q.rows();
        int qHeads = q.cols() / headDim;
        int kvHeads = keys.cols() / headDim;
        int positions = firstPosition + tokens;
        if (q.cols() % headDim != 0 || keys.cols() % headDim != 0 || values.cols() != keys.cols()
                || kvHeads == 0 || qHeads % kvHeads != 0 || keys.rows() < positions || values.rows() < positions
                || out.rows() != tokens || out.cols() != q.cols()) {
            throw new IllegalArgumentException("attention: q " + q.shape() + ", keys " + keys.shape() + ", values "
                    + values.shape() + ", head_dim " + headDim + ", first position " + firstPosition + " -> out "
                    + out.shape());
        }
        int group = qHeads / kvHeads;
        int kvCols = keys.cols();
        // Keys and values of every position, copied once per call: the cache is read for every query head.
        float[] k = new float[positions * kvCols];
        float[] v = new float[positions * kvCols];
        readRows(keys, positions, k);
        readRows(values, positions, v);
        float[] qRow = new float[q.cols()];
        float[] outRow = new float[q.cols()];
        float[] scores = new float[positions];
        FloatBuffer qBuf = q.floatBuffer();
        FloatBuffer outBuf = out.floatBuffer();
        for (int t = 0; t < tokens; t++) {
            int visible = firstPosition + t + 1; // causal: this token and every one before it
            qBuf.get(t * q.rowStride(), qRow, 0, qRow.length);
            for (int h = 0; h < qHeads; h++) {
                int qBase = h * headDim;
                int kvBase = (h / group) * headDim;
                float max = Float.NEGATIVE_INFINITY;
                for (int j = 0; j < visible; j++) {
                    int kb = j * kvCols + kvBase;
                    float dot = 0f;
                    for (int d = 0; d < headDim; d++) {
                        dot += qRow[qBase + d] * k[kb + d];
                    }
                    scores[j] = dot * scale;
                    max = Math.max(max, scores[j]);
                }
                float sum = 0f;
                for (int j = 0; j < visible; j++) {
                    scores[j] = (float) Math.exp(scores[j] - max);
                    sum += scores[j];
                }
                for (int d = 0; d < headDim; d++) {
                    outRow[qBase + d] = 0f;
                }
                for (int j = 0; j < visible; j++) {
                    float p = scores[j] / sum;
                    int vb = j * kvCols + kvBase;
                    for (int d = 0; d < headDim; d++) {
                        outRow[qBase + d] += p * v[vb + d];
                    }
                }
            }
            outBuf.put(t * out.rowStride(), outRow, 0, outRow.length);
        }
    }

    static void add(Tensor a, Tensor b) {
        if (!a.shape().equals(b.shape())) {
            throw new IllegalArgumentException("add: " + a.shape() + " + " + b.shape());
        }
        int cols = a.cols();
        float[] ra = new float[cols];
        float[] rb = new float[cols];
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
        for (int i = 0; i < rows; i++) {
            buf.get(i * t.rowStride(), dst, i * cols, cols);
        }
    }
}
