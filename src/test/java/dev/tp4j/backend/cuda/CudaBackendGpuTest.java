package dev.tp4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tp4j.backend.Activation;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Device;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The CUDA backend against float64 on a real GPU. Runs only with {@code -Dgroups=gpu}; skips, saying
 * why, where no CUDA device is usable. NOT YET RUN: the task that wrote it had no GPU.
 *
 * <p>Tolerances: fp32 GEMM error is at most {@code γ_{k+1}·Σ|x·w|} ({@code γ_n = n·u/(1−n·u)},
 * {@code u = 2⁻²⁴}) element by element; TF32 rounds both inputs to a 10-bit mantissa first, adding
 * {@code 2·2⁻¹¹·Σ|x·w|}. Activations: a few ulp of the result and the input.
 */
@Tag("gpu")
class CudaBackendGpuTest {
    private static final double U = Math.ulp(1.0f) / 2; // 2^-24
    private static CudaBackend fp32;
    private static CudaBackend tf32;

    /** Per test (not @BeforeAll), so that every skipped test shows the reason in the report. */
    @BeforeEach
    void open() {
        CudaAvailability cuda = CudaAvailability.get();
        assumeTrue(cuda.usable(), () -> "no usable CUDA device: " + cuda.reason());
        if (fp32 == null) {
            fp32 = new CudaBackend(cuda.devices().get(0), false);
            tf32 = new CudaBackend(cuda.devices().get(0), true);
        }
    }

    @AfterAll
    static void close() {
        if (fp32 != null) {
            fp32.close();
        }
        if (tf32 != null) {
            tf32.close();
        }
    }

