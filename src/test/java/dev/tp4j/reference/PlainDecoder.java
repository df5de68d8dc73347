package dev.tp4j.reference;

import dev.tp4j.backend.Activation;
import dev.tp4j.io.ModelDirectory;
import dev.tp4j.model.ModelConfig;
import dev.tp4j.tensor.Tensor;
import java.util.HashMap;
import java.util.Map;

/**
 * Two plain decoders written for the tests, independent of {@link Float64Decoder} and of each other's
 * code: {@link #forward64} is the straightforward float64 forward (no bounds), {@link #forward32} the
 * float32 recipe a CPU rank follows, with the summation order as a parameter to mimic other ranks, other
 * tp and other BLAS kernels. The whole model is held in memory: these are for tiny models.
 */
final class PlainDecoder {
    /** How a float32 sum of products is accumulated. */
    enum Order {
        FORWARD, REVERSED, PAIRWISE, SPLIT3, FMA
    }

    private final ModelConfig config;
    private final Map<String, float[]> weights = new HashMap<>();

    PlainDecoder(ModelDirectory dir, ModelConfig config) {
        this.config = config;
        // The directory owns its files: read from them, never close them here.
        var file = dir.file("model.embed_tokens.weight");
        for (String name : file.names()) {
            try (Tensor t = file.read(name)) {
                weights.put(name, t.toFloatArray());
            }
        }
    }

    private float[] w(String name) {
        float[] v = weights.get(name);
        if (v == null) {
            throw new IllegalArgumentException("no tensor " + name);
        }
        return v;
    }

    private float[] bias(String name, boolean present) {
        return present ? w(name) : null;
    }

    /** Inverse frequencies from transformers' formulas, written out again. */
    static double[] invFreq(ModelConfig c) {
        int dim = c.headDim();
        double[] f = new double[dim / 2];
        for (int i = 0; i < f.length; i++) {
            f[i] = 1.0 / Math.pow(c.ropeTheta(), (double) (2 * i) / dim);
        }
        ModelConfig.RopeScaling s = c.ropeScaling();
        if (s != null) {
            double lowWavelen = s.originalMaxPositions() / s.lowFreqFactor();
            double highWavelen = s.originalMaxPositions() / s.highFreqFactor();
            for (int i = 0; i < f.length; i++) {
                double wavelen = 2 * Math.PI / f[i];
                double llama = wavelen > lowWavelen ? f[i] / s.factor() : f[i];
                double smooth = (s.originalMaxPositions() / wavelen - s.lowFreqFactor())
                        / (s.highFreqFactor() - s.lowFreqFactor());
                double smoothed = (1 - smooth) * llama / s.factor() + smooth * llama;
                boolean medium = !(wavelen < highWavelen) && !(wavelen > lowWavelen);
                f[i] = medium ? smoothed : llama;
            }
        }
        return f;
    }

    // ---------------------------------------------------------------- float64

