package dev.tp4j.io;

/**
 * IEEE 754 binary16 ("F16", {@code torch.float16}) to and from F32, bit by bit. Java 17 has no
 * {@code Float.float16ToFloat}, and a checkpoint's half-precision weights must load exactly, so the
 * conversion is written out here: subnormals, infinities and NaN payloads included.
 *
 * <p>Layout: 1 sign bit, 5 exponent bits (bias 15), 10 mantissa bits.
 */
public final class Float16 {
    private static final int SIGN_MASK = 0x8000;
    private static final int EXPONENT_MASK = 0x7C00;
    private static final int MANTISSA_MASK = 0x03FF;
    private static final int INFINITY_BITS = 0x7C00;
    /** The quiet bit of a binary16 NaN: set when narrowing would otherwise turn a NaN into infinity. */
    private static final int QUIET_NAN_BIT = 0x0200;
    /** 2^-24: the value of one unit in the last place of a binary16 subnormal. */
    private static final float SUBNORMAL_UNIT = 0x1.0p-24f;

    private Float16() {
    }

    /** The F32 value of a binary16 bit pattern (the low 16 bits of {@code bits}). Exact: F32 holds every F16. */
    public static float toFloat(short bits) {
        int h = bits & 0xFFFF;
        int sign = (h & SIGN_MASK) << 16;
        int exponent = (h & EXPONENT_MASK) >>> 10;
        int mantissa = h & MANTISSA_MASK;
        if (exponent == 0) {
            // Zero or subnormal: mantissa × 2^-24, exact in F32 (whose normals reach down to 2^-126).
            float magnitude = mantissa * SUBNORMAL_UNIT;
            return sign == 0 ? magnitude : -magnitude;
        }
        if (exponent == 0x1F) {
            // Infinity (mantissa 0) or NaN; the payload is kept in the top mantissa bits.
            return Float.intBitsToFloat(sign | 0x7F80_0000 | (mantissa << 13));
        }
        return Float.intBitsToFloat(sign | ((exponent - 15 + 127) << 23) | (mantissa << 13));
    }

    /**
     * The binary16 bit pattern nearest to {@code value}, ties to even (IEEE's default rounding and what
     * {@code torch.Tensor.half()} does). Values at or above 65520 in magnitude become infinity; values
     * below 2^-25 become a signed zero; NaN stays NaN (quiet, sign and top payload bits kept).
     */
    public static short fromFloat(float value) {
        int f = Float.floatToRawIntBits(value);
        int sign = (f >>> 16) & SIGN_MASK;
        int exponent = (f >>> 23) & 0xFF;
        int mantissa = f & 0x7F_FFFF;

        if (exponent == 0xFF) {
            if (mantissa == 0) {
                return (short) (sign | INFINITY_BITS);
            }
            int payload = mantissa >>> 13;
            return (short) (sign | INFINITY_BITS | payload | (payload == 0 ? QUIET_NAN_BIT : 0));
        }

        int unbiased = exponent - 127;
        if (unbiased > 15) {
            return (short) (sign | INFINITY_BITS);
        }
        if (unbiased >= -14) {
            // Normal binary16: drop 13 mantissa bits with round-to-nearest-even. A carry out of the
            // mantissa correctly bumps the exponent, and past 65504 lands exactly on infinity (0x7C00).
            int half = ((unbiased + 15) << 10) | (mantissa >>> 13);
            return (short) (sign | roundShiftedOut(half, mantissa, 13));
        }
        // Subnormal binary16 (or zero): the value in units of 2^-24 is significand × 2^(unbiased + 1),
        // with the implicit leading bit made explicit. F32 subnormals are far below 2^-25 and end up 0.
        int shift = -(unbiased + 1);
        if (exponent == 0 || shift > 24) {
            return (short) sign;
        }
        int significand = 0x80_0000 | mantissa;
        return (short) (sign | roundShiftedOut(significand >>> shift, significand, shift));
    }

    /**
     * Rounds {@code kept} (= {@code full >>> droppedBits}) to nearest, ties to even, looking at the bits
     * of {@code full} that were shifted out.
     */
    private static int roundShiftedOut(int kept, int full, int droppedBits) {
        int dropped = full & ((1 << droppedBits) - 1);
        int halfway = 1 << (droppedBits - 1);
        if (dropped > halfway || (dropped == halfway && (kept & 1) == 1)) {
            return kept + 1;
        }
        return kept;
    }
}
