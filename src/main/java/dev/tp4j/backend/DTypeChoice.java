package dev.tp4j.backend;

import dev.tp4j.BadInputException;
import dev.tp4j.tensor.DType;
import java.util.Locale;

/**
 * {@code --dtype auto|f32|bf16|f16}: the dtype a rank keeps its weight matrices in and multiplies in
 * (inputs rounded to it, products accumulated in F32; activations and biases stay F32). {@code auto} is
 * the weights' own dtype where the backend can keep it (a GPU rank: a BF16 checkpoint stays BF16), F32
 * otherwise (CPU ranks compute in F32); an explicit half dtype on a backend without it is bad usage.
 */
public enum DTypeChoice {
    AUTO, F32, BF16, F16;

    /** The flag's value, any case; {@code fp32}, {@code float32}, {@code fp16}, {@code float16} too. */
    public static DTypeChoice parse(String flag, String value) {
        switch (value.toLowerCase(Locale.ROOT)) {
            case "auto":
                return AUTO;
            case "f32":
            case "fp32":
            case "float32":
                return F32;
            case "bf16":
            case "bfloat16":
                return BF16;
            case "f16":
            case "fp16":
            case "float16":
                return F16;
            default:
                throw new BadInputException(flag + " " + value + ": expected auto, f32, bf16 or f16");
        }
    }

    /** The dtype for weights stored as {@code source} (F32 for generated ones) on {@code backend}. */
    public DType resolve(DType source, Backend backend) {
        switch (this) {
            case AUTO:
                return backend.weightDTypes().contains(source) ? source : DType.F32;
            case F32:
                return DType.F32;
            default:
                DType wanted = this == BF16 ? DType.BF16 : DType.F16;
                if (!backend.weightDTypes().contains(wanted)) {
                    throw new BadInputException("--dtype " + cliName() + ": " + (backend.device().isCpu()
                            ? "CPU ranks compute in f32 only (bf16/f16 need the CUDA backend)"
                            : "the " + backend.device() + " backend keeps weights in " + backend.weightDTypes()));
                }
                return wanted;
        }
    }

    public String cliName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * The unit roundoff of a GEMM input rounded to {@code dtype} (to nearest): 0 for F32 (the inputs are
     * used as they are), 2⁻⁸ for BF16 (8 significant bits), 2⁻¹¹ for F16 (11).
     */
    public static double inputRoundoff(DType dtype) {
        switch (dtype) {
            case F32:
                return 0;
            case BF16:
                return 0x1.0p-8;
            case F16:
                return 0x1.0p-11;
            default:
                throw new IllegalArgumentException("no GEMM inputs in " + dtype);
        }
    }

    /**
     * The absolute rounding error of a value below the dtype's normal range: half its smallest subnormal
     * (0 for F32; 2⁻²⁵ for F16, whose subnormals start at 2⁻²⁴; 2⁻¹³⁴ for BF16).
     */
    public static double inputUnderflow(DType dtype) {
        switch (dtype) {
            case F32:
                return 0;
            case BF16:
                return 0x1.0p-134;
            case F16:
                return 0x1.0p-25;
            default:
                throw new IllegalArgumentException("no GEMM inputs in " + dtype);
        }
    }
}