    double[] forward64(int[] ids) {
        int t = ids.length;
        int h = config.hiddenSize();
        int nh = config.numHeads();
        int nkv = config.numKvHeads();
        int d = config.headDim();
        int ffn = config.intermediateSize();
        float[] embed = w("model.embed_tokens.weight");
        double[][] x = new double[t][h];
        for (int i = 0; i < t; i++) {
            for (int j = 0; j < h; j++) {
                x[i][j] = embed[ids[i] * h + j];
            }
        }
        double[] inv = invFreq(config);
        for (int layer = 0; layer < config.numLayers(); layer++) {
            String p = "model.layers." + layer + ".";
            double[][] a = norm64(x, w(p + "input_layernorm.weight"));
            double[][] q = linear64(a, w(p + "self_attn.q_proj.weight"), bias(p + "self_attn.q_proj.bias", config.qkvBias()), nh * d);
            double[][] k = linear64(a, w(p + "self_attn.k_proj.weight"), bias(p + "self_attn.k_proj.bias", config.qkvBias()), nkv * d);
            double[][] v = linear64(a, w(p + "self_attn.v_proj.weight"), bias(p + "self_attn.v_proj.bias", config.qkvBias()), nkv * d);
            rope64(q, nh, d, inv);
            rope64(k, nkv, d, inv);
            double[][] attn = new double[t][nh * d];
            for (int i = 0; i < t; i++) {
                for (int head = 0; head < nh; head++) {
                    int g = head / (nh / nkv);
                    double[] scores = new double[i + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= i; j++) {
                        double s = 0;
                        for (int c = 0; c < d; c++) {
                            s += q[i][head * d + c] * k[j][g * d + c];
                        }
                        scores[j] = s / Math.sqrt(d);
                        max = Math.max(max, scores[j]);
                    }
                    double z = 0;
                    for (int j = 0; j <= i; j++) {
                        scores[j] = Math.exp(scores[j] - max);
                        z += scores[j];
                    }
                    for (int c = 0; c < d; c++) {
                        double o = 0;
                        for (int j = 0; j <= i; j++) {
                            o += scores[j] / z * v[j][g * d + c];
                        }
                        attn[i][head * d + c] = o;
                    }
                }
            }
            double[][] o = linear64(attn, w(p + "self_attn.o_proj.weight"), bias(p + "self_attn.o_proj.bias", config.outputBias()), h);
            for (int i = 0; i < t; i++) {
                for (int j = 0; j < h; j++) {
                    x[i][j] += o[i][j];
                }
            }
            double[][] b = norm64(x, w(p + "post_attention_layernorm.weight"));
            double[][] gate = linear64(b, w(p + "mlp.gate_proj.weight"), bias(p + "mlp.gate_proj.bias", config.mlpBias()), ffn);
            double[][] up = linear64(b, w(p + "mlp.up_proj.weight"), bias(p + "mlp.up_proj.bias", config.mlpBias()), ffn);
            for (int i = 0; i < t; i++) {
                for (int j = 0; j < ffn; j++) {
                    double g = gate[i][j];
                    gate[i][j] = g / (1 + Math.exp(-g)) * up[i][j];
                }
            }
            double[][] down = linear64(gate, w(p + "mlp.down_proj.weight"), bias(p + "mlp.down_proj.bias", config.mlpBias()), h);
            for (int i = 0; i < t; i++) {
                for (int j = 0; j < h; j++) {
                    x[i][j] += down[i][j];
                }
            }
        }
        double[][] f = norm64(x, w("model.norm.weight"));
        float[] head = config.tieWordEmbeddings() ? embed : w("lm_head.weight");
        double[][] logits = linear64(f, head, null, config.vocabSize());
        double[] out = new double[t * config.vocabSize()];
        for (int i = 0; i < t; i++) {
            System.arraycopy(logits[i], 0, out, i * config.vocabSize(), config.vocabSize());
        }
        return out;
    }

    private double[][] norm64(double[][] x, float[] weight) {
        double[][] y = new double[x.length][];
        for (int i = 0; i < x.length; i++) {
            double ms = 0;
            for (double v : x[i]) {
                ms += v * v;
            }
            ms /= x[i].length;
            double r = 1 / Math.sqrt(ms + config.rmsNormEps());
            y[i] = new double[x[i].length];
            for (int j = 0; j < x[i].length; j++) {
                y[i][j] = weight[j] * (x[i][j] * r);
            }
        }
        return y;
    }

    private static double[][] linear64(double[][] x, float[] w, float[] b, int out) {
        int in = x[0].length;
        double[][] y = new double[x.length][out];
        for (int i = 0; i < x.length; i++) {
            for (int j = 0; j < out; j++) {
                double s = b == null ? 0 : b[j];
                for (int c = 0; c < in; c++) {
                    s += x[i][c] * w[j * in + c];
                }
                y[i][j] = s;
            }
        }
        return y;
    }

    private static void rope64(double[][] x, int heads, int d, double[] inv) {
        int half = d / 2;
        for (int pos = 0; pos < x.length; pos++) {
            for (int head = 0; head < heads; head++) {
                for (int j = 0; j < half; j++) {
                    double angle = pos * inv[j];
                    double c = Math.cos(angle);
                    double s = Math.sin(angle);
                    double x1 = x[pos][head * d + j];
                    double x2 = x[pos][head * d + j + half];
                    x[pos][head * d + j] = x1 * c - x2 * s;
                    x[pos][head * d + j + half] = x2 * c + x1 * s;
                }
            }
        }
    }

    // ---------------------------------------------------------------- float32

