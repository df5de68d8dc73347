package dev.tp4j.nn;

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
            return x > 0f ? x : 0f;
        }

        @Override
        public double reference(double x) {
            return x > 0 ? x : 0;
        }

        @Override
        public double lipschitz() {
            return 1;
        }
    },
    /** PyTorch's default GELU: x·Φ(x) with the exact erf. */
    GELU("gelu") {
        @Override
        public float apply(float x) {
            return (float) (0.5 * x * erfc(-x * INV_SQRT2));
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
     * Relative error of {@link #apply} against {@link #reference} before the final rounding to float:
     * the erfc approximation behind GELU (below); the others are evaluated in double and are exact to
     * far below float precision.
     */
    public double relativeApproximationError() {
        return this == GELU ? ERFC_RELATIVE_ERROR : 0.0;
    }

    private static final double ERFC_RELATIVE_ERROR = 1.2e-7;

    /**
     * erfc by the Chebyshev fit of Numerical Recipes (2nd ed., §6.2), fractional error below 1.2e-7
     * everywhere. Using erfc rather than 1 + erf keeps GELU's negative tail accurate in relative terms,
     * which 1 + erf loses to cancellation; one exp and ten multiply-adds, so the CPU rank's GELU costs
     * about what SiLU does.
     */
    static double erfc(double x) {
        double z = Math.abs(x);
        double t = 1.0 / (1.0 + 0.5 * z);
        double r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
                + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
                + t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? r : 2.0 - r;
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
