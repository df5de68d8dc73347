package dev.tp4j.reference;

import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * Certified upper bounds on the spectral norm {@code ‖A‖₂} (the largest singular value) of a float32
 * matrix: what an error of 2-norm N in a projection's input can become in its output, {@code ‖A·Δ‖₂ ≤ ‖A‖₂·N}.
 *
 * <p>Method. With {@code n = min(rows, cols)} and {@code m = max}, form the Gram matrix {@code G} of the
 * smaller side ({@code A·Aᵀ} or {@code Aᵀ·A}, n × n, {@code λ_max(G) = ‖A‖₂²}) in double: the products of
 * floats are exact, the sums of m terms are off by {@code |Ĝ − G| ≤ γᵈ_m·|A|ᵀ|A|}, so
 * {@code ‖Ĝ − G‖₂ ≤ γᵈ_m·‖A‖_F²} ({@code γᵈ} with the double unit roundoff 2⁻⁵³). Power iteration gives an
 * estimate λ̂ from below; {@code μ} slightly above it is then <em>proved</em> an upper bound by a Cholesky
 * factorization of {@code B = fl(μI − Ĝ)}: if it runs to completion, the computed factor satisfies
 * {@code R̂ᵀR̂ = B + ΔB}, {@code |ΔB| ≤ γᵈ_{n+1}|R̂ᵀ||R̂|} (Higham, Theorem 10.3: a bound per entry, so any
 * order of the inner products, and the blocked form below, is covered), hence
 * {@code ‖ΔB‖₂ ≤ γᵈ_{n+1}·‖R̂‖_F² ≤ γᵈ_{n+1}/(1 − γᵈ_{n+1})·tr(B)} and {@code B ⪰ −‖ΔB‖₂·I}. The subtraction on
 * the diagonal rounds by at most {@code uᵈ·max|B_ii|}. So
 * {@code ‖A‖₂² ≤ μ + γᵈ_{n+1}/(1 − γᵈ_{n+1})·tr(B) + uᵈ·max|B_ii| + γᵈ_m·‖A‖_F²}, all but μ of relative size
 * 10⁻⁹ or less. When the factorization breaks down μ grows and it tries again; after a few tries the
 * Frobenius norm {@code ‖A‖_F ≥ ‖A‖₂} (always valid, looser) is the answer.
 *
 * <p>Cost: {@code n²·m/2} multiply-adds for the Gram matrix, {@code n³/6} per Cholesky, {@code n²} per
 * power step; for a 2048 × 5632 projection about 12·10⁹ + 1.4·10⁹ + 0.8·10⁹.
 */
final class SpectralNorm {
    private static final double U64 = 0x1.0p-53;
    /** Power iterations: the estimate only has to land within the certification margin. */
    private static final int POWER_STEPS = 200;
    /** μ starts this far above the power estimate and grows by as much on each failed certification. */
    private static final double MARGIN = 1.0 / 64;
    private static final int TRIES = 40;
    private static final int BLOCK = 64;

    private SpectralNorm() {
    }

    static double gamma64(long n) {
        double nu = n * U64;
        return nu / (1 - nu);
    }

    /** An upper bound on {@code ‖A‖₂} for rows {@code [first, first + count)} of {@code w [*, cols]}. */
    static double upperBound(float[] w, int cols, int first, int count) {
        if (count == 0 || cols == 0) {
            return 0;
        }
        boolean byRows = count <= cols;
        int n = byRows ? count : cols;
        int m = byRows ? cols : count;
        // G = VᵀV with V [m, n]: V = Aᵀ when the rows are fewer (G = A·Aᵀ), else V = A (G = Aᵀ·A).
        double[] v = new double[m * n];
        double frobenius2 = 0;
        for (int r = 0; r < count; r++) {
            int base = (first + r) * cols;
            for (int c = 0; c < cols; c++) {
                double a = w[base + c];
                frobenius2 += a * a;
                if (byRows) {
                    v[c * n + r] = a;
                } else {
                    v[r * n + c] = a;
                }
            }
        }
        if (frobenius2 == 0) {
            return 0;
        }
        // ‖A‖_F² summed in double: a relative γᵈ error at most; the fallback is rounded up accordingly.
        double frobeniusBound = Math.sqrt(frobenius2 * (1 + gamma64(n * (long) m))) * (1 + 4 * U64);
        double[][] gram = Kernels64.gramLower(v, m, n);
        double estimate = powerEstimate(gram, n);
        double gramError = gamma64(m) * frobenius2 * (1 + gamma64(n * (long) m));
        double mu = estimate * (1 + MARGIN) + gramError + Double.MIN_NORMAL;
        for (int attempt = 0; attempt < TRIES; attempt++) {
            double[] margin = certify(gram, n, mu);
            if (margin != null) {
                double lambda = mu + gamma64(n + 1L) / (1 - gamma64(n + 1L)) * margin[0] + U64 * margin[1] + gramError;
                return Math.min(frobeniusBound, Math.sqrt(lambda) * (1 + 4 * U64));
            }
            mu *= 1 + MARGIN;
        }
        return frobeniusBound;
    }

