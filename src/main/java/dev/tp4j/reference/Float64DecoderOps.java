package dev.tp4j.reference;

import static dev.tp4j.reference.Float64Reference.U32;
import static dev.tp4j.reference.Float64Reference.gamma;

import dev.tp4j.model.ModelConfig.RopeScaling;
import java.util.stream.IntStream;

/**
 * The operations of a Llama-family decoder in float64, each value carrying the bounds of the float32
 * computation it checks: elementwise and, per row and head, on the error's 2-norm ({@link BoundedRows}).
 *
 * <p>Notation: {@code u = 2⁻²⁴}, {@code γ_n = n·u/(1 − n·u)}; a float32 operation gives
 * {@code fl(a ∘ b) = (a ∘ b)(1 + δ)}, {@code |δ| ≤ u} (Higham's standard model). {@code e} is an element's
 * bound, {@code N} a block's 2-norm bound, {@code ‖·‖} the 2-norm. Each method states the float32 recipe it
 * bounds; "computed" means that recipe applied to float32 inputs which are themselves within their bounds.
 * Incoming errors are propagated through Lipschitz bounds taken over the whole segment between the exact
 * and the computed input (magnitudes at {@code |v| + e}, {@code ‖v‖ + N}), so the bounds are rigorous and
 * not only to first order; the reference's own float64 rounding (relative 10⁻¹⁶) and underflow in the
 * projections are not modelled, as in {@link Float64Reference}.
 *
 * <p><b>Sums in any order.</b> A float32 sum of k products in any order (any split over ranks, any tree,
 * with or without FMA) is off by at most {@code γ_k·Σ|p|} (Higham §3.1). Sharper: every partial sum of any
 * order is the sum of a subset of the terms, so it lies in {@code [−Nₚ, Pₚ]}, where {@code Pₚ} and
 * {@code Nₚ} sum the positive terms and the magnitudes of the negative ones; each of the k additions (the
 * bias's, by whichever rank, included) rounds by {@code u·|partial|}, the products by {@code u·|p|}:
 * <pre>  |error| ≤ u·Σ|p| + k·u·((1 + u)·max(Pₚ, Nₚ) + |b| + γ_k·(Σ|p| + |b|))</pre>
 * with {@code max(Pₚ, Nₚ) = (Σ|p| + |Σp|)/2}: about half of γ_k·Σ|p| when the signs are mixed. Both
 * bounds are computed and the smaller one used ({@link #sumError}).
 */
public final class Float64DecoderOps {
    /** The absolute error of a float32 rounding that lands in the subnormal range (2⁻¹⁴⁹, an ulp there). */
    static final double SUBNORMAL = Float.MIN_VALUE;
    /** A bound on the error of java.lang.Math's cos, sin and exp: 1 ulp of a double, relative. */
    static final double MATH_ULP = 0x1.0p-52;
    /** Where silu' has its extremes, ±2.3994: silu'' = σ'(x)·(2 + x(1 − 2σ(x))) vanishes there. */
    private static final double SILU_CRITICAL = 2.3993572805154676;
    private static final double SILU_SLOPE_MAX = siluSlope(SILU_CRITICAL) + 1e-12;
    private static final double SILU_SLOPE_MIN = siluSlope(-SILU_CRITICAL) - 1e-12;

    private Float64DecoderOps() {
    }

    /**
     * {@code x} as a GEMM with half-precision weights reads it: each element rounded to nearest in a dtype of
     * unit roundoff {@code u} whose values below its normal range are off by at most {@code a}
     * ({@link dev.tp4j.backend.DTypeChoice#inputRoundoff}, {@code inputUnderflow}; a GPU rank rounds x to its
     * weights' dtype before cublasGemmEx). The computed {@code x̂} is within {@code e} of x, its rounding within
     * {@code u·|x̂| + a ≤ u·(|x| + e) + a} of x̂: elementwise {@code e' = e + u(|x| + e) + a}, and each block's
     * norm grows by the 2-norm of those increments (triangle inequality). {@code u = a = 0} (F32) is x itself.
     */
    public static BoundedRows roundedTo(BoundedRows x, double u, double a) {
        if (u == 0 && a == 0) {
            return x;
        }
        double[] bound = new double[x.bound().length];
        double[] norm = new double[x.norm().length];
        int width = x.blockWidth();
        for (int r = 0; r < x.rows(); r++) {
            for (int b = 0; b < x.blocks(); b++) {
                double squares = 0;
                for (int i = r * x.cols() + b * width; i < r * x.cols() + (b + 1) * width; i++) {
                    double e = x.bound()[i];
                    double added = u * (Math.abs(x.value()[i]) + e) + a;
                    bound[i] = (e + added) * (1 + 1e-12);
                    squares += added * added;
                }
                // Rounded up by a relative 10⁻¹², far more than the float64 rounding of this evaluation.
                norm[r * x.blocks() + b] = (x.norm()[r * x.blocks() + b] + Math.sqrt(squares)) * (1 + 1e-12);
            }
        }
        return new BoundedRows(x.rows(), x.cols(), x.blocks(), x.value(), bound, norm).tightened();
    }

