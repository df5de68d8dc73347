package dev.tp4j.reference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.backend.Activation;
import dev.tp4j.model.ModelConfig.RopeScaling;
import dev.tp4j.reference.PlainDecoder.Order;
import java.util.Locale;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Each bounded operation against the float32 recipe it bounds, run on float inputs that sit at the edge
 * of their own bounds (every element off by its bound, or the whole error along the direction a layer
 * amplifies most), in every summation order: each output within its elementwise bound and each block within
 * its 2-norm bound. The worst ratio is printed, so the test also shows how sharp each bound is.
 */
class Float64DecoderOpsTest {
    /** Reference inputs {@code x} and float inputs {@code xf} with the exact error of each as the bounds. */
    private record Perturbed(BoundedRows reference, float[] xf) {
    }

    /**
     * Rounds {@code x + delta} to floats and describes the actual error exactly: elementwise bounds
     * {@code |xf − x|} and block norms {@code ‖xf − x‖}, each rounded up by a hair.
     */
    private static Perturbed perturbed(int rows, int cols, int blocks, double[] x, double[] delta) {
        float[] xf = new float[x.length];
        double[] bound = new double[x.length];
        double[] norm = new double[rows * blocks];
        int width = cols / blocks;
        for (int i = 0; i < x.length; i++) {
            xf[i] = (float) (x[i] + delta[i]);
            bound[i] = Math.abs(xf[i] - x[i]) * (1 + 1e-15);
            norm[i / width] += bound[i] * bound[i];
        }
        for (int b = 0; b < norm.length; b++) {
            norm[b] = Math.sqrt(norm[b]) * (1 + 1e-15);
        }
        return new Perturbed(new BoundedRows(rows, cols, blocks, x, bound, norm), xf);
    }