    /** The Rayleigh quotient after power iteration from a fixed pseudo-random start: a lower estimate. */
    private static double powerEstimate(double[][] lower, int n) {
        double[] g = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                g[i * n + j] = lower[i][j];
                g[j * n + i] = lower[i][j];
            }
        }
        SplittableRandom random = new SplittableRandom(0x5eedL);
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = 1 + random.nextDouble();
        }
        double lambda = 0;
        for (int step = 0; step < POWER_STEPS; step++) {
            double norm = 0;
            for (double xi : x) {
                norm += xi * xi;
            }
            norm = Math.sqrt(norm);
            if (norm == 0) {
                return 0;
            }
            for (int i = 0; i < n; i++) {
                x[i] /= norm;
            }
            double[] in = x;
            double[] y = new double[n];
            IntStream.range(0, n).parallel().forEach(i -> {
                double s = 0;
                for (int j = 0; j < n; j++) {
                    s += g[i * n + j] * in[j];
                }
                y[i] = s;
            });
            double next = 0;
            for (int i = 0; i < n; i++) {
                next += x[i] * y[i];
            }
            x = y;
            if (step > 10 && Math.abs(next - lambda) <= 1e-6 * next) {
                return next;
            }
            lambda = next;
        }
        return lambda;
    }

    /**
     * A blocked right-looking Cholesky factorization of {@code fl(μI − G)}. Returns {@code {tr(B), max|B_ii|}}
     * when every pivot is positive (B is then within the stated margin of positive definite), null on a
     * breakdown.
     */
    private static double[] certify(double[][] g, int n, double mu) {
        double[][] b = new double[n][];
        double trace = 0;
        double maxDiagonal = 0;
        for (int i = 0; i < n; i++) {
            b[i] = new double[i + 1];
            for (int j = 0; j < i; j++) {
                b[i][j] = -g[i][j];
            }
            b[i][i] = mu - g[i][i];
            trace += b[i][i];
            maxDiagonal = Math.max(maxDiagonal, Math.abs(b[i][i]));
        }
        for (int k0 = 0; k0 < n; k0 += BLOCK) {
            int k1 = Math.min(n, k0 + BLOCK);
            // The diagonal block, unblocked (its rows already hold every update from the columns before k0).
            for (int j = k0; j < k1; j++) {
                double d = b[j][j];
                for (int t = k0; t < j; t++) {
                    d -= b[j][t] * b[j][t];
                }
                if (!(d > 0)) {
                    return null;
                }
                double pivot = Math.sqrt(d);
                b[j][j] = pivot;
                for (int i = j + 1; i < k1; i++) {
                    double s = b[i][j];
                    for (int t = k0; t < j; t++) {
                        s -= b[i][t] * b[j][t];
                    }
                    b[i][j] = s / pivot;
                }
            }
            final int from = k0;
            final int to = k1;
            // The panel below the diagonal block: each row solves against the block's factor.
            IntStream.range(k1, n).parallel().forEach(i -> {
                double[] row = b[i];
                for (int j = from; j < to; j++) {
                    double s = row[j];
                    double[] rj = b[j];
                    for (int t = from; t < j; t++) {
                        s -= row[t] * rj[t];
                    }
                    row[j] = s / rj[j];
                }
            });
            // The trailing update B[i][j] −= L[i][k0:k1]·L[j][k0:k1] for k1 ≤ j ≤ i, as axpys over j: the
            // panel's columns are copied out contiguous first.
            double[] panel = new double[(to - from) * n];
            for (int j = to; j < n; j++) {
                for (int t = from; t < to; t++) {
                    panel[(t - from) * n + j] = b[j][t];
                }
            }
            IntStream.range(k1, n).parallel().forEach(i -> {
                double[] row = b[i];
                for (int t = from; t < to; t++) {
                    double a = row[t];
                    int po = (t - from) * n;
                    for (int j = to; j <= i; j++) {
                        row[j] -= a * panel[po + j];
                    }
                }
            });
        }
        return new double[] {trace, maxDiagonal};
    }
}