    /**
     * A projection's weight {@code [rows, cols]} (nn.Linear layout), float32 as the checkpoint holds it,
     * with each row's 2-norm and a certified spectral norm per block of {@code rows / blocks} rows (one per
     * head for q/k/v), or null where no error norm is wanted downstream (the LM head).
     */
    public record Weight(float[] w, int rows, int cols, int blocks, double[] rowNorm, double[] spectral) {

        /** Computes the row norms and, when {@code withSpectral}, the certified spectral norms. */
        public static Weight of(float[] w, int rows, int cols, int blocks, boolean withSpectral) {
            if (w.length != (long) rows * cols || rows % blocks != 0) {
                throw new IllegalArgumentException("weight: " + w.length + " values for " + rows + " × " + cols
                        + " in " + blocks + " blocks");
            }
            double[] rowNorm = new double[rows];
            for (int j = 0; j < rows; j++) {
                double s = 0;
                for (int t = 0; t < cols; t++) {
                    double v = w[j * cols + t];
                    s += v * v;
                }
                // Rounded up by a relative 2⁻⁴⁸: more than the double sum's own error for any realistic width.
                rowNorm[j] = Math.sqrt(s) * (1 + 0x1.0p-48);
            }
            double[] spectral = null;
            if (withSpectral) {
                spectral = new double[blocks];
                int per = rows / blocks;
                for (int b = 0; b < blocks; b++) {
                    spectral[b] = SpectralNorm.upperBound(w, cols, b * per, per);
                }
            }
            return new Weight(w, rows, cols, blocks, rowNorm, spectral);
        }
    }

    /**
     * A bound on the rounding error of a float32 sum of k terms plus {@code |b|} in any order (see the class
     * comment): {@code magnitude} bounds {@code Σ|p|} of the computed terms, {@code signed} bounds
     * {@code |Σp|} of them.
     */
    static double sumError(int k, double magnitude, double signed, double bias) {
        double b = Math.abs(bias);
        double gk = gamma(k);
        double classic = gamma(k + (b == 0 ? 0L : 1L)) * (magnitude + b);
        double maxSide = Math.min(magnitude, (magnitude + signed) / 2);
        double subsets = U32 * magnitude + k * U32 * ((1 + U32) * maxSide + b + gk * (magnitude + b));
        return Math.min(classic, subsets);
    }

