package dev.tp4j.testutil;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.SplittableRandom;

/** Inputs and checks shared by the collective tests of every transport. */
public final class CollectiveData {
    private static final double UNIT_ROUNDOFF = Math.scalb(1.0, -24);

    private CollectiveData() {
    }

    /**
     * inputs[size index][rank]: mixed signs and magnitudes over binades {@code -maxBinade..maxBinade}, so
     * the order and rounding of a sum show. The same seed per (size index, rank) for every transport.
     */
    public static float[][][] inputs(int tp, int[] sizes, int maxBinade) {
        float[][][] inputs = new float[sizes.length][tp][];
        for (int s = 0; s < sizes.length; s++) {
            for (int r = 0; r < tp; r++) {
                SplittableRandom random = new SplittableRandom(1_000L * s + r);
                float[] values = new float[sizes[s]];
                for (int i = 0; i < values.length; i++) {
                    values[i] = (float) (random.nextDouble(-1, 1) * Math.scalb(1.0, random.nextInt(-maxBinade, maxBinade + 1)));
                }
                inputs[s][r] = values;
            }
        }
        return inputs;
    }

    /** Rank r's first {@code counts[r]} values, concatenated in rank order: what an all_gather gives. */
    public static float[] concatPrefixes(float[][] all, long[] counts) {
        float[] out = new float[(int) Arrays.stream(counts).sum()];
        int at = 0;
        for (int r = 0; r < counts.length; r++) {
            System.arraycopy(all[r], 0, out, at, (int) counts[r]);
            at += (int) counts[r];
        }
        return out;
    }

    /** {@code ((x₀ + x₁) + x₂) + …} in float32, element by element, over {@code all[r][offset .. offset + count)}. */
    public static float[] rankOrderSum(float[][] all, int offset, int count) {
        float[] sum = new float[count];
        for (int i = 0; i < count; i++) {
            float s = all[0][offset + i];
            for (int r = 1; r < all.length; r++) {
                s += all[r][offset + i];
            }
            sum[i] = s;
        }
        return sum;
    }

    /**
     * {@code got[i]} is the sum over ranks of {@code all[r][offset + i]} in float32, in whatever order: within
     * the forward error bound of n-1 float32 additions, {@code γ(n-1)·Σ|x|} with {@code γ(k) = k·u/(1 − k·u)},
     * {@code u = 2⁻²⁴}, of the float64 sum.
     */
    public static void assertCloseToSum(float[] got, float[][] all, int offset, String what) {
        int n = all.length;
        double gamma = (n - 1) * UNIT_ROUNDOFF / (1 - (n - 1) * UNIT_ROUNDOFF);
        for (int i = 0; i < got.length; i++) {
            double sum = 0;
            double magnitude = 0;
            for (float[] rankInput : all) {
                sum += rankInput[offset + i];
                magnitude += Math.abs(rankInput[offset + i]);
            }
            double tolerance = gamma * magnitude;
            if (!(Math.abs(got[i] - sum) <= tolerance)) {
                throw new AssertionError(what + ": element " + (offset + i) + " is " + got[i] + ", float64 reference "
                        + sum + " (tolerance " + tolerance + ")");
            }
        }
    }

    /** Equal bit for bit (so -0.0 differs from 0.0 and a NaN matches only the same NaN). */
    public static void assertBitwiseEqual(float[] expected, float[] got, String what) {
        assertEquals(expected.length, got.length, what);
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(got[i])) {
                throw new AssertionError(what + ": element " + i + " is " + got[i] + ", expected " + expected[i]);
            }
        }
    }
}
