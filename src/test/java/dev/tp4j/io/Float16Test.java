package dev.tp4j.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class Float16Test {

    /** Encodes and checks the exact binary16 bits (as an unsigned 16-bit int). */
    private static void assertEncodes(float value, int expectedBits) {
        int actual = Float16.fromFloat(value) & 0xFFFF;
        assertEquals(expectedBits, actual, () -> String.format("fromFloat(%s) = 0x%04X, expected 0x%04X",
                Float.toHexString(value), actual, expectedBits));
    }

    @Test
    void encodesOrdinaryValuesToTheirKnownBitPatterns() {
        assertEncodes(1.0f, 0x3C00);
        assertEncodes(-2.5f, 0xC100);
        assertEncodes(0.5f, 0x3800);
        assertEncodes(0.1f, 0x2E66);
        assertEncodes(1f / 3f, 0x3555);
        assertEncodes(65504f, 0x7BFF);   // largest finite half
        assertEncodes(0.0f, 0x0000);
        assertEncodes(-0.0f, 0x8000);
        assertEncodes(0x1.0p-14f, 0x0400); // smallest normal half
    }

    @Test
    void encodesSubnormals() {
        assertEncodes(0x1.0p-24f, 0x0001);               // smallest subnormal
        assertEncodes(-0x1.0p-24f, 0x8001);
        assertEncodes(1023 * 0x1.0p-24f, 0x03FF);        // largest subnormal
        assertEncodes(0x1.0p-25f, 0x0000);               // exactly half the smallest: tie to even (0)
        assertEncodes(0x1.8p-25f, 0x0001);               // 0.75 units: up
        assertEncodes(0x1.0p-26f, 0x0000);               // 0.25 units: down
        assertEncodes(0x1.8p-24f, 0x0002);               // 1.5 units: tie to even (2)
        assertEncodes(0x1.4p-23f, 0x0002);               // 2.5 units: tie to even (2)
        assertEncodes(1023.5f * 0x1.0p-24f, 0x0400);     // tie between 0x3FF and 0x400: even, carries to normal
        assertEncodes(Float.MIN_VALUE, 0x0000);          // F32 subnormal: far too small
        assertEncodes(-Float.MIN_VALUE, 0x8000);
    }

    @Test
    void roundsNormalsToNearestWithTiesToEven() {
        assertEncodes(1f + 0x1.0p-11f, 0x3C00);          // halfway between 0x3C00 and 0x3C01: even is 0x3C00
        assertEncodes(1f + 0x1.8p-10f, 0x3C02);          // halfway between 0x3C01 and 0x3C02: even is 0x3C02
        assertEncodes(Math.nextUp(1f + 0x1.0p-11f), 0x3C01); // just above the tie: up
        assertEncodes(Math.nextDown(1f + 0x1.0p-11f), 0x3C00);
        assertEncodes(2047f / 1024f + 0x1.0p-11f, 0x4000); // 0x3FFF + half an ulp: tie, odd, carries into the exponent
    }

    @Test
    void overflowsToInfinityAtTheRoundingBoundary() {
        assertEncodes(65519.996f, 0x7BFF);               // below the tie 65520: stays finite
        assertEncodes(65520f, 0x7C00);                   // the tie: 0x7BFF is odd, so rounds up to infinity
        assertEncodes(1e6f, 0x7C00);
        assertEncodes(-1e6f, 0xFC00);
        assertEncodes(Float.MAX_VALUE, 0x7C00);
    }

    @Test
    void encodesInfinityAndNaN() {
        assertEncodes(Float.POSITIVE_INFINITY, 0x7C00);
        assertEncodes(Float.NEGATIVE_INFINITY, 0xFC00);
        assertEncodes(Float.NaN, 0x7E00);                // canonical quiet NaN
        assertEncodes(Float.intBitsToFloat(0xFFC00000), 0xFE00);
        // A NaN whose payload sits only in the bits that are dropped must not become infinity.
        int narrowed = Float16.fromFloat(Float.intBitsToFloat(0x7F800001)) & 0xFFFF;
        assertEquals(0x7C00, narrowed & 0x7C00);
        assertTrue((narrowed & 0x03FF) != 0, "NaN stays NaN");
    }

    @Test
    void decodesKnownBitPatterns() {
        assertEquals(1.0f, Float16.toFloat((short) 0x3C00));
        assertEquals(-2.5f, Float16.toFloat((short) 0xC100));
        assertEquals(65504f, Float16.toFloat((short) 0x7BFF));
        assertEquals(-65504f, Float16.toFloat((short) 0xFBFF));
        assertEquals(0x1.0p-24f, Float16.toFloat((short) 0x0001));
        assertEquals(1023 * 0x1.0p-24f, Float16.toFloat((short) 0x03FF));
        assertEquals(0x1.0p-14f, Float16.toFloat((short) 0x0400));
        assertEquals(Float.floatToRawIntBits(-0.0f), Float.floatToRawIntBits(Float16.toFloat((short) 0x8000)));
        assertEquals(Float.POSITIVE_INFINITY, Float16.toFloat((short) 0x7C00));
        assertEquals(Float.NEGATIVE_INFINITY, Float16.toFloat((short) 0xFC00));
        assertTrue(Float.isNaN(Float16.toFloat((short) 0x7E00)));
        assertTrue(Float.isNaN(Float16.toFloat((short) 0x7C01)));
        assertTrue(Float.isNaN(Float16.toFloat((short) 0xFFFF)));
    }

    /** Independent decoding: sign × 2^(e-15) × (1 + m/1024), or m × 2^-24 for subnormals, in double. */
    private static double referenceValue(int h) {
        int sign = (h >>> 15) == 0 ? 1 : -1;
        int e = (h >>> 10) & 0x1F;
        int m = h & 0x3FF;
        if (e == 0) {
            return sign * m * Math.pow(2, -24);
        }
        if (e == 31) {
            return m == 0 ? sign * Double.POSITIVE_INFINITY : Double.NaN;
        }
        return sign * Math.pow(2, e - 15) * (1 + m / 1024.0);
    }

    @Test
    void decodesEveryBitPatternAsTheFormulaSays() {
        for (int h = 0; h < 0x10000; h++) {
            double expected = referenceValue(h);
            float actual = Float16.toFloat((short) h);
            if (Double.isNaN(expected)) {
                assertTrue(Float.isNaN(actual), "0x" + Integer.toHexString(h));
            } else {
                assertEquals(expected, actual, 0.0, "0x" + Integer.toHexString(h));
                assertEquals(h >>> 15, Float.floatToRawIntBits(actual) >>> 31, "sign of 0x" + Integer.toHexString(h));
            }
        }
    }

    @Test
    void everyHalfSurvivesARoundTripThroughFloat() {
        for (int h = 0; h < 0x10000; h++) {
            float f = Float16.toFloat((short) h);
            int back = Float16.fromFloat(f) & 0xFFFF;
            if (Float.isNaN(f)) {
                assertTrue((back & 0x7C00) == 0x7C00 && (back & 0x3FF) != 0, "NaN 0x" + Integer.toHexString(h));
            } else {
                assertEquals(h, back, "0x" + Integer.toHexString(h));
            }
        }
    }

    /**
     * Brute-force reference for rounding: among the finite halves of the right sign, the one nearest in
     * exact (double) arithmetic; ties go to the even bit pattern; beyond 65520 the answer is infinity.
     */
    private static int referenceEncode(float value) {
        int sign = Float.floatToRawIntBits(value) < 0 ? 0x8000 : 0;
        double magnitude = Math.abs((double) value);
        if (magnitude >= 65520.0) {
            return sign | 0x7C00;
        }
        int lo = 0;
        int hi = 0x7BFF;
        while (lo < hi) { // largest pattern whose value is <= magnitude (values grow with the pattern)
            int mid = (lo + hi + 1) >>> 1;
            if (referenceValue(mid) <= magnitude) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        int below = lo;
        if (below == 0x7BFF || referenceValue(below) == magnitude) {
            return sign | below;
        }
        double downDistance = magnitude - referenceValue(below);
        double upDistance = referenceValue(below + 1) - magnitude;
        if (downDistance < upDistance || (downDistance == upDistance && (below & 1) == 0)) {
            return sign | below;
        }
        return sign | (below + 1);
    }

    @Test
    void roundingAgreesWithBruteForceNearestEven() {
        SplittableRandom random = new SplittableRandom(16);
        for (int i = 0; i < 200_000; i++) {
            // Exponents spread over and beyond the half range, random mantissas, both signs.
            float value = (float) (random.nextDouble(-1, 1) * Math.pow(2, random.nextInt(-30, 18)));
            assertEquals(referenceEncode(value), Float16.fromFloat(value) & 0xFFFF, Float.toHexString(value));
        }
        // Every exact tie between neighbouring halves (midpoints are exact in F32).
        for (int h = 0; h < 0x7BFF; h++) {
            float midpoint = (float) ((referenceValue(h) + referenceValue(h + 1)) / 2);
            assertEquals(referenceEncode(midpoint), Float16.fromFloat(midpoint) & 0xFFFF, "tie after 0x" + Integer.toHexString(h));
            assertEquals((h & 1) == 0 ? h : h + 1, Float16.fromFloat(midpoint) & 0xFFFF);
        }
    }
}
