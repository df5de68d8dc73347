package dev.tp4j.reference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.io.BFloat16;
import dev.tp4j.io.Float16;
import dev.tp4j.tensor.DType;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The float64 reference's bound for a GEMM whose inputs are rounded to BF16/F16 and accumulated in F32
 * (a GPU rank's half-precision weights), checked against that computation simulated in Java: inputs
 * rounded to nearest even, products and sums in float32, in two summation orders. The bound must hold
 * everywhere, stay within a few roundings of the products, and F32's own bound must be too tight for
 * half-precision inputs (else the test could not tell the dtypes apart).
 */
class HalfPrecisionBoundTest {

    private static float round(DType d, float v) {
        return d == DType.BF16 ? BFloat16.toFloat(BFloat16.fromFloat(v)) : Float16.toFloat(Float16.fromFloat(v));
    }

    /** k = 64 keeps F32's bound small enough that half-precision rounding visibly exceeds it. */
    @ParameterizedTest(name = "{0} scale {1} k {2}")
    @CsvSource({"BF16, 1, 64", "F16, 1, 64", "BF16, 1, 777", "F16, 1e-5, 64", "BF16, 1e-30, 64"})
    void theBoundHoldsForRoundedInputsAndF32Accumulation(DType half, double scale, int k) {
        int m = 6;
        int n = 9;
        Random rnd = new Random(5);
        double[] x = new double[m * k];
        double[] w = new double[n * k];
        double[] b = new double[n];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) ((rnd.nextDouble() * 2 - 1) * scale);
        }
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) ((rnd.nextDouble() * 2 - 1) / Math.sqrt(k));
        }
        for (int i = 0; i < n; i++) {
            b[i] = (float) (rnd.nextDouble() * 2 - 1) * scale;
        }
        Bounded ref = Float64Reference.linear(Bounded.exact(x), m, k, w, n, b, half);
        Bounded f32Bound = Float64Reference.linear(Bounded.exact(x), m, k, w, n, b);
        int tighterThanF32 = 0;
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                float forward = (float) b[j];
                float backward = (float) b[j];
                for (int t = 0; t < k; t++) {
                    forward += round(half, (float) x[i * k + t]) * round(half, (float) w[j * k + t]);
                    int r = k - 1 - t;
                    backward += round(half, (float) x[i * k + r]) * round(half, (float) w[j * k + r]);
                }
                double v = ref.value()[i * n + j];
                double bound = ref.bound()[i * n + j];
                for (float got : new float[] {forward, backward}) {
                    assertTrue(Math.abs(got - v) <= bound, half + " y[" + i + "," + j + "] = " + got + ", float64 "
                            + v + ", error " + Math.abs(got - v) + " > bound " + bound);
                    if (Math.abs(got - v) > f32Bound.bound()[i * n + j]) {
                        tighterThanF32++;
                    }
                }
                // Not vacuous: within a few roundings of each product, relative (u) and, below the
                // format's normal range, absolute (a: F16's subnormals start at 2^-24).
                double u = half == DType.BF16 ? 0x1.0p-8 : 0x1.0p-11;
                double a = half == DType.BF16 ? 0x1.0p-134 : 0x1.0p-25;
                double allowed = 3 * u * Math.abs(b[j]);
                for (int t = 0; t < k; t++) {
                    double ax = Math.abs(x[i * k + t]);
                    double aw = Math.abs(w[j * k + t]);
                    allowed += 3 * u * ax * aw + 2 * a * (ax + aw);
                }
                assertTrue(bound <= allowed, "bound " + bound + ", at most " + allowed + " expected");
            }
        }
        if (k == 64) {
            assertTrue(tighterThanF32 > 0, "rounding to " + half + " never exceeded F32's bound: the test shows nothing");
        }
        assertEquals(m * n, ref.length());
    }
}
