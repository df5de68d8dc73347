package dev.tp4j.reference;

import java.util.stream.IntStream;

/**
 * The two float64 matrix products the reference spends its time in. The order of the double additions is
 * immaterial to the bounds (their error, relative 10⁻¹⁶·√k or so, is far below float32's).
 */
final class Kernels64 {
    /** Columns of a panel: 128 doubles, so a panel row and an accumulator row stay in L1. */
    private static final int COLS = 128;
    /** Rows of a panel: 128, so a panel (128 × 128 doubles, 128 KB) stays in L2. */
    private static final int DEPTH = 128;

    private Kernels64() {
    }

    /**
     * For {@code x [m, k]} and {@code w [n, k]} (float, nn.Linear layout): {@code value[i, j] = Σ_t x[i, t]·w[j, t]}
     * and {@code magnitude[i, j] = Σ_t |x[i, t]|·|w[j, t]|}. Two rows of x against two rows of w at a time:
     * eight independent sums, each input loaded once for two of them.
     */
    static void products(double[] x, int m, int k, float[] w, int n, double[] value, double[] magnitude) {
        double[] xa = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            xa[i] = Math.abs(x[i]);
        }
        int pairs = (n + 1) / 2;
        IntStream.range(0, (pairs + 3) / 4).parallel().forEach(block -> {
            double[] w0 = new double[k];
            double[] w1 = new double[k];
            double[] a0 = new double[k];
            double[] a1 = new double[k];
            for (int pair = block * 4; pair < Math.min(pairs, block * 4 + 4); pair++) {
                int j = 2 * pair;
                boolean two = j + 1 < n;
                for (int t = 0; t < k; t++) {
                    w0[t] = w[j * k + t];
                    a0[t] = Math.abs(w0[t]);
                    w1[t] = two ? w[(j + 1) * k + t] : 0;
                    a1[t] = Math.abs(w1[t]);
                }
                for (int i = 0; i < m; i += 2) {
                    int o = i * k;
                    int p = i + 1 < m ? o + k : o;
                    double v00 = 0, v01 = 0, v10 = 0, v11 = 0;
                    double s00 = 0, s01 = 0, s10 = 0, s11 = 0;
                    for (int t = 0; t < k; t++) {
                        double x0 = x[o + t];
                        double x1 = x[p + t];
                        double y0 = xa[o + t];
                        double y1 = xa[p + t];
                        v00 += x0 * w0[t];
                        v01 += x0 * w1[t];
                        v10 += x1 * w0[t];
                        v11 += x1 * w1[t];
                        s00 += y0 * a0[t];
                        s01 += y0 * a1[t];
                        s10 += y1 * a0[t];
                        s11 += y1 * a1[t];
                    }
                    value[i * n + j] = v00;
                    magnitude[i * n + j] = s00;
                    if (two) {
                        value[i * n + j + 1] = v01;
                        magnitude[i * n + j + 1] = s01;
                    }
                    if (i + 1 < m) {
                        value[(i + 1) * n + j] = v10;
                        magnitude[(i + 1) * n + j] = s10;
                        if (two) {
                            value[(i + 1) * n + j + 1] = v11;
                            magnitude[(i + 1) * n + j + 1] = s11;
                        }
                    }
                }
            }
        });
    }

    /**
     * The lower triangle of {@code VᵀV} for {@code v [m, n]} row-major: row i of the result holds
     * {@code Σ_r v[r, i]·v[r, j]} for {@code j ≤ i}.
     */
    static double[][] gramLower(double[] v, int m, int n) {
        double[][] g = new double[n][];
        for (int i = 0; i < n; i++) {
            g[i] = new double[i + 1];
        }
        IntStream.range(0, (n + COLS - 1) / COLS).parallel().forEach(tile -> {
            int j0 = tile * COLS;
            int j1 = Math.min(n, j0 + COLS);
            for (int r0 = 0; r0 < m; r0 += DEPTH) {
                int r1 = Math.min(m, r0 + DEPTH);
                for (int i = j0; i < n; i++) {
                    double[] gi = g[i];
                    int end = Math.min(j1, i + 1);
                    for (int r = r0; r < r1; r++) {
                        double a = v[r * n + i];
                        if (a == 0) {
                            continue;
                        }
                        int ro = r * n;
                        for (int j = j0; j < end; j++) {
                            gi[j] += a * v[ro + j];
                        }
                    }
                }
            }
        });
        return g;
    }
}