    private static float[] random(Random rnd, int n, double scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) ((rnd.nextDouble() * 2 - 1) * scale);
        }
        return v;
    }

    private static double gamma(long n) {
        return n * U / (1 - n * U);
    }

    /**
     * Views written and read back, each time checking the whole tensor: a write at the wrong offset must
     * not be hidden by a read from the same wrong offset (issue 12: void* pointers positioned in floats).
     */
    @Test
    void tensorsLiveOnTheDeviceAndViewsCopyInPlace() {
        try (Tensor t = fp32.allocate(Shape.of(3, 5), DType.F32)) {
            assertTrue(t.device().equals(Device.cuda(fp32.device().index())));
            assertArrayEquals(new float[15], fp32.copyToHost(t), "allocate zeroes");
            float[] v = random(new Random(1), 15, 10);
            fp32.copyFromHost(v, t);
            assertArrayEquals(v, fp32.copyToHost(t));
            // A column window (ld > cols) copies in and out in place, and nowhere else.
            Tensor window = t.narrowColumns(1, 3);
            float[] w = random(new Random(2), 9, 10);
            fp32.copyFromHost(w, window);
            float[] expect = v.clone();
            for (int i = 0; i < 3; i++) {
                System.arraycopy(w, i * 3, expect, i * 5 + 1, 3);
            }
            assertArrayEquals(expect, fp32.copyToHost(t), "whole tensor after writing the window");
            assertArrayEquals(w, fp32.copyToHost(window));
            try (Tensor dst = fp32.allocate(Shape.of(3, 3), DType.F32)) {
                fp32.copy(window, dst);
                assertArrayEquals(w, fp32.copyToHost(dst));
            }
            // A slice at an offset, written from the host and device to device.
            Tensor flat = t.view(Shape.of(15));
            fp32.copyFromHost(new float[] {-1, -2, -3}, flat.slice(11, 3));
            System.arraycopy(new float[] {-1, -2, -3}, 0, expect, 11, 3);
            assertArrayEquals(expect, fp32.copyToHost(t), "whole tensor after writing a slice");
            fp32.copy(flat.slice(11, 3), flat.slice(2, 3));
            System.arraycopy(new float[] {-1, -2, -3}, 0, expect, 2, 3);
            assertArrayEquals(expect, fp32.copyToHost(t), "whole tensor after a device copy between slices");
        }
    }

    /** Kernels and cuBLAS on views at an offset (their address arithmetic differs from the copies'). */
    @Test
    void linearIntoAColumnWindowOfAWiderOutput() {
        float[] x = random(new Random(3), 2 * 4, 1);
        float[] w = random(new Random(4), 3 * 4, 1);
        float[] bias = {1, 2, 3};
        try (Tensor xt = fp32.allocate(Shape.of(2, 4), DType.F32);
             Tensor wt = fp32.allocate(Shape.of(3, 4), DType.F32);
             Tensor bt = fp32.allocate(Shape.of(3), DType.F32);
             Tensor y = fp32.allocate(Shape.of(2, 7), DType.F32)) {
            fp32.copyFromHost(x, xt);
            fp32.copyFromHost(w, wt);
            fp32.copyFromHost(bias, bt);
            fp32.linear(xt, wt, bt, y.narrowColumns(4, 3));
            float[] got = fp32.copyToHost(y);
            for (int i = 0; i < 2; i++) {
                for (int j = 0; j < 7; j++) {
                    double ref = 0;
                    if (j >= 4) {
                        ref = bias[j - 4];
                        for (int p = 0; p < 4; p++) {
                            ref += (double) x[i * 4 + p] * w[(j - 4) * 4 + p];
                        }
                    }
                    assertTrue(Math.abs(got[i * 7 + j] - ref) <= 1e-5, "y[" + i + "," + j + "] = " + got[i * 7 + j]
                            + ", float64 " + ref);
                }
            }
        }
    }

    @ParameterizedTest(name = "m={0} n={1} k={2} bias={3} tf32={4} window={5}")
    @CsvSource({
        "1, 1, 1, false, false, false",
        "8, 512, 2048, true, false, false",
        "7, 333, 1001, true, false, true",
        "128, 1024, 4096, false, false, false",
        "128, 1024, 4096, true, true, false",
        "5, 17, 0, true, false, false",
        "5, 17, 0, false, false, false",
    })
    void linearMatchesFloat64(int m, int n, int k, boolean withBias, boolean useTf32, boolean window) {
        CudaBackend b = useTf32 ? tf32 : fp32;
        Random rnd = new Random(31L * m + n + k);
        float[] x = random(rnd, m * k, 1);
        float[] w = random(rnd, n * k, 1 / Math.sqrt(Math.max(1, k)));
        float[] bias = random(rnd, n, 1);
        int extra = window ? 3 : 0;
        try (Tensor xWide = b.allocate(Shape.of(m, k + extra), DType.F32);
             Tensor wt = b.allocate(Shape.of(n, k), DType.F32);
             Tensor bt = b.allocate(Shape.of(n), DType.F32);
             Tensor y = b.allocate(Shape.of(m, n), DType.F32)) {
            Tensor xt = window ? xWide.narrowColumns(2, k) : xWide;
            b.copyFromHost(x, xt);
            b.copyFromHost(w, wt);
            b.copyFromHost(bias, bt);
            b.copyFromHost(random(rnd, m * n, 1e6), y); // garbage that must be overwritten
            b.linear(xt, wt, withBias ? bt : null, y);
            float[] got = b.copyToHost(y);
            double inputRounding = useTf32 ? 2 * Math.pow(2, -11) : 0;
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double ref = withBias ? bias[j] : 0;
                    double abs = withBias ? Math.abs(bias[j]) : 0;
                    for (int p = 0; p < k; p++) {
                        double prod = (double) x[i * k + p] * w[j * k + p];
                        ref += prod;
                        abs += Math.abs(prod);
                    }
                    double bound = (gamma(k + 1) + inputRounding) * abs + Float.MIN_NORMAL;
                    double err = Math.abs(got[i * n + j] - ref);
                    assertTrue(err <= bound, "y[" + i + "," + j + "] = " + got[i * n + j] + ", float64 " + ref
                            + ", error " + err + " > bound " + bound);
                }
            }
        }
    }

    /**
     * BF16/F16 weights (adoptWeight) through cublasGemmEx: x rounded to the weights' dtype on the device,
     * products accumulated in F32. Against float64 on the rounded inputs the bound is fp32's
     * {@code γ_{k+1}·Σ|x̂·ŵ|}; the rounding itself is checked by comparing with Java's round-to-nearest-even.
     */
    @ParameterizedTest(name = "{0} window={1}")
    @CsvSource({"BF16, false", "BF16, true", "F16, false", "F16, true"})
    void halfPrecisionWeightsMatchFloat64OnTheRoundedInputs(DType half, boolean window) {
        int m = 9;
        int n = 70;
        int k = 1000;
        Random rnd = new Random(half.ordinal() * 7L + (window ? 1 : 0));
        float[] x = random(rnd, m * k, 1);
        float[] w = random(rnd, n * k, 1 / Math.sqrt(k));
        float[] bias = random(rnd, n, 1);
        java.util.function.DoubleUnaryOperator round = half == DType.BF16
                ? v -> dev.tp4j.io.BFloat16.toFloat(dev.tp4j.io.BFloat16.fromFloat((float) v))
                : v -> dev.tp4j.io.Float16.toFloat(dev.tp4j.io.Float16.fromFloat((float) v));
        int extra = window ? 5 : 0;
        try (Tensor xWide = fp32.allocate(Shape.of(m, k + extra), DType.F32);
             Tensor wt = fp32.adoptWeight(Tensor.hostOf(Shape.of(n, k), w), half);
             Tensor bt = fp32.allocate(Shape.of(n), DType.F32);
             Tensor y = fp32.allocate(Shape.of(m, n), DType.F32)) {
            assertTrue(wt.dtype() == half, wt.toString());
            Tensor xt = window ? xWide.narrowColumns(extra, k) : xWide;
            fp32.copyFromHost(x, xt);
            fp32.copyFromHost(bias, bt);
            fp32.linear(xt, wt, bt, y);
            float[] got = fp32.copyToHost(y);
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double ref = bias[j];
                    double abs = Math.abs(bias[j]);
                    for (int p = 0; p < k; p++) {
                        double prod = round.applyAsDouble(x[i * k + p]) * round.applyAsDouble(w[j * k + p]);
                        ref += prod;
                        abs += Math.abs(prod);
                    }
                    double bound = gamma(k + 1) * abs + Float.MIN_NORMAL;
                    double err = Math.abs(got[i * n + j] - ref);
                    assertTrue(err <= bound, half + " y[" + i + "," + j + "] = " + got[i * n + j] + ", float64 on the "
                            + "rounded inputs " + ref + ", error " + err + " > bound " + bound);
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Activation.class)
    void activationsMatchFloat64(Activation act) {
        int rows = 9;
        int cols = 1000;
        float[] v = random(new Random(act.ordinal()), rows * cols, 8);
        v[0] = 0f;
        v[1] = -0f;
        v[2] = 1e-30f;
        v[3] = -30f;
        v[4] = 30f;
        try (Tensor t = fp32.allocate(Shape.of(rows, cols), DType.F32);
             Tensor gate = fp32.allocate(Shape.of(rows, cols), DType.F32);
             Tensor up = fp32.allocate(Shape.of(rows, cols), DType.F32)) {
            fp32.copyFromHost(v, t);
            fp32.activate(act, t);
            float[] got = fp32.copyToHost(t);
            for (int i = 0; i < v.length; i++) {
                double ref = act.reference(v[i]);
                double bound = 16 * U * (Math.abs(ref) + Math.abs(v[i])) + Float.MIN_NORMAL;
                assertTrue(Math.abs(got[i] - ref) <= bound, act + "(" + v[i] + ") = " + got[i] + ", float64 " + ref);
            }
            float[] u = random(new Random(99), rows * cols, 3);
            fp32.copyFromHost(v, gate);
            fp32.copyFromHost(u, up);
            fp32.gatedActivate(act, gate, up);
            float[] gated = fp32.copyToHost(gate);
            for (int i = 0; i < v.length; i++) {
                double ref = act.reference(v[i]) * u[i];
                double bound = 16 * U * (Math.abs(act.reference(v[i])) + Math.abs(v[i])) * Math.abs(u[i]) + Float.MIN_NORMAL;
                assertTrue(Math.abs(gated[i] - ref) <= bound, act + " gated at " + i + ": " + gated[i] + " vs " + ref);
            }
        }
    }

    @Test
    void reluKeepsNanLikeTheCpuRank() {
        try (Tensor t = fp32.allocate(Shape.of(4), DType.F32)) {
            fp32.copyFromHost(new float[] {Float.NaN, -1f, -0f, 2f}, t);
            fp32.activate(Activation.RELU, t);
            float[] got = fp32.copyToHost(t);
            assertTrue(Float.isNaN(got[0]), "relu(NaN) = " + got[0]);
            assertArrayEquals(new float[] {0f, 0f, 2f}, java.util.Arrays.copyOfRange(got, 1, 4));
        }
    }

    @Test
    void adoptCopiesHostWeightsToTheDevice() {
        float[] v = random(new Random(8), 12, 1);
        Tensor placed = fp32.adopt(Tensor.hostOf(Shape.of(3, 4), v));
        try (placed) {
            assertTrue(!placed.device().isCpu());
            assertArrayEquals(v, fp32.copyToHost(placed));
        }
    }

    @Test
    void addBiasOnAColumnWindow() {
        float[] y = random(new Random(5), 4 * 6, 1);
        float[] bias = random(new Random(6), 3, 1);
        try (Tensor wide = fp32.allocate(Shape.of(4, 6), DType.F32);
             Tensor bt = fp32.allocate(Shape.of(3), DType.F32)) {
            fp32.copyFromHost(y, wide);
            fp32.copyFromHost(bias, bt);
            fp32.addBias(wide.narrowColumns(2, 3), bt);
            float[] got = fp32.copyToHost(wide);
            for (int i = 0; i < 4; i++) {
                for (int j = 0; j < 6; j++) {
                    float expect = j >= 2 && j < 5 ? y[i * 6 + j] + bias[j - 2] : y[i * 6 + j];
                    assertTrue(got[i * 6 + j] == expect, "(" + i + "," + j + ")");
                }
            }
        }
    }

    @Test
    void describeNamesTheDevice() {
        assertTrue(fp32.describe().contains("cuBLAS"), fp32.describe());
        assertTrue(tf32.describe().contains("TF32"), tf32.describe());
    }
}