    /**
     * The float32 recipe. {@code doubleShift}: the softmax's {@code s_j − m} in double rather than float;
     * {@code rsqrtInDouble}: RMSNorm's {@code 1/sqrt(d)} computed in double and rounded once, rather than two
     * float32 operations.
     */
    float[] forward32(int[] ids, Order order, boolean doubleShift, boolean rsqrtInDouble) {
        int t = ids.length;
        int h = config.hiddenSize();
        int nh = config.numHeads();
        int nkv = config.numKvHeads();
        int d = config.headDim();
        int ffn = config.intermediateSize();
        float[] embed = w("model.embed_tokens.weight");
        float[][] x = new float[t][h];
        for (int i = 0; i < t; i++) {
            System.arraycopy(embed, ids[i] * h, x[i], 0, h);
        }
        double[] inv64 = invFreq(config);
        float[] inv = new float[inv64.length];
        for (int j = 0; j < inv.length; j++) {
            inv[j] = (float) inv64[j];
        }
        float eps = (float) config.rmsNormEps();
        for (int layer = 0; layer < config.numLayers(); layer++) {
            String p = "model.layers." + layer + ".";
            float[][] a = norm32(x, w(p + "input_layernorm.weight"), eps, order, rsqrtInDouble);
            float[][] q = linear32(a, w(p + "self_attn.q_proj.weight"), bias(p + "self_attn.q_proj.bias", config.qkvBias()), nh * d, order);
            float[][] k = linear32(a, w(p + "self_attn.k_proj.weight"), bias(p + "self_attn.k_proj.bias", config.qkvBias()), nkv * d, order);
            float[][] v = linear32(a, w(p + "self_attn.v_proj.weight"), bias(p + "self_attn.v_proj.bias", config.qkvBias()), nkv * d, order);
            rope32(q, nh, d, inv);
            rope32(k, nkv, d, inv);
            float scale = (float) (1 / Math.sqrt(d));
            float[][] attn = new float[t][nh * d];
            for (int i = 0; i < t; i++) {
                for (int head = 0; head < nh; head++) {
                    int g = head / (nh / nkv);
                    float[] s = new float[i + 1];
                    float max = Float.NEGATIVE_INFINITY;
                    for (int j = 0; j <= i; j++) {
                        float[] qs = new float[d];
                        float[] ks = new float[d];
                        for (int c = 0; c < d; c++) {
                            qs[c] = q[i][head * d + c];
                            ks[c] = k[j][g * d + c];
                        }
                        s[j] = dot(qs, ks, order) * scale;
                        max = Math.max(max, s[j]);
                    }
                    float[] e = new float[i + 1];
                    for (int j = 0; j <= i; j++) {
                        e[j] = doubleShift ? (float) Math.exp((double) s[j] - max) : (float) Math.exp(s[j] - max);
                    }
                    float z = sum(e, order);
                    float[] pr = new float[i + 1];
                    for (int j = 0; j <= i; j++) {
                        pr[j] = e[j] / z;
                    }
                    for (int c = 0; c < d; c++) {
                        float[] vs = new float[i + 1];
                        for (int j = 0; j <= i; j++) {
                            vs[j] = v[j][g * d + c];
                        }
                        attn[i][head * d + c] = dot(pr, vs, order);
                    }
                }
            }
            float[][] o = linear32(attn, w(p + "self_attn.o_proj.weight"), bias(p + "self_attn.o_proj.bias", config.outputBias()), h, order);
            for (int i = 0; i < t; i++) {
                for (int j = 0; j < h; j++) {
                    x[i][j] += o[i][j];
                }
            }
            float[][] b = norm32(x, w(p + "post_attention_layernorm.weight"), eps, order, rsqrtInDouble);
            float[][] gate = linear32(b, w(p + "mlp.gate_proj.weight"), bias(p + "mlp.gate_proj.bias", config.mlpBias()), ffn, order);
            float[][] up = linear32(b, w(p + "mlp.up_proj.weight"), bias(p + "mlp.up_proj.bias", config.mlpBias()), ffn, order);
            for (int i = 0; i < t; i++) {
                for (int j = 0; j < ffn; j++) {
                    gate[i][j] = Activation.SILU.apply(gate[i][j]) * up[i][j];
                }
            }
            float[][] down = linear32(gate, w(p + "mlp.down_proj.weight"), bias(p + "mlp.down_proj.bias", config.mlpBias()), h, order);
            for (int i = 0; i < t; i++) {
                for (int j = 0; j < h; j++) {
                    x[i][j] += down[i][j];
                }
            }
        }
        float[][] f = norm32(x, w("model.norm.weight"), eps, order, rsqrtInDouble);
        float[] head = config.tieWordEmbeddings() ? embed : w("lm_head.weight");
        float[][] logits = linear32(f, head, null, config.vocabSize(), order);
        float[] out = new float[t * config.vocabSize()];
        for (int i = 0; i < t; i++) {
            System.arraycopy(logits[i], 0, out, i * config.vocabSize(), config.vocabSize());
        }
        return out;
    }

