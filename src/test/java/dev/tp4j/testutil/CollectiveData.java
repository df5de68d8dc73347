package dev.tp4j.testutil;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.SplittableRandom;

/** Inputs and checks shared by the collective tests of every transport. */
public final class CollectiveData {
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
