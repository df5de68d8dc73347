package dev.tp4j.reference;

/**
 * How a parallel result compares with its float64 reference: the largest absolute difference, the
 * error bound at the element closest to its bound, and whether every element is within its bound.
 *
 * @param maxAbsDiff   max_i |actual_i − reference_i|
 * @param maxBound     max_i bound_i (the loosest tolerance, for the report)
 * @param worstRatio   max_i |actual_i − reference_i| / bound_i: ≤ 1 passes
 * @param worstIndex   the element where worstRatio was reached (−1 when there are no elements)
 * @param nonFinite    elements where the result or the reference is NaN or infinite (each a failure)
 * @param firstNonFinite the first of those, or −1
 */
public record Comparison(String label, int elements, double maxAbsDiff, double maxBound, double worstRatio,
                         int worstIndex, int nonFinite, int firstNonFinite) {

    /** A comparison of finite values only. */
    public Comparison(String label, int elements, double maxAbsDiff, double maxBound, double worstRatio, int worstIndex) {
        this(label, elements, maxAbsDiff, maxBound, worstRatio, worstIndex, 0, -1);
    }

    public boolean passed() {
        return worstRatio <= 1.0;
    }

    public static Comparison of(String label, float[] actual, Bounded reference) {
        if (actual.length != reference.length()) {
            throw new IllegalArgumentException(label + ": " + actual.length + " values against a reference of "
                    + reference.length());
        }
        double maxDiff = 0;
        double maxBound = 0;
        double worst = 0;
        int worstIndex = actual.length == 0 ? -1 : 0;
        int nonFinite = 0;
        int firstNonFinite = -1;
        for (int i = 0; i < actual.length; i++) {
            if (!Float.isFinite(actual[i]) || !Double.isFinite(reference.value()[i])) {
                // NaN or Inf in the input or the weights: no difference or bound means anything here.
                nonFinite++;
                firstNonFinite = firstNonFinite < 0 ? i : firstNonFinite;
                worst = Double.POSITIVE_INFINITY;
                worstIndex = firstNonFinite;
                continue;
            }
            double diff = Math.abs(actual[i] - reference.value()[i]);
            double bound = reference.bound()[i];
            // A NaN anywhere (a value or a bound) is a failure, never a pass by comparison with NaN.
            double ratio = Double.isNaN(diff) || Double.isNaN(bound) ? Double.POSITIVE_INFINITY
                    : diff == 0 ? 0 : bound == 0 ? Double.POSITIVE_INFINITY : diff / bound;
            maxDiff = Double.isNaN(diff) ? Double.POSITIVE_INFINITY : Math.max(maxDiff, diff);
            maxBound = Double.isNaN(bound) ? maxBound : Math.max(maxBound, bound);
            if (ratio > worst) {
                worst = ratio;
                worstIndex = i;
            }
        }
        return new Comparison(label, actual.length, maxDiff, maxBound, worst, worstIndex, nonFinite, firstNonFinite);
    }
}