    private static float[][] norm32(float[][] x, float[] weight, float eps, Order order, boolean rsqrtInDouble) {
        float[][] y = new float[x.length][];
        for (int i = 0; i < x.length; i++) {
            int n = x[i].length;
            float ms = dot(x[i], x[i], order) / n;
            float r = rsqrtInDouble ? (float) (1 / Math.sqrt(ms + eps)) : 1f / (float) Math.sqrt(ms + eps);
            y[i] = new float[n];
            for (int j = 0; j < n; j++) {
                y[i][j] = weight[j] * (x[i][j] * r);
            }
        }
        return y;
    }

    private static float[][] linear32(float[][] x, float[] w, float[] b, int out, Order order) {
        int in = x[0].length;
        float[][] y = new float[x.length][out];
        float[] row = new float[in];
        for (int i = 0; i < x.length; i++) {
            for (int j = 0; j < out; j++) {
                System.arraycopy(w, j * in, row, 0, in);
                float s = dot(x[i], row, order);
                y[i][j] = b == null ? s : s + b[j];
            }
        }
        return y;
    }

    /** The float32 RoPE: invFreq as floats, the angle a float product, cos/sin of it in double, rounded. */
    static void rope32(float[][] x, int heads, int d, float[] inv) {
        for (int pos = 0; pos < x.length; pos++) {
            rope32Row(x[pos], pos, heads, d, inv);
        }
    }

    static void rope32Row(float[] x, int pos, int heads, int d, float[] inv) {
        int half = d / 2;
        for (int j = 0; j < half; j++) {
            float angle = (float) pos * inv[j];
            float c = (float) Math.cos(angle);
            float s = (float) Math.sin(angle);
            for (int head = 0; head < heads; head++) {
                float x1 = x[head * d + j];
                float x2 = x[head * d + j + half];
                x[head * d + j] = x1 * c - x2 * s;
                x[head * d + j + half] = x2 * c + x1 * s;
            }
        }
    }

    /** Σ a_i·b_i in float32, in the given order (products rounded first, except with FMA). */
    static float dot(float[] a, float[] b, Order order) {
        int n = a.length;
        if (order == Order.FMA) {
            float s = 0;
            for (int i = 0; i < n; i++) {
                s = Math.fma(a[i], b[i], s);
            }
            return s;
        }
        float[] p = new float[n];
        for (int i = 0; i < n; i++) {
            p[i] = a[i] * b[i];
        }
        return sum(p, order);
    }

    static float sum(float[] p, Order order) {
        int n = p.length;
        switch (order) {
            case REVERSED: {
                float s = 0;
                for (int i = n - 1; i >= 0; i--) {
                    s += p[i];
                }
                return s;
            }
            case PAIRWISE:
                return pairwise(p, 0, n);
            case SPLIT3: {
                // Three "ranks", each summing its contiguous block, then a reduce of the partials.
                float total = 0;
                for (int r = 0; r < 3; r++) {
                    int from = r * n / 3;
                    int to = (r + 1) * n / 3;
                    float s = 0;
                    for (int i = from; i < to; i++) {
                        s += p[i];
                    }
                    total += s;
                }
                return total;
            }
            default: {
                float s = 0;
                for (int i = 0; i < n; i++) {
                    s += p[i];
                }
                return s;
            }
        }
    }

    private static float pairwise(float[] p, int from, int to) {
        if (to - from <= 2) {
            float s = 0;
            for (int i = from; i < to; i++) {
                s += p[i];
            }
            return s;
        }
        int mid = (from + to) >>> 1;
        return pairwise(p, from, mid) + pairwise(p, mid, to);
    }
}