    /**
     * {@code y = x·Wᵀ + b} for every row of {@code x [m, k]}: a float32 GEMM with fp32 accumulation in any
     * order, split over any number of ranks, the bias added once in float32.
     *
     * <p>Derivation. The incoming error of row i is Δ with {@code ‖Δ‖ ≤ N_i}: output j inherits
     * {@code |w_j·Δ| ≤ ‖w_j‖·N_i} (Cauchy–Schwarz) and the block of outputs b (a head) inherits
     * {@code ‖W_b·Δ‖ ≤ ‖W_b‖₂·N_i}. The computed products have {@code Σ|x̂·w| ≤ Σ|x·w| + ‖w_j‖N_i} and
     * {@code |Σx̂·w| ≤ |Σx·w| + ‖w_j‖N_i}, and round as {@link #sumError} says: {@code r_j}. So
     * {@code e_j = ‖w_j‖·N_i + r_j}, {@code N_b = ‖W_b‖₂·N_i + ‖r_b‖} (or {@code ‖e_b‖} if smaller). The
     * elementwise inheritance {@code Σ_t e_t|w_jt|} is not used: per element it is about as large as
     * {@code ‖w_j‖·N} when the errors are of similar size, and would cost a third product per multiply-add; the
     * gain is in the blocks, whose norm grows by {@code ‖W_b‖₂}, about √k/2 times less than the 2-norm of the
     * elementwise bounds grows for mixed-sign weights.
     */
    public static BoundedRows linear(BoundedRows x, Weight w, float[] bias) {
        int m = x.rows();
        int k = x.cols();
        int n = w.rows();
        if (w.cols() != k || (bias != null && bias.length != n)) {
            throw new IllegalArgumentException("linear: [" + m + ", " + k + "] against a weight [" + n + ", " + w.cols() + "]");
        }
        double[] inNorm = new double[m];
        for (int i = 0; i < m; i++) {
            inNorm[i] = x.rowNorm(i);
        }
        double[] value = new double[m * n];
        double[] magnitude = new double[m * n];
        Kernels64.products(x.value(), m, k, w.w(), n, value, magnitude);
        double[] bound = new double[m * n];
        double[] fresh = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                int o = i * n + j;
                double b = bias == null ? 0 : bias[j];
                double dot = value[o];
                double inherited = w.rowNorm()[j] * inNorm[i];
                double r = sumError(k, magnitude[o] + inherited, Math.abs(dot) + inherited, b);
                value[o] = dot + b;
                fresh[o] = r;
                bound[o] = inherited + r;
            }
        }
        int blocks = w.blocks();
        int per = n / blocks;
        double[] norm = new double[m * blocks];
        for (int i = 0; i < m; i++) {
            for (int b = 0; b < blocks; b++) {
                double s = 0;
                for (int j = b * per; j < (b + 1) * per; j++) {
                    s += fresh[i * n + j] * fresh[i * n + j];
                }
                norm[i * blocks + b] = w.spectral() == null ? Double.POSITIVE_INFINITY
                        : w.spectral()[b] * inNorm[i] + Math.sqrt(s);
            }
        }
        return new BoundedRows(m, n, blocks, value, bound, norm).tightened();
    }

    /**
     * RMSNorm of each row of {@code x [m, n]}: {@code y = w ⊙ x / sqrt(mean(x²) + eps)} (transformers'
     * LlamaRMSNorm: in fp32, eps inside the square root, the weight after).
     *
     * <p>The float32 recipe: {@code S = Σ x²} accumulated in float32 in any order, {@code d = S/n + eps}
     * (the mean by a division or a multiplication by a rounded 1/n, eps rounded to float), {@code r =
     * 1/sqrt(d)} (two float32 roundings, or one rounding of a double computation), then
     * {@code y = w·(x·r)}: two roundings.
     *
     * <p><b>Roundings</b>. With {@code d(x) = ‖x‖²/n + eps} and {@code r(x) = d^{-1/2}}: the dot product of n
     * squares, the mean (≤ 2 roundings) and the addition are all of positive terms, so they perturb d by a
     * relative {@code γ_{n+3}}; one spare rounding covers eps's conversion: {@code d̂ = d(x̂)(1 + θ)},
     * {@code |θ| ≤ γ_{n+4}}, and {@code r̂ = r(x̂)(1 + φ)} with {@code |φ| ≤ ε_rnd = (1 + γ₂)/√(1 − γ_{n+4}) − 1}.
     *
     * <p><b>Norm</b>. {@code ŷ = w ⊙ g(x̂) ⊙ (1 + η)}, {@code g(z) = z·r(z)}, {@code |η_i| ≤ ε = (1 + ε_rnd)(1 + u)² − 1}.
     * The Jacobian of g is {@code r(I − r²zzᵀ/n)}, with eigenvalues r and {@code r·eps/d ∈ (0, r]}: its
     * 2-norm is r(z), at most {@code r_max = ((max(0, ‖x‖ − N))²/n + eps)^{-1/2}} on the segment from x to x̂.
     * So {@code ‖ŷ − y‖ ≤ max|w|·r_max·N + ε·(‖y‖ + max|w|·r_max·N)} — the r-derivative term costs nothing in
     * the 2-norm, unlike elementwise.
     *
     * <p><b>Elements</b>, the smaller of two bounds. (a) From the elements: the computed inputs change Σx²
     * by at most {@code 2Σ|x|e + Σe²}, so {@code |d̂ − d| ≤ ε_d·d} with
     * {@code ε_d = (2Σ|x|e + Σe²)(1 + γ_{n+4})/(n·d) + γ_{n+4}}, {@code |r̂/r − 1| ≤ ε_r = (1 + γ₂)/√(1 − ε_d) − 1},
     * and {@code |ŷ_i − y_i| ≤ |w_i|(e_i·r(1 + ε_r) + |x_i|·r·ε_r)(1 + γ₂) + γ₂·|w_i x_i|·r}. (b) From the norm:
     * {@code ‖∇r‖ = r³‖z‖/n}, so {@code |r̂ − r| ≤ δ_r = L + ε_rnd(r + L)} with
     * {@code L = r_max³(‖x‖ + N)·N/n}, and {@code |ŷ_i − y_i| ≤ |w_i|(e_i(r + δ_r) + |x_i|δ_r)(1 + u)² +
     * ((1 + u)² − 1)|w_i x_i| r}.
     */
    public static BoundedRows rmsNorm(BoundedRows x, float[] w, double eps) {
        int m = x.rows();
        int n = x.cols();
        if (w.length != n) {
            throw new IllegalArgumentException("rmsNorm: " + n + " columns against a weight of " + w.length);
        }
        double[] value = new double[m * n];
        double[] bound = new double[m * n];
        double[] norm = new double[m];
        double gd = gamma(n + 4L);
        double g2 = gamma(2);
        double epsRnd = (1 + g2) / Math.sqrt(1 - gd) - 1;
        double epsTot = (1 + epsRnd) * (1 + U32) * (1 + U32) - 1;
        double twoRoundings = (1 + U32) * (1 + U32) - 1;
        double maxW = 0;
        for (float wt : w) {
            maxW = Math.max(maxW, Math.abs(wt));
        }
        for (int i = 0; i < m; i++) {
            int o = i * n;
            double squares = 0;
            double cross = 0;
            double errorSquares = 0;
            for (int t = 0; t < n; t++) {
                double v = x.value()[o + t];
                double e = x.bound()[o + t];
                squares += v * v;
                cross += Math.abs(v) * e;
                errorSquares += e * e;
            }
            double inNorm = x.rowNorm(i);
            double length = Math.sqrt(squares);
            double d = squares / n + eps;
            double r = 1 / Math.sqrt(d);
            double shortest = Math.max(0, length - inNorm);
            double rMax = 1 / Math.sqrt(shortest * shortest / n + eps);
            // (a) elementwise
            double epsD = (2 * cross + errorSquares) * (1 + gd) / (n * d) + gd;
            double epsR = epsD < 1 ? (1 + g2) / Math.sqrt(1 - epsD) - 1 : Double.POSITIVE_INFINITY;
            // (b) from the norm
            double lip = rMax * rMax * rMax * (length + inNorm) * inNorm / n;
            double deltaR = lip + epsRnd * (r + lip);
            double outSquares = 0;
            for (int t = 0; t < n; t++) {
                double v = x.value()[o + t];
                double e = x.bound()[o + t];
                double aw = Math.abs(w[t]);
                double y = w[t] * (v * r);
                value[o + t] = y;
                outSquares += y * y;
                double a = aw * (e * r * (1 + epsR) + Math.abs(v) * r * epsR) * (1 + g2) + g2 * Math.abs(y);
                double b = aw * (e * (r + deltaR) + Math.abs(v) * deltaR) * (1 + twoRoundings) + twoRoundings * Math.abs(y);
                bound[o + t] = Math.min(a, b);
            }
            double inherited = maxW * rMax * inNorm;
            norm[i] = inherited + epsTot * (Math.sqrt(outSquares) + inherited);
        }
        return new BoundedRows(m, n, 1, value, bound, norm).tightened();
    }

    /**
     * The rotary inverse frequencies, in float64, of transformers' {@code _compute_default_rope_parameters}
     * ({@code 1/θ^(2i/headDim)}, {@code i < headDim/2}) and, when {@code scaling} is given,
     * {@code _compute_llama3_parameters}: wavelengths {@code 2π/f} longer than
     * {@code original/lowFreqFactor} are divided by {@code factor}, shorter than
     * {@code original/highFreqFactor} kept, and those between interpolated with
     * {@code s = (original/wavelength − low)/(high − low)}: {@code (1 − s)·f/factor + s·f}.
     */
    public static double[] inverseFrequencies(int headDim, double theta, RopeScaling scaling) {
        double[] f = new double[headDim / 2];
        for (int i = 0; i < f.length; i++) {
            f[i] = 1.0 / Math.pow(theta, (2.0 * i) / headDim);
        }
        if (scaling != null) {
            double old = scaling.originalMaxPositions();
            double lowWavelength = old / scaling.lowFreqFactor();
            double highWavelength = old / scaling.highFreqFactor();
            for (int i = 0; i < f.length; i++) {
                double wavelength = 2 * Math.PI / f[i];
                if (wavelength > lowWavelength) {
                    f[i] = f[i] / scaling.factor();
                } else if (!(wavelength < highWavelength)) {
                    double s = (old / wavelength - scaling.lowFreqFactor())
                            / (scaling.highFreqFactor() - scaling.lowFreqFactor());
                    f[i] = (1 - s) * f[i] / scaling.factor() + s * f[i];
                }
            }
        }
        return f;
    }

    /**
     * Rotate-half RoPE of each head of {@code x [m, heads·headDim]}, row i at {@code positions[i]}: for
     * {@code j < h = headDim/2}, {@code out_j = x_j·cos − x_{j+h}·sin}, {@code out_{j+h} = x_{j+h}·cos + x_j·sin}
     * with the angle {@code position·invFreq[j]} (transformers' rotate_half with {@code cos = cat(freqs, freqs)}).
     *
     * <p>The float32 recipe: {@code invFreq} rounded to float, {@code angle = (float) position · invFreq} in
     * float32, {@code c, s} = cos and sin of that float angle computed in double and rounded to float, then
     * {@code x1·c − x2·s} and {@code x2·c + x1·s} in float32.
     *
     * <p><b>The angle</b>: the rounded inverse frequency is off by a relative u, and 1 u more is allowed for
     * its double computation (pow, the llama3 interpolation: a few 2⁻⁵³); the product rounds once:
     * {@code |â − a| ≤ ε_a = γ₃·|a|}. That error is absolute in the angle, so it grows with the position
     * (position 10⁵ at invFreq 1: ε_a ≈ 0.02). cos and sin are 1-Lipschitz, and to second order
     * {@code |cos â − cos a| ≤ |sin a|·ε_a + ε_a²/2}: {@code ε_c = min(ε_a, |sin a|ε_a + ε_a²/2) + 2⁻⁵² +
     * u·(|cos a| + that) + 2⁻¹⁴⁹} (Math.cos's ulp, the rounding to float), likewise ε_s.
     *
     * <p><b>Elements</b>: {@code |x̂₁ĉ − x₁c| ≤ e₁(|c| + ε_c) + |x₁|ε_c}, and the two products and the sum round:
     * {@code γ₂·((|x₁| + e₁)(|c| + ε_c) + (|x₂| + e₂)(|s| + ε_s))}. <b>Norm</b> of a head: the exact rotation R is
     * orthogonal, so it carries Δ with its norm; {@code R̂ − R} acts on each pair as {@code [[Δc, −Δs], [Δs, Δc]]},
     * a scaled rotation of norm {@code √(Δc² + Δs²)}: {@code ‖(R̂ − R)x̂‖ ≤ √(Σ_j (ε_c² + ε_s²)‖x_pair‖²) +
     * max_j √(ε_c² + ε_s²)·N}; the roundings add the 2-norm of the elementwise γ₂ terms.
     */
    public static BoundedRows rope(BoundedRows input, int headDim, int[] positions, double[] invFreq) {
        int m = input.rows();
        int width = input.cols();
        int heads = width / headDim;
        int half = headDim / 2;
        if (width % headDim != 0 || positions.length != m || invFreq.length != half) {
            throw new IllegalArgumentException("rope: shapes do not chain");
        }
        BoundedRows x = input.withBlocks(heads);
        double[] value = new double[m * width];
        double[] bound = new double[m * width];
        double[] norm = new double[m * heads];
        double g2 = gamma(2);
        double g3 = gamma(3);
        double[] cos = new double[half];
        double[] sin = new double[half];
        double[] errCos = new double[half];
        double[] errSin = new double[half];
        for (int i = 0; i < m; i++) {
            double maxPairError = 0;
            for (int j = 0; j < half; j++) {
                double a = positions[i] * invFreq[j];
                double c = Math.cos(a);
                double s = Math.sin(a);
                double ea = g3 * Math.abs(a);
                double dc = Math.min(ea, Math.abs(s) * ea + ea * ea / 2) + MATH_ULP;
                double ds = Math.min(ea, Math.abs(c) * ea + ea * ea / 2) + MATH_ULP;
                cos[j] = c;
                sin[j] = s;
                errCos[j] = dc + U32 * (Math.abs(c) + dc) + SUBNORMAL;
                errSin[j] = ds + U32 * (Math.abs(s) + ds) + SUBNORMAL;
                maxPairError = Math.max(maxPairError, Math.hypot(errCos[j], errSin[j]));
            }
            for (int h = 0; h < heads; h++) {
                int base = i * width + h * headDim;
                double inNorm = x.norm()[i * heads + h];
                double rotation = 0;
                double fresh = 0;
                for (int j = 0; j < half; j++) {
                    int p = base + j;
                    int q = base + j + half;
                    double x1 = x.value()[p];
                    double x2 = x.value()[q];
                    double e1 = x.bound()[p];
                    double e2 = x.bound()[q];
                    double c = cos[j];
                    double s = sin[j];
                    double ec = errCos[j];
                    double es = errSin[j];
                    double ac = Math.abs(c) + ec;
                    double as = Math.abs(s) + es;
                    double a1 = Math.abs(x1);
                    double a2 = Math.abs(x2);
                    value[p] = x1 * c - x2 * s;
                    value[q] = x2 * c + x1 * s;
                    double fp = g2 * ((a1 + e1) * ac + (a2 + e2) * as);
                    double fq = g2 * ((a2 + e2) * ac + (a1 + e1) * as);
                    bound[p] = e1 * ac + a1 * ec + e2 * as + a2 * es + fp;
                    bound[q] = e2 * ac + a2 * ec + e1 * as + a1 * es + fq;
                    rotation += (ec * ec + es * es) * (x1 * x1 + x2 * x2);
                    fresh += fp * fp + fq * fq;
                }
                norm[i * heads + h] = inNorm + Math.sqrt(rotation) + maxPairError * inNorm + Math.sqrt(fresh);
            }
        }
        return new BoundedRows(m, width, heads, value, bound, norm).tightened();
    }

    /**
     * Causal grouped-query attention over a prompt: {@code q [m, heads·headDim]} (after RoPE),
     * {@code k, v [m, kvHeads·headDim]}; query head h reads kv head {@code h / (heads/kvHeads)}
     * (transformers' repeat_kv) and the query at row t the keys at rows {@code 0..t}. Returns
     * {@code [m, heads·headDim]} in blocks of one head, each head's {@code Σ_j softmax(q·k_j/√headDim)_j · v_j}.
     *
     * <p>The float32 recipe, per (query, head), over the n = t + 1 keys: {@code s_j = (q·k_j)·scale} with the
     * dot in float32 in any order (or q scaled first) and {@code scale = 1/√headDim} rounded to float (≤ 2
     * roundings); {@code m = max_j s_j}; {@code e_j = exp(s_j − m)} computed in double and rounded to float
     * (the subtraction in float32 or in double); {@code Z = Σ e_j} in float32, any order; {@code p_j = e_j / Z}
     * in float32 (or {@code e_j·(1/Z)}); {@code out = Σ_j p_j·v_j} in float32, any order.
     *
     * <p><b>Scores</b>: {@code ŝ − s = scale·[(q̂·k̂ − q·k) + ζ](1+σ)(1+δ) + scale·q·k·((1+σ)(1+δ) − 1)} with ζ the
     * dot's rounding ({@link #sumError}) and {@code |σ| ≤ γ₂}: {@code ε_s = scale·((I + |ζ|)(1 + γ₃) + γ₃·Σ|q̂||k̂|)}
     * where I bounds {@code |q̂·k̂ − q·k|} by the smaller of {@code Σ(e_q|k| + |q|e_k + e_q e_k)} and
     * {@code N_q‖k‖ + ‖q‖N_k + N_q N_k}; with {@code Σ|q̂||k̂|} rather than {@code |q·k|} in the last term it
     * also covers q scaled elementwise before the dot (each product then carries the scaling's roundings). <b>The shift</b>: softmax is invariant under the computed max m̂, so
     * m̂ contributes nothing but the rounding of {@code ŝ_j − m̂} in float, at most
     * {@code u·(s_max − s_j + 2E)} ({@code E = max_j ε_{s_j}}); it joins the score error:
     * {@code d_j = ε_{s_j} + u·(s_max − s_j + 2E)}. <b>Propagation through softmax</b>: the Jacobian is
     * {@code ∂p_j/∂s_k = p_j(δ_jk − p_k)}, so to first order {@code |Δp_j| ≤ p_j·(d_j + Σ_k p_k d_k)}; along the
     * segment from s to ŝ every {@code p_k} grows by at most {@code e^{2D}} ({@code D = max_j d_j}), which makes
     * it rigorous: {@code |Δp_j| ≤ e^{2D}·p_j·(d_j + e^{2D}·Σ_k p_k d_k)}. <b>Roundings of the softmax</b>:
     * with {@code a_j = exp(s̃_j − m̂)} (s̃ the perturbed scores), {@code ê_j = a_j(1+δ_j)(1+μ_j)} (float
     * rounding, Math.exp's ulp μ), {@code Ẑ = Σ ê_k(1+θ_k)}, {@code |θ_k| ≤ γ_{n−1}} (positive terms), and
     * {@code p̂_j = ê_j/Ẑ·(1+δ'_j) = p̃_j·(1+δ_j)(1+μ_j)(1+δ'_j)/Σ_k p̃_k(1+δ_k)(1+μ_k)(1+θ_k)}: the denominator
     * is a convex combination, so {@code p̂_j = p̃_j(1 + ρ_j)},
     * {@code |ρ_j| ≤ R = (1+u)³(1+μ)/((1−u)(1−μ)(1−γ_{n−1})) − 1} (≈ {@code 4u + γ_{n−1}}: one u more than
     * the division needs, for {@code e_j·(1/Z)}); underflowing
     * exponentials and probabilities add {@code (n + 2)·2⁻¹⁴⁹} (Ẑ ≥ 1: the max's term is exp(0) = 1):
     * {@code ε_{p_j} = |Δp_j| + R·(p_j + |Δp_j|) + (n + 2)·2⁻¹⁴⁹}. <b>Output</b>: elementwise
     * {@code Σ_j (ε_{p_j}(|v_j| + e_{v_j}) + p_j e_{v_j})} plus the rounding of the n-term sum; in norm
     * {@code Σ_j ε_{p_j}(‖v_j‖ + N_{v_j}) + Σ_j p_j N_{v_j}} plus the 2-norm of the roundings.
     */
    public static BoundedRows attention(BoundedRows query, BoundedRows key, BoundedRows val, int headDim) {
        int m = query.rows();
        int heads = query.cols() / headDim;
        int kvHeads = key.cols() / headDim;
        if (query.cols() % headDim != 0 || key.cols() != kvHeads * headDim || val.cols() != key.cols()
                || key.rows() != m || val.rows() != m || heads % kvHeads != 0) {
            throw new IllegalArgumentException("attention: shapes do not chain");
        }
        BoundedRows q = query.withBlocks(heads);
        BoundedRows k = key.withBlocks(kvHeads);
        BoundedRows v = val.withBlocks(kvHeads);
        int qWidth = heads * headDim;
        int kvWidth = kvHeads * headDim;
        int group = heads / kvHeads;
        double scale = 1 / Math.sqrt(headDim);
        double g3 = gamma(3);
        double[] kLength = blockLengths(k);
        double[] vLength = blockLengths(v);
        double[] value = new double[m * qWidth];
        double[] bound = new double[m * qWidth];
        double[] norm = new double[m * heads];
        IntStream.range(0, m * heads).parallel().forEach(task -> {
            int t = task / heads;
            int h = task % heads;
            int g = h / group;
            int n = t + 1;
            int qo = t * qWidth + h * headDim;
            double qNorm = q.norm()[t * heads + h];
            double qLength = 0;
            for (int d = 0; d < headDim; d++) {
                qLength += q.value()[qo + d] * q.value()[qo + d];
            }
            qLength = Math.sqrt(qLength);
            double[] s = new double[n];
            double[] es = new double[n];
            double sMax = Double.NEGATIVE_INFINITY;
            double eMax = 0;
            for (int j = 0; j < n; j++) {
                int ko = j * kvWidth + g * headDim;
                double kNorm = k.norm()[j * kvHeads + g];
                double kLen = kLength[j * kvHeads + g];
                double dot = 0;
                double inheritedE = 0;
                double magnitudeE = 0;
                for (int d = 0; d < headDim; d++) {
                    double qv = q.value()[qo + d];
                    double qe = q.bound()[qo + d];
                    double kv = k.value()[ko + d];
                    double ke = k.bound()[ko + d];
                    dot += qv * kv;
                    inheritedE += qe * Math.abs(kv) + Math.abs(qv) * ke + qe * ke;
                    magnitudeE += (Math.abs(qv) + qe) * (Math.abs(kv) + ke);
                }
                double inherited = Math.min(inheritedE, qNorm * kLen + qLength * kNorm + qNorm * kNorm);
                double magnitude = Math.min(magnitudeE, (qLength + qNorm) * (kLen + kNorm));
                double zeta = sumError(headDim, magnitude, Math.abs(dot) + inherited, 0);
                s[j] = dot * scale;
                es[j] = scale * ((inherited + zeta) * (1 + g3) + g3 * magnitude);
                sMax = Math.max(sMax, s[j]);
                eMax = Math.max(eMax, es[j]);
            }
            double[] p = new double[n];
            double[] dj = new double[n];
            double z = 0;
            double dMax = 0;
            for (int j = 0; j < n; j++) {
                p[j] = Math.exp(s[j] - sMax);
                z += p[j];
                dj[j] = es[j] + U32 * (sMax - s[j] + 2 * eMax);
                dMax = Math.max(dMax, dj[j]);
            }
            double weighted = 0;
            for (int j = 0; j < n; j++) {
                p[j] /= z;
                weighted += p[j] * dj[j];
            }
            double grow = Math.exp(2 * dMax);
            double rounding = (1 + U32) * (1 + U32) * (1 + U32) * (1 + MATH_ULP)
                    / ((1 - U32) * (1 - MATH_ULP) * (1 - gamma(n - 1L))) - 1;
            double underflow = (n + 2) * SUBNORMAL;
            double[] ep = new double[n];
            double normFromP = 0;
            double normFromV = 0;
            for (int j = 0; j < n; j++) {
                double propagated = grow * p[j] * (dj[j] + grow * weighted);
                ep[j] = finite(propagated + rounding * (p[j] + propagated) + underflow);
                double vNorm = v.norm()[j * kvHeads + g];
                normFromP += ep[j] * (vLength[j * kvHeads + g] + vNorm);
                normFromV += p[j] * vNorm;
            }
            double freshSquares = 0;
            for (int d = 0; d < headDim; d++) {
                double out = 0;
                double inherited = 0;
                double magnitude = 0;
                for (int j = 0; j < n; j++) {
                    int vo = j * kvWidth + g * headDim + d;
                    double vv = v.value()[vo];
                    double ve = v.bound()[vo];
                    out += p[j] * vv;
                    inherited += ep[j] * (Math.abs(vv) + ve) + p[j] * ve;
                    magnitude += (p[j] + ep[j]) * (Math.abs(vv) + ve);
                }
                double fresh = sumError(n, magnitude, Math.abs(out) + inherited, 0);
                value[qo + d] = out;
                bound[qo + d] = inherited + fresh;
                freshSquares += fresh * fresh;
            }
            norm[t * heads + h] = normFromP + normFromV + Math.sqrt(freshSquares);
        });
        return new BoundedRows(m, qWidth, heads, value, bound, norm).tightened();
    }

    /** A residual add {@code a + b} in float32: the errors add, plus one rounding; in the blocks of {@code a}. */
    public static BoundedRows add(BoundedRows a, BoundedRows other) {
        if (a.rows() != other.rows() || a.cols() != other.cols()) {
            throw new IllegalArgumentException("add: shapes differ");
        }
        BoundedRows b = other.withBlocks(a.blocks());
        double[] value = new double[a.value().length];
        double[] bound = new double[value.length];
        double[] norm = new double[a.norm().length];
        int width = a.blockWidth();
        for (int r = 0; r < a.rows(); r++) {
            for (int blk = 0; blk < a.blocks(); blk++) {
                double squares = 0;
                for (int i = r * a.cols() + blk * width; i < r * a.cols() + (blk + 1) * width; i++) {
                    double sum = a.value()[i] + b.value()[i];
                    double propagated = a.bound()[i] + b.bound()[i];
                    value[i] = sum;
                    bound[i] = propagated + U32 * (Math.abs(sum) + propagated);
                    squares += sum * sum;
                }
                int nb = r * a.blocks() + blk;
                double propagated = a.norm()[nb] + b.norm()[nb];
                norm[nb] = propagated + U32 * (Math.sqrt(squares) + propagated);
            }
        }
        return new BoundedRows(a.rows(), a.cols(), a.blocks(), value, bound, norm).tightened();
    }

    /**
     * SwiGLU's hidden state {@code z = silu(g) ⊙ u}, silu as a CPU rank computes it (in double, rounded
     * once: {@link dev.tp4j.backend.Activation#SILU}), the product in float32.
     *
     * <p>Derivation. silu is Lipschitz on {@code [g − e_g, g + e_g]} with
     * {@code L = sup|silu'|} there: silu' = σ(x)(1 + x(1 − σ(x))) is monotone between its extremes at ±2.3994
     * (1.0998 and −0.0998), so L is its largest magnitude at the ends or at an extreme inside. The computed
     * silu {@code â = silu(ĝ)(1 + δ)} is off by {@code ε_a = L·e_g + u'(|silu(g)| + L·e_g) + 2⁻¹⁴⁹} (u' = u plus
     * a few ulps of the double evaluation), and {@code ẑ = â·û(1 + δ')}: elementwise
     * {@code e_z = P + u(|z| + P) + 2⁻¹⁴⁹} with {@code P = |silu(g)|·e_u + (|u| + e_u)·ε_a}. In norm,
     * {@code ‖(silu(ĝ) − silu(g)) ⊙ û‖ ≤ max_i(L_i(|u_i| + e_{u,i}))·N_g} and {@code ‖silu(g) ⊙ Δu‖ ≤
     * max|silu(g)|·N_u}, plus the 2-norm of the roundings. The global Lipschitz constant 1.1 of
     * {@link Float64Reference#gated} is the special case of a wide interval.
     */
    public static BoundedRows swiglu(BoundedRows gateIn, BoundedRows upIn) {
        if (gateIn.rows() != upIn.rows() || gateIn.cols() != upIn.cols()) {
            throw new IllegalArgumentException("swiglu: shapes differ");
        }
        BoundedRows gate = gateIn.withBlocks(1);
        BoundedRows up = upIn.withBlocks(1);
        int m = gate.rows();
        int n = gate.cols();
        double uSilu = U32 + 4 * MATH_ULP;
        double[] value = new double[m * n];
        double[] bound = new double[m * n];
        double[] norm = new double[m];
        for (int i = 0; i < m; i++) {
            double maxGateFactor = 0;
            double maxSilu = 0;
            double roundingSquares = 0;
            for (int t = i * n; t < (i + 1) * n; t++) {
                double g = gate.value()[t];
                double ge = gate.bound()[t];
                double u = up.value()[t];
                double ue = up.bound()[t];
                double slope = siluSlopeBound(g - ge, g + ge);
                double a = g / (1 + Math.exp(-g));
                double moved = slope * ge;
                double roundedSilu = uSilu * (Math.abs(a) + moved) + SUBNORMAL;
                double ea = moved + roundedSilu;
                double z = a * u;
                double propagated = Math.abs(a) * ue + (Math.abs(u) + ue) * ea;
                value[t] = z;
                bound[t] = finite(propagated + U32 * (Math.abs(z) + propagated) + SUBNORMAL);
                maxGateFactor = Math.max(maxGateFactor, slope * (Math.abs(u) + ue));
                maxSilu = Math.max(maxSilu, Math.abs(a));
                double rounding = roundedSilu * (Math.abs(u) + ue) + U32 * (Math.abs(z) + propagated) + SUBNORMAL;
                roundingSquares += rounding * rounding;
            }
            norm[i] = finite(maxGateFactor * gate.norm()[i] + maxSilu * up.norm()[i] + Math.sqrt(roundingSquares));
        }
        return new BoundedRows(m, n, 1, value, bound, norm).tightened();
    }

    /** silu'(x) = σ(x)·(1 + x·(1 − σ(x))). */
    static double siluSlope(double x) {
        double s = 1 / (1 + Math.exp(-x));
        return s * (1 + x * (1 - s));
    }

    /** {@code sup |silu'|} on {@code [lo, hi]} (rounded up by 10⁻¹²; the whole line's 1.0998 for a NaN or infinite end). */
    static double siluSlopeBound(double lo, double hi) {
        if (!(lo > Double.NEGATIVE_INFINITY) || !(hi < Double.POSITIVE_INFINITY)) {
            return SILU_SLOPE_MAX;
        }
        double best = Math.max(Math.abs(siluSlope(lo)), Math.abs(siluSlope(hi)));
        if (lo <= SILU_CRITICAL && SILU_CRITICAL <= hi) {
            best = Math.max(best, SILU_SLOPE_MAX);
        }
        if (lo <= -SILU_CRITICAL && -SILU_CRITICAL <= hi) {
            best = Math.max(best, -SILU_SLOPE_MIN);
        }
        return best + 1e-12;
    }

    /** Each block's value 2-norm ‖v_block‖. */
    private static double[] blockLengths(BoundedRows x) {
        int width = x.blockWidth();
        double[] out = new double[x.rows() * x.blocks()];
        for (int b = 0; b < out.length; b++) {
            double s = 0;
            for (int i = b * width; i < (b + 1) * width; i++) {
                s += x.value()[i] * x.value()[i];
            }
            out[b] = Math.sqrt(s);
        }
        return out;
    }

    /** A bound that overflowed into NaN (∞·0) is no bound at all: infinity, never NaN. */
    static double finite(double bound) {
        return Double.isNaN(bound) ? Double.POSITIVE_INFINITY : bound;
    }
}
