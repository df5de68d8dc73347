package dev.tp4j.reference;

import dev.tp4j.backend.Activation;
import dev.tp4j.backend.DTypeChoice;
import dev.tp4j.tensor.DType;

/**
 * The sequential computation in float64, each step carrying the error bound of the float32 work it
 * checks. With unit roundoff {@code u = 2⁻²⁴} and {@code γ_n = n·u / (1 − n·u)}:
 * <ul>
 *   <li>a dot product of K terms plus a bias, summed in any order and split over any number of ranks,
 *       is off by at most {@code γ_{K+1}·(Σ|x_k·w_k| + |b|)} (Higham, <i>Accuracy and Stability of
 *       Numerical Algorithms</i>, §3.1); errors already in x add {@code Σ err(x_k)·|w_k|};</li>
 *   <li>an activation passes an input error on scaled by its Lipschitz constant L and adds its own
 *       approximation error and one rounding.</li>
 * </ul>
 */
public final class Float64Reference {
    /** Unit roundoff of float32. */
    public static final double U32 = 0x1.0p-24;

    private Float64Reference() {
    }

    public static double gamma(long n) {
        double nu = n * U32;
        return nu / (1 - nu);
    }

    /**
     * {@code y = x·wᵀ + b} for {@code x [m, k]}, {@code w [n, k]}, {@code b [n]} (nullable); the bound
     * covers the float32 GEMM with fp32 accumulation in any summation order.
     */
    public static Bounded linear(Bounded x, int m, int k, double[] w, int n, double[] b) {
        return linear(x, m, k, w, n, b, DType.F32);
    }

    /**
     * {@link #linear(Bounded, int, int, double[], int, double[])} with both GEMM inputs first rounded to
     * {@code inputs} (a GPU rank's BF16/F16 weights): a rounded value is {@code v(1+δ) + η} with
     * {@code |δ| ≤ u}, {@code |η| ≤ a} ({@link DTypeChoice#inputRoundoff}, {@link DTypeChoice#inputUnderflow}),
     * so each product is off by at most {@code e_x|w| + |x|e_w + e_x·e_w}, {@code e_v = u|v| + a}, before
     * the F32 accumulation, whose {@code γ_{K+1}} then applies to the rounded products' magnitudes.
     * For F32 ({@code u = a = 0}) this is the float32 bound above.
     */
    public static Bounded linear(Bounded x, int m, int k, double[] w, int n, double[] b, DType inputs) {
        if (x.length() != (long) m * k || w.length != (long) n * k || (b != null && b.length != n)) {
            throw new IllegalArgumentException("linear: shapes do not chain");
        }
        double u = DTypeChoice.inputRoundoff(inputs);
        double a = DTypeChoice.inputUnderflow(inputs);
        double[] value = new double[m * n];
        double[] bound = new double[m * n];
        double g = gamma(k + 1L);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double sum = b == null ? 0 : b[j];
                double magnitude = b == null ? 0 : Math.abs(b[j]);
                double inherited = 0;
                double rounding = 0;
                for (int t = 0; t < k; t++) {
                    double xv = x.value()[i * k + t];
                    double xe = x.bound()[i * k + t];
                    double wv = w[j * k + t];
                    sum += xv * wv;
                    // The float GEMM multiplies the computed x, which may be up to xe larger in magnitude.
                    double ax = Math.abs(xv) + xe;
                    double aw = Math.abs(wv);
                    double ex = u * ax + a;
                    double ew = u * aw + a;
                    magnitude += (ax + ex) * (aw + ew);
                    inherited += xe * aw;
                    rounding += ex * aw + ax * ew + ex * ew;
                }
                value[i * n + j] = sum;
                bound[i * n + j] = inherited + rounding + g * magnitude;
            }
        }
        return new Bounded(value, bound);
    }

    /** {@code act(z)} elementwise, as a float32 rank computes it (one rounding after the activation). */
    public static Bounded activate(Activation act, Bounded z) {
        double[] value = new double[z.length()];
        double[] bound = new double[z.length()];
        double lipschitz = act.lipschitz();
        for (int i = 0; i < value.length; i++) {
            double x = z.value()[i];
            double v = act.reference(x);
            double propagated = lipschitz * z.bound()[i];
            // The computed input may be off by z.bound: the approximation error is taken at its largest.
            double approximation = act.approximationError(Math.abs(x) + z.bound()[i]);
            value[i] = v;
            // One rounding of the result; Float.MIN_VALUE covers a result that underflows to a subnormal.
            bound[i] = propagated + approximation + U32 * (Math.abs(v) + propagated + approximation) + Float.MIN_VALUE;
        }
        return new Bounded(value, bound);
    }

    /** {@code act(g) ⊙ v} elementwise: the gated MLP's hidden state (two roundings: act, product). */
    public static Bounded gated(Activation act, Bounded gate, Bounded up) {
        Bounded a = activate(act, gate);
        double[] value = new double[a.length()];
        double[] bound = new double[a.length()];
        for (int i = 0; i < value.length; i++) {
            double av = a.value()[i];
            double ae = a.bound()[i];
            double uv = up.value()[i];
            double ue = up.bound()[i];
            double product = av * uv;
            double propagated = Math.abs(av) * ue + Math.abs(uv) * ae + ae * ue;
            value[i] = product;
            bound[i] = propagated + U32 * (Math.abs(product) + propagated);
        }
        return new Bounded(value, bound);
    }

    /**
     * The full weights of an MLP in nn.Linear layout: {@code up [ffn, hidden]}, {@code gate [ffn, hidden]}
     * or null for the plain form, {@code down [hidden, ffn]}; each bias null where the layer has none.
     */
    public record MlpWeights(int hidden, int ffn, double[] up, double[] upBias, double[] gate, double[] gateBias,
                             double[] down, double[] downBias) {
    }

    /**
     * The MLP as one process computes it: {@code down(act(x·upᵀ + b))}, or with a gate
     * {@code down(act(x·gateᵀ) ⊙ (x·upᵀ))}, for {@code x [tokens, hidden]}.
     */
    public static Bounded mlp(Bounded x, int tokens, Activation act, MlpWeights w) {
        return mlp(x, tokens, act, w, DType.F32);
    }

    /** {@link #mlp(Bounded, int, Activation, MlpWeights)} with every GEMM's inputs rounded to {@code inputs}. */
    public static Bounded mlp(Bounded x, int tokens, Activation act, MlpWeights w, DType inputs) {
        int h = w.hidden();
        int f = w.ffn();
        Bounded up = linear(x, tokens, h, w.up(), f, w.upBias(), inputs);
        Bounded hiddenState = w.gate() == null ? activate(act, up)
                : gated(act, linear(x, tokens, h, w.gate(), f, w.gateBias(), inputs), up);
        return linear(hiddenState, tokens, f, w.down(), h, w.downBias(), inputs);
    }
}