    private static double[] gaussian(SplittableRandom random, int n, double std) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            double r = Math.sqrt(-2 * Math.log(1 - random.nextDouble()));
            v[i] = std * r * Math.cos(2 * Math.PI * random.nextDouble());
        }
        return v;
    }

    private static double[] signs(SplittableRandom random, double[] x, double relative) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            d[i] = (random.nextBoolean() ? 1 : -1) * relative * (Math.abs(x[i]) + 1e-3);
        }
        return d;
    }

    /**
     * The worst of {@code |actual − value|/bound} elementwise and {@code ‖actual − value‖_block/norm}; fails
     * when either exceeds 1.
     */
    private static double check(String what, float[] actual, BoundedRows ref) {
        double worst = 0;
        int width = ref.blockWidth();
        double[] blockSquares = new double[ref.norm().length];
        for (int i = 0; i < actual.length; i++) {
            double diff = Math.abs(actual[i] - ref.value()[i]);
            double ratio = diff == 0 ? 0 : diff / ref.bound()[i];
            assertTrue(ratio <= 1, what + ": element " + i + " off by " + diff + ", bound " + ref.bound()[i]);
            worst = Math.max(worst, ratio);
            blockSquares[i / width] += diff * diff;
        }
        double worstNorm = 0;
        for (int b = 0; b < blockSquares.length; b++) {
            double diff = Math.sqrt(blockSquares[b]);
            double ratio = diff == 0 ? 0 : diff / ref.norm()[b];
            assertTrue(ratio <= 1, what + ": block " + b + " off by " + diff + " in norm, bound " + ref.norm()[b]);
            worstNorm = Math.max(worstNorm, ratio);
        }
        System.out.printf(Locale.ROOT, "%-44s worst |Δ|/bound %.6f, ‖Δ‖/norm bound %.6f%n", what, worst, worstNorm);
        return Math.max(worst, worstNorm);
    }

    // ------------------------------------------------------------------ projections

    @Test
    void linearBoundsEveryOrderWithErrorsAlongTheWorstDirection() {
        SplittableRandom random = new SplittableRandom(11);
        int m = 3;
        int k = 96;
        int n = 40;
        float[] w = toFloats(gaussian(random, n * k, 1 / Math.sqrt(k)));
        float[] bias = toFloats(gaussian(random, n, 0.5));
        double[] x = gaussian(random, m * k, 1);
        double[] top = topRightSingularVector(w, n, k);
        double best = 0;
        for (String pattern : new String[] {"exact", "random signs", "top singular direction"}) {
            double[] delta = new double[m * k];
            for (int i = 0; i < m; i++) {
                for (int t = 0; t < k; t++) {
                    delta[i * k + t] = pattern.equals("exact") ? 0
                            : pattern.equals("random signs") ? (random.nextBoolean() ? 1e-4 : -1e-4)
                            : 1e-3 * top[t];
                }
            }
            Perturbed in = perturbed(m, k, 1, x, delta);
            for (boolean spectral : new boolean[] {true, false}) {
                Float64DecoderOps.Weight weight = Float64DecoderOps.Weight.of(w, n, k, 4, spectral);
                BoundedRows ref = Float64DecoderOps.linear(in.reference(), weight, bias);
                for (Order order : Order.values()) {
                    float[] out = new float[m * n];
                    float[] row = new float[k];
                    float[] xr = new float[k];
                    for (int i = 0; i < m; i++) {
                        System.arraycopy(in.xf(), i * k, xr, 0, k);
                        for (int j = 0; j < n; j++) {
                            System.arraycopy(w, j * k, row, 0, k);
                            out[i * n + j] = PlainDecoder.dot(xr, row, order) + bias[j];
                        }
                    }
                    double ratio = check("linear, " + pattern + ", " + order + (spectral ? "" : ", no spectral norm"),
                            out, ref);
                    best = spectral ? Math.max(best, ratio) : best;
                }
            }
        }
        // Along the top singular direction the propagated error is all but the whole norm bound.
        assertTrue(best > 0.3, "the norm bound is sharp along the top singular direction: " + best);
    }

    /** The dominant right singular vector of w [n, k], unit length, by plain power iteration. */
    private static double[] topRightSingularVector(float[] w, int n, int k) {
        double[] v = new double[k];
        java.util.Arrays.fill(v, 1);
        for (int step = 0; step < 500; step++) {
            double[] y = new double[n];
            for (int j = 0; j < n; j++) {
                for (int t = 0; t < k; t++) {
                    y[j] += w[j * k + t] * v[t];
                }
            }
            double[] z = new double[k];
            for (int j = 0; j < n; j++) {
                for (int t = 0; t < k; t++) {
                    z[t] += w[j * k + t] * y[j];
                }
            }
            double norm = 0;
            for (double zt : z) {
                norm += zt * zt;
            }
            norm = Math.sqrt(norm);
            for (int t = 0; t < k; t++) {
                v[t] = z[t] / norm;
            }
        }
        return v;
    }

    @Test
    void sumErrorBoundsEveryOrderOfAFewTerms() {
        SplittableRandom random = new SplittableRandom(5);
        for (int trial = 0; trial < 2000; trial++) {
            int k = 2 + random.nextInt(7);
            float[] a = new float[k];
            float[] b = new float[k];
            double exact = 0;
            double magnitude = 0;
            for (int i = 0; i < k; i++) {
                a[i] = (float) random.nextDouble(-1, 1);
                b[i] = (float) random.nextDouble(-1, 1);
                exact += (double) a[i] * b[i];
                magnitude += Math.abs((double) a[i] * b[i]);
            }
            float bias = (float) random.nextDouble(-0.1, 0.1);
            double bound = Float64DecoderOps.sumError(k, magnitude, Math.abs(exact), bias);
            for (Order order : Order.values()) {
                double diff = Math.abs((PlainDecoder.dot(a, b, order) + bias) - (exact + bias));
                assertTrue(diff <= bound, trial + " " + order + ": " + diff + " > " + bound);
            }
        }
    }

    // ------------------------------------------------------------------ norms

    @Test
    void rmsNormBoundsBothRecipesWithErrorsAlongTheRowAndAcross() {
        SplittableRandom random = new SplittableRandom(7);
        int m = 4;
        int n = 64;
        float[] weight = toFloats(gaussian(random, n, 0.3));
        for (int i = 0; i < n; i++) {
            weight[i] += 1;
        }
        double[] x = gaussian(random, m * n, 1);
        for (int i = 0; i < n; i++) {
            x[3 * n + i] *= 1e-3; // a row so small that eps matters
        }
        for (String pattern : new String[] {"exact", "random signs", "along the row"}) {
            double[] delta = pattern.equals("exact") ? new double[m * n]
                    : pattern.equals("random signs") ? signs(random, x, 1e-4) : scaled(x, 1e-4);
            Perturbed in = perturbed(m, n, 1, x, delta);
            BoundedRows ref = Float64DecoderOps.rmsNorm(in.reference(), weight, 1e-5);
            for (Order order : Order.values()) {
                for (boolean inDouble : new boolean[] {false, true}) {
                    float[] out = new float[m * n];
                    for (int i = 0; i < m; i++) {
                        float[] row = java.util.Arrays.copyOfRange(in.xf(), i * n, (i + 1) * n);
                        float ms = PlainDecoder.dot(row, row, order) / n;
                        float eps = (float) 1e-5;
                        float r = inDouble ? (float) (1 / Math.sqrt(ms + eps)) : 1f / (float) Math.sqrt(ms + eps);
                        for (int t = 0; t < n; t++) {
                            out[i * n + t] = weight[t] * (row[t] * r);
                        }
                    }
                    check("rmsNorm, " + pattern + ", " + order + (inDouble ? ", rsqrt in double" : ""), out, ref);
                }
            }
        }
    }

    private static double[] scaled(double[] x, double factor) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            d[i] = factor * x[i];
        }
        return d;
    }

    // ------------------------------------------------------------------ rope

    @Test
    void ropeBoundsTheAngleErrorThatGrowsWithThePosition() {
        SplittableRandom random = new SplittableRandom(3);
        int headDim = 64;
        int heads = 2;
        int[] positions = {0, 1, 17, 1000, 8191, 65535, 131071};
        int m = positions.length;
        for (RopeScaling scaling : new RopeScaling[] {null, new RopeScaling(8, 1, 4, 8192)}) {
            double[] invFreq = Float64DecoderOps.inverseFrequencies(headDim, 500000, scaling);
            float[] inv = new float[invFreq.length];
            for (int j = 0; j < inv.length; j++) {
                inv[j] = (float) invFreq[j];
            }
            double[] x = gaussian(random, m * heads * headDim, 1);
            for (boolean perturb : new boolean[] {false, true}) {
                Perturbed in = perturbed(m, heads * headDim, heads, x,
                        perturb ? signs(random, x, 1e-5) : new double[x.length]);
                BoundedRows ref = Float64DecoderOps.rope(in.reference(), headDim, positions, invFreq);
                float[] out = in.xf().clone();
                for (int i = 0; i < m; i++) {
                    float[] row = java.util.Arrays.copyOfRange(out, i * heads * headDim, (i + 1) * heads * headDim);
                    PlainDecoder.rope32Row(row, positions[i], heads, headDim, inv);
                    System.arraycopy(row, 0, out, i * heads * headDim, row.length);
                }
                check("rope, " + (scaling == null ? "plain" : "llama3") + (perturb ? ", perturbed" : ", exact inputs"),
                        out, ref);
                // The bound at position 131071 reflects the angle's rounding (γ₃·131071 ≈ 0.02 at invFreq 1).
                double last = 0;
                for (int i = (m - 1) * heads * headDim; i < m * heads * headDim; i++) {
                    last = Math.max(last, ref.bound()[i]);
                }
                assertTrue(last > 1e-3 && last < 0.2, "bound at position 131071: " + last);
            }
        }
    }

    // ------------------------------------------------------------------ attention

    @Test
    void attentionBoundsEveryOrderAndBothShifts() {
        SplittableRandom random = new SplittableRandom(19);
        int m = 24;
        int heads = 4;
        int kvHeads = 2;
        int d = 16;
        // Scores of a few units: peaked softmax rows, where the probabilities are the most sensitive.
        double[] q = gaussian(random, m * heads * d, 1.2);
        double[] k = gaussian(random, m * kvHeads * d, 1.2);
        double[] v = gaussian(random, m * kvHeads * d, 1);
        for (double relative : new double[] {0, 1e-6, 1e-4}) {
            Perturbed pq = perturbed(m, heads * d, heads, q, signs(random, q, relative));
            Perturbed pk = perturbed(m, kvHeads * d, kvHeads, k, signs(random, k, relative));
            Perturbed pv = perturbed(m, kvHeads * d, kvHeads, v, signs(random, v, relative));
            BoundedRows ref = Float64DecoderOps.attention(pq.reference(), pk.reference(), pv.reference(), d);
            for (Order order : Order.values()) {
                for (boolean doubleShift : new boolean[] {false, true}) {
                    float[] out = attention32(pq.xf(), pk.xf(), pv.xf(), m, heads, kvHeads, d, order, doubleShift);
                    check(String.format(Locale.ROOT, "attention, input errors %.0e, %s%s", relative, order,
                            doubleShift ? ", shift in double" : ""), out, ref);
                    // The variant: q scaled before the dot, and the probabilities as e_j·(1/Z).
                    out = attention32(pq.xf(), pk.xf(), pv.xf(), m, heads, kvHeads, d, order, doubleShift, true);
                    check(String.format(Locale.ROOT, "attention, input errors %.0e, %s%s, q scaled, 1/Z", relative,
                            order, doubleShift ? ", shift in double" : ""), out, ref);
                }
            }
        }
    }

    private static float[] attention32(float[] q, float[] k, float[] v, int m, int heads, int kvHeads, int d,
                                       Order order, boolean doubleShift) {
        return attention32(q, k, v, m, heads, kvHeads, d, order, doubleShift, false);
    }

    private static float[] attention32(float[] q, float[] k, float[] v, int m, int heads, int kvHeads, int d,
                                       Order order, boolean doubleShift, boolean variant) {
        float scale = (float) (1 / Math.sqrt(d));
        float[] out = new float[m * heads * d];
        for (int t = 0; t < m; t++) {
            for (int h = 0; h < heads; h++) {
                int g = h / (heads / kvHeads);
                float[] qs = java.util.Arrays.copyOfRange(q, t * heads * d + h * d, t * heads * d + (h + 1) * d);
                if (variant) {
                    for (int c = 0; c < d; c++) {
                        qs[c] *= scale;
                    }
                }
                float[] s = new float[t + 1];
                float max = Float.NEGATIVE_INFINITY;
                for (int j = 0; j <= t; j++) {
                    float[] ks = java.util.Arrays.copyOfRange(k, j * kvHeads * d + g * d, j * kvHeads * d + (g + 1) * d);
                    s[j] = variant ? PlainDecoder.dot(qs, ks, order) : PlainDecoder.dot(qs, ks, order) * scale;
                    max = Math.max(max, s[j]);
                }
                float[] e = new float[t + 1];
                for (int j = 0; j <= t; j++) {
                    e[j] = doubleShift ? (float) Math.exp((double) s[j] - max) : (float) Math.exp(s[j] - max);
                }
                float z = PlainDecoder.sum(e, order);
                float[] p = new float[t + 1];
                float inverse = 1f / z;
                for (int j = 0; j <= t; j++) {
                    p[j] = variant ? e[j] * inverse : e[j] / z;
                }
                for (int c = 0; c < d; c++) {
                    float[] vs = new float[t + 1];
                    for (int j = 0; j <= t; j++) {
                        vs[j] = v[j * kvHeads * d + g * d + c];
                    }
                    out[t * heads * d + h * d + c] = PlainDecoder.dot(p, vs, order);
                }
            }
        }
        return out;
    }

    // ------------------------------------------------------------------ swiglu, residual

    @Test
    void swigluBoundsGatesAcrossSilusExtremes() {
        SplittableRandom random = new SplittableRandom(23);
        int m = 3;
        int n = 200;
        double[] g = new double[m * n];
        for (int i = 0; i < g.length; i++) {
            g[i] = random.nextDouble(-8, 8); // both extremes of silu' (±2.4) and its flat tails
        }
        double[] u = gaussian(random, m * n, 1);
        for (double relative : new double[] {0, 1e-5, 1e-2}) {
            Perturbed pg = perturbed(m, n, 1, g, signs(random, g, relative));
            Perturbed pu = perturbed(m, n, 1, u, signs(random, u, relative));
            BoundedRows ref = Float64DecoderOps.swiglu(pg.reference(), pu.reference());
            float[] out = new float[m * n];
            for (int i = 0; i < out.length; i++) {
                out[i] = Activation.SILU.apply(pg.xf()[i]) * pu.xf()[i];
            }
            check(String.format(Locale.ROOT, "swiglu, input errors %.0e", relative), out, ref);
        }
    }

    @Test
    void siluSlopeBoundIsTheSupremumOnTheInterval() {
        SplittableRandom random = new SplittableRandom(29);
        for (int trial = 0; trial < 500; trial++) {
            double lo = random.nextDouble(-10, 10);
            double hi = lo + random.nextDouble(0, 6);
            double sup = 0;
            for (int s = 0; s <= 2000; s++) {
                sup = Math.max(sup, Math.abs(Float64DecoderOps.siluSlope(lo + (hi - lo) * s / 2000)));
            }
            double bound = Float64DecoderOps.siluSlopeBound(lo, hi);
            assertTrue(sup <= bound && bound <= sup + 1e-5, "[" + lo + ", " + hi + "]: sup " + sup + ", bound " + bound);
        }
        assertEquals(1.0998, Float64DecoderOps.siluSlopeBound(-1e300, 1e300), 1e-4);
    }

    @Test
    void residualAddBoundsTheSum() {
        SplittableRandom random = new SplittableRandom(31);
        double[] a = gaussian(random, 2 * 50, 1);
        double[] b = gaussian(random, 2 * 50, 1);
        Perturbed pa = perturbed(2, 50, 1, a, signs(random, a, 1e-4));
        Perturbed pb = perturbed(2, 50, 1, b, signs(random, b, 1e-4));
        BoundedRows ref = Float64DecoderOps.add(pa.reference(), pb.reference());
        float[] out = new float[a.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = pa.xf()[i] + pb.xf()[i];
        }
        check("residual add", out, ref);
    }

    // ------------------------------------------------------------------ spectral norms

    @Test
    void spectralNormIsCertifiedAboveTheLargestSingularValueAndClose() {
        SplittableRandom random = new SplittableRandom(37);
        // Known values: a rank-one matrix a·bᵀ has ‖A‖₂ = ‖a‖·‖b‖; a diagonal one its largest |entry|.
        float[] rankOne = new float[30 * 20];
        double na = 0;
        double nb = 0;
        float[] a = new float[30];
        for (int i = 0; i < 30; i++) {
            a[i] = (float) Math.scalb(Math.rint(random.nextDouble(-4096, 4096)), -10); // 13 bits
        }
        float[] b = new float[20];
        for (int j = 0; j < 20; j++) {
            b[j] = (float) Math.scalb(Math.rint(random.nextDouble(-64, 64)), -6); // 7 bits: a_i·b_j exact in float
        }
        for (int i = 0; i < 30; i++) {
            na += (double) a[i] * a[i];
            for (int j = 0; j < 20; j++) {
                rankOne[i * 20 + j] = a[i] * b[j];
            }
        }
        for (float bj : b) {
            nb += (double) bj * bj;
        }
        double exact = Math.sqrt(na) * Math.sqrt(nb);
        double bound = SpectralNorm.upperBound(rankOne, 20, 0, 30);
        assertTrue(bound >= exact && bound <= exact * 1.02, bound + " against " + exact);
        float[] diagonal = new float[50 * 50];
        for (int i = 0; i < 50; i++) {
            diagonal[i * 50 + i] = i == 17 ? -3 : (float) random.nextDouble(-2, 2);
        }
        bound = SpectralNorm.upperBound(diagonal, 50, 0, 50);
        assertTrue(bound >= 3 && bound <= 3 * 1.02, "diagonal: " + bound);
        assertEquals(0, SpectralNorm.upperBound(new float[12], 4, 0, 3));
        // Random matrices, wide and tall, and a block of rows: above the power iteration's estimate, within 2 %.
        for (int[] shape : new int[][] {{40, 300}, {300, 40}, {129, 130}}) {
            int rows = shape[0];
            int cols = shape[1];
            float[] w = toFloats(gaussian(random, rows * cols, 1));
            for (int[] block : new int[][] {{0, rows}, {rows / 3, rows / 2}}) {
                bound = SpectralNorm.upperBound(w, cols, block[0], block[1]);
                float[] part = java.util.Arrays.copyOfRange(w, block[0] * cols, (block[0] + block[1]) * cols);
                double estimate = largestSingularValue(part, block[1], cols);
                assertTrue(bound >= estimate && bound <= estimate * 1.02,
                        rows + "×" + cols + " rows " + block[0] + "+" + block[1] + ": " + bound + " against " + estimate);
            }
        }
    }

    private static double largestSingularValue(float[] w, int n, int k) {
        double[] v = topRightSingularVector(w, n, k);
        double s = 0;
        for (int j = 0; j < n; j++) {
            double y = 0;
            for (int t = 0; t < k; t++) {
                y += w[j * k + t] * v[t];
            }
            s += y * y;
        }
        return Math.sqrt(s);
    }

    private static float[] toFloats(double[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            f[i] = (float) v[i];
        }
        return f;
    }
}
