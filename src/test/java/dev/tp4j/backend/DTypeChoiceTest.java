package dev.tp4j.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tp4j.BadInputException;
import dev.tp4j.backend.cpu.CpuBackend;
import dev.tp4j.tensor.DType;
import dev.tp4j.testing.RoundingCpuBackend;
import org.junit.jupiter.api.Test;

/** {@code --dtype auto|f32|bf16|f16}: parsing and what each means on a backend. */
class DTypeChoiceTest {

    @Test
    void namesAndTheirSpellings() {
        assertEquals(DTypeChoice.AUTO, DTypeChoice.parse("--dtype", "AUTO"));
        assertEquals(DTypeChoice.F32, DTypeChoice.parse("--dtype", "fp32"));
        assertEquals(DTypeChoice.BF16, DTypeChoice.parse("--dtype", "bfloat16"));
        assertEquals(DTypeChoice.F16, DTypeChoice.parse("--dtype", "fp16"));
        assertEquals("--dtype bf8: expected auto, f32, bf16 or f16",
                assertThrows(BadInputException.class, () -> DTypeChoice.parse("--dtype", "bf8")).getMessage());
    }

    @Test
    void autoIsTheWeightsOwnDtypeWhereTheBackendKeepsIt() {
        try (CpuBackend cpu = new CpuBackend(1); RoundingCpuBackend gpuLike = new RoundingCpuBackend()) {
            assertEquals(DType.F32, DTypeChoice.AUTO.resolve(DType.BF16, cpu), "CPU ranks compute in F32");
            assertEquals(DType.BF16, DTypeChoice.AUTO.resolve(DType.BF16, gpuLike), "a BF16 checkpoint stays BF16");
            assertEquals(DType.F16, DTypeChoice.AUTO.resolve(DType.F16, gpuLike));
            assertEquals(DType.F32, DTypeChoice.AUTO.resolve(DType.F32, gpuLike));
            assertEquals(DType.F32, DTypeChoice.AUTO.resolve(DType.F64, gpuLike), "no F64 weights: F32");
            assertEquals(DType.F32, DTypeChoice.F32.resolve(DType.BF16, gpuLike));
            assertEquals(DType.F16, DTypeChoice.F16.resolve(DType.BF16, gpuLike));
        }
    }

    @Test
    void anExplicitHalfDtypeOnCpuRanksIsBadUsage() {
        try (CpuBackend cpu = new CpuBackend(1)) {
            assertEquals("--dtype f16: CPU ranks compute in f32 only (bf16/f16 need the CUDA backend)",
                    assertThrows(BadInputException.class, () -> DTypeChoice.F16.resolve(DType.F32, cpu)).getMessage());
        }
    }

    @Test
    void inputRoundoffs() {
        assertEquals(0, DTypeChoice.inputRoundoff(DType.F32));
        assertEquals(Math.ulp(1f) * 0x1.0p15, DTypeChoice.inputRoundoff(DType.BF16)); // 2^-8: 8 significant bits
        assertEquals(0x1.0p-11, DTypeChoice.inputRoundoff(DType.F16));
        assertEquals(0x1.0p-25, DTypeChoice.inputUnderflow(DType.F16));
    }
}
