package dev.tp4j.io;

/**
 * bfloat16 ("BF16", {@code torch.bfloat16}) to and from F32. A bfloat16 is the top 16 bits of an F32
 * (same 8-bit exponent, 7 mantissa bits), so widening is a shift and narrowing is a rounding of the
 * low 16 bits.
 */
public final class BFloat16 {
    private BFloat16() {
    }

    /** The F32 value of a bfloat16 bit pattern. Exact. */
    public static float toFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /**
     * The bfloat16 bit pattern nearest to {@code value}, ties to even (as {@code torch.Tensor.bfloat16()}
     * rounds). Finite values past the largest bfloat16 become infinity; NaN stays a quiet NaN with its
     * sign (truncating a NaN whose payload sits only in the low bits would otherwise give infinity).
     */
    public static short fromFloat(float value) {
        int f = Float.floatToRawIntBits(value);
        if ((f & 0x7F80_0000) == 0x7F80_0000 && (f & 0x7F_FFFF) != 0) {
            return (short) ((f >>> 16) | 0x0040);
        }
        // Adding 0x7FFF rounds up exactly when the low half exceeds 0x8000; the extra +1 for an odd
        // kept bit turns the exact tie (0x8000) into round-half-to-even. Carries ripple into the
        // exponent, and from the largest finite value into infinity, as they should.
        int roundingBias = 0x7FFF + ((f >>> 16) & 1);
        return (short) ((f + roundingBias) >>> 16);
    }
}
