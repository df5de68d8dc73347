package dev.tp4j.backend;

import java.util.Locale;
import org.apache.commons.math3.special.Erf;

/**
 * The pointwise nonlinearities of a transformer MLP, each in two precisions: {@link #apply(float)} is
 * what a CPU rank computes, {@link #reference(double)} is the float64 truth it is checked against.
 */
public enum Activation {
    RELU("relu") {
        @Override
        public float apply(float x) {
            return Math.max(x, 0f); // a NaN stays NaN, as in PyTorch
        }

        @Override
        public double reference(double x) {
            return Math.max(x, 0);
        }

        @Override
        public double lipschitz() {
            return 1;
        }
    },
    /** PyTorch's default GELU: x·Φ(x) = ½x·(1 + erf(x/√2)), the exact (erf) form. */
    GELU("gelu") {
        @Override
        public float apply(float x) {
            return gelu(x);
        }

        /** A plain loop over the static function: the JIT inlines it and vectorises the loop. */
        @Override
        public void applyAll(float[] v, int n) {
            for (int i = 0; i < n; i++) {
                v[i] = gelu(v[i]);
            }
        }

        @Override
        public double reference(double x) {
            // erfc keeps the negative tail accurate; 1 + erf(x) cancels there even in double.
            return 0.5 * x * Erf.erfc(-x * INV_SQRT2);
        }

        @Override
        public double lipschitz() {
            return 1.13;
        }

        @Override
        public double approximationError(double x) {
            return GELU_ABSOLUTE_ERROR_PER_UNIT_X * Math.abs(x);
        }
    },
    /** GELU with the tanh approximation (PyTorch's approximate="tanh", GPT-2's "gelu_new"). */
    GELU_TANH("gelu_tanh") {
        @Override
        public float apply(float x) {
            double xd = x;
            return (float) (0.5 * xd * (1.0 + Math.tanh(SQRT_2_OVER_PI * (xd + 0.044715 * xd * xd * xd))));
        }

        @Override
        public double reference(double x) {
            return 0.5 * x * (1.0 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
        }

        @Override
        public double lipschitz() {
            return 1.13;
        }
    },
    /** SiLU / swish: x·σ(x), the gate of Llama's SwiGLU. */
    SILU("silu") {
        @Override
        public float apply(float x) {
            return (float) (x / (1.0 + Math.exp(-(double) x)));
        }

        @Override
        public double reference(double x) {
            return x / (1.0 + Math.exp(-x));
        }

        @Override
        public double lipschitz() {
            return 1.1;
        }
    };

    private static final double INV_SQRT2 = 0.7071067811865476;
    private static final double SQRT_2_OVER_PI = 0.7978845608028654;

    private final String cliName;

    Activation(String cliName) {
        this.cliName = cliName;
    }

    /** The value a rank computes in float32 (evaluated in double and rounded once). */
    public abstract float apply(float x);

    /** The float64 reference value. */
    public abstract double reference(double x);

    /** A bound on |act'(x)|: how much an input error can grow through the activation. */
    public abstract double lipschitz();

    /**
     * {@code v[i] ← apply(v[i])} for {@code i < n}. GELU overrides it with a loop the JIT turns into SIMD
     * code; the others are cheap enough, or bound by their exp/tanh, element by element.
     */
    public void applyAll(float[] v, int n) {
        for (int i = 0; i < n; i++) {
            v[i] = apply(v[i]);
        }
    }

    /**
     * A bound on {@code |apply(x) − reference(x)|} beyond the final rounding to float (which the
     * reference adds separately). Zero for the activations evaluated in double; for GELU, the error of
     * its rational erf.
     */
    public double approximationError(double x) {
        return 0.0;
    }

    /**
     * The GELU's rational erf below has absolute error at most 2.2e-7·|x| beyond rounding (measured
     * against commons-math's erfc on 4 million points of [−8, 8], every 4e-6; outside, erf is ±1 in
     * float and the clamp is exact to far below that). Declared with margin.
     */
    private static final double GELU_ABSOLUTE_ERROR_PER_UNIT_X = 3e-7;

    private static final float INV_SQRT2_F = 0.70710677f;
    // erf(z) ≈ z·P(z²)/Q(z²) on [−4, 4] (the odd/even rational fit Eigen and TensorFlow use for float).
    private static final float ERF_A1 = -1.60960333262415e-02f;
    private static final float ERF_A3 = -2.95459980854025e-03f;
    private static final float ERF_A5 = -7.34990630326855e-04f;
    private static final float ERF_A7 = -5.69250639462346e-05f;
    private static final float ERF_A9 = -2.10102402082508e-06f;
    private static final float ERF_A11 = 2.77068142495902e-08f;
    private static final float ERF_A13 = -2.72614225801306e-10f;
    private static final float ERF_B0 = -1.42647390514189e-02f;
    private static final float ERF_B2 = -7.37332916720468e-03f;
    private static final float ERF_B4 = -1.68282697438203e-03f;
    private static final float ERF_B6 = -2.13374055278905e-04f;
    private static final float ERF_B8 = -1.45660718464996e-05f;

    /** GELU in float arithmetic with the rational erf: no exp, so a loop of it vectorises. */
    static float gelu(float x) {
        float z = Math.max(-4f, Math.min(4f, x * INV_SQRT2_F));
        float z2 = z * z;
        float p = z2 * ERF_A13 + ERF_A11;
        p = z2 * p + ERF_A9;
        p = z2 * p + ERF_A7;
        p = z2 * p + ERF_A5;
        p = z2 * p + ERF_A3;
        p = z2 * p + ERF_A1;
        p = z * p;
        float q = z2 * ERF_B8 + ERF_B6;
        q = z2 * q + ERF_B4;
        q = z2 * q + ERF_B2;
        q = z2 * q + ERF_B0;
        return 0.5f * x * (1f + p / q);
    }

    public String cliName() {
        return cliName;
    }

    public static Activation parse(String name) {
        for (Activation a : values()) {
            if (a.cliName.equals(name.toLowerCase(Locale.ROOT))) {
                return a;
            }
        }
        throw new IllegalArgumentException("unknown activation '" + name + "' (expected relu, gelu, gelu_tanh or silu)");
    }

    @Override
    public String toString() {
        return cliName;
    }
}
