package dev.tp4j.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Pointwise accuracy of what a CPU rank computes against the float64 definitions, with the error the
 * reference's bound assumes; layer-level bounds are too wide to catch a swapped activation, this is not.
 */
class ActivationTest {

    @ParameterizedTest
    @EnumSource(Activation.class)
    void floatValuesAreWithinTheDeclaredErrorOfTheFloat64Definition(Activation act) {
        double u = 0x1.0p-24;
        float[] all = new float[400_001];
        for (int i = -200_000; i <= 200_000; i++) {
            all[i + 200_000] = i * 1e-4f;
        }
        float[] vectorised = all.clone();
        act.applyAll(vectorised, vectorised.length);
        for (int i = -200_000; i <= 200_000; i++) {
            float x = i * 1e-4f;
            double exact = act.reference(x);
            double got = act.apply(x);
            assertEquals(got, vectorised[i + 200_000], 0.0, "applyAll and apply agree bitwise");
            double approximation = act.approximationError(x);
            double tol = approximation + u * (Math.abs(exact) + approximation) + Float.MIN_VALUE; // as Float64Reference
            assertTrue(Math.abs(got - exact) <= tol,
                    () -> act + "(" + x + ") = " + got + ", float64 " + exact + ", off by " + Math.abs(got - exact));
        }
    }

    @ParameterizedTest
    @EnumSource(Activation.class)
    void aNaNStaysNaNAsInPyTorch(Activation act) {
        assertTrue(Float.isNaN(act.apply(Float.NaN)), "apply");
        assertTrue(Double.isNaN(act.reference(Double.NaN)), "reference");
        float[] v = {1f, Float.NaN, -1f};
        act.applyAll(v, v.length);
        assertTrue(Float.isNaN(v[1]), "applyAll");
    }

    @Test
    void knownValues() {
        assertEquals(0.0, Activation.RELU.reference(-3.0));
        assertEquals(0.8413447460685429, Activation.GELU.reference(1.0), 1e-15);   // Φ(1)
        assertEquals(0.8411919906082768, Activation.GELU_TANH.reference(1.0), 1e-15);
        assertEquals(0.7310585786300049, Activation.SILU.reference(1.0), 1e-15);    // σ(1)
    }

    @Test
    void geluAndItsTanhApproximationAreTellingApart() {
        float x = 2.5f;
        double tol = Activation.GELU.approximationError(x) + 0x1.0p-24 * Math.abs(Activation.GELU.reference(x));
        assertTrue(Math.abs(Activation.GELU.apply(x) - Activation.GELU_TANH.reference(x)) > 100 * tol);
    }
}
