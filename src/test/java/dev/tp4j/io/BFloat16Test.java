package dev.tp4j.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class BFloat16Test {

    private static void assertEncodes(float value, int expectedBits) {
        int actual = BFloat16.fromFloat(value) & 0xFFFF;
        assertEquals(expectedBits, actual, () -> String.format("fromFloat(%s) = 0x%04X, expected 0x%04X",
                Float.toHexString(value), actual, expectedBits));
    }

    @Test
    void encodesKnownValues() {
        assertEncodes(1.0f, 0x3F80);
        assertEncodes(-2.5f, 0xC020);
        assertEncodes(0.0f, 0x0000);
        assertEncodes(-0.0f, 0x8000);
        assertEncodes(65504f, 0x4780);  // 65504 = 0x477FE000: rounds up to 65536
        assertEncodes(Float.POSITIVE_INFINITY, 0x7F80);
        assertEncodes(Float.NEGATIVE_INFINITY, 0xFF80);
        assertEncodes(Float.NaN, 0x7FC0);
    }

    @Test
    void roundsToNearestWithTiesToEven() {
        assertEncodes(Float.intBitsToFloat(0x3F808000), 0x3F80); // tie, kept bit even: down
        assertEncodes(Float.intBitsToFloat(0x3F818000), 0x3F82); // tie, kept bit odd: up
        assertEncodes(Float.intBitsToFloat(0x3F808001), 0x3F81); // just above the tie
        assertEncodes(Float.intBitsToFloat(0x3F807FFF), 0x3F80); // just below the tie
        assertEncodes(Float.intBitsToFloat(0x3FFF8000), 0x4000); // carry into the exponent
        assertEncodes(Float.MAX_VALUE, 0x7F80);                  // past the largest bfloat16: infinity
        assertEncodes(Float.intBitsToFloat(0x00018000), 0x0002); // subnormal tie, odd: up
        assertEncodes(Float.MIN_VALUE, 0x0000);
    }

    @Test
    void keepsNaNaNaN() {
        // Payload only in the low 16 bits: plain truncation would yield infinity.
        int bits = BFloat16.fromFloat(Float.intBitsToFloat(0x7F800001)) & 0xFFFF;
        assertTrue((bits & 0x7F80) == 0x7F80 && (bits & 0x7F) != 0);
        assertEquals(0xFFC0, BFloat16.fromFloat(Float.intBitsToFloat(0xFFC00000)) & 0xFFFF);
    }

    @Test
    void decodesAsTheTopHalfOfAnF32() {
        for (int b = 0; b < 0x10000; b++) {
            float f = BFloat16.toFloat((short) b);
            assertEquals(b << 16, Float.floatToRawIntBits(f));
            if (!Float.isNaN(f)) {
                assertEquals(b, BFloat16.fromFloat(f) & 0xFFFF);
            }
        }
    }

    @Test
    void roundingAgreesWithExactNearestEven() {
        SplittableRandom random = new SplittableRandom(7);
        for (int i = 0; i < 200_000; i++) {
            int bits = random.nextInt() & 0x7F7F_FFFF; // finite, positive
            float value = Float.intBitsToFloat(bits);
            int down = bits >>> 16;
            double lower = Float.intBitsToFloat(down << 16);
            double upper = Float.intBitsToFloat((down + 1) << 16); // may be infinity for the top binade
            double x = value;
            int expected;
            if (Double.isInfinite(upper)) {
                // Between the largest bfloat16 and infinity: compare against the would-be next value 2^128.
                upper = Math.pow(2, 128);
            }
            if (x - lower < upper - x || (x - lower == upper - x && (down & 1) == 0)) {
                expected = down;
            } else {
                expected = down + 1;
            }
            assertEquals(expected, BFloat16.fromFloat(value) & 0xFFFF, Float.toHexString(value));
        }
    }
}
