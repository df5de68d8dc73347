package dev.tp4j.reference;

/**
 * A float64 reference result with, per element, a bound on how far a correct float32 computation may
 * lie from it: {@code |computed_i − value_i| ≤ bound_i}. Bounds come from standard forward error
 * analysis of the operations that produced the value, so they grow with the dtype's unit roundoff and
 * the reduction length, never with a constant chosen to make a test pass.
 */
public record Bounded(double[] value, double[] bound) {

    public Bounded {
        if (value.length != bound.length) {
            throw new IllegalArgumentException("value and bound lengths differ");
        }
    }

    /** Exact values (inputs and weights, which are float32 numbers held exactly in float64). */
    public static Bounded exact(double[] value) {
        return new Bounded(value, new double[value.length]);
    }

    public int length() {
        return value.length;
    }
}
