package dev.tp4j.task.verify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.BadInputException;
import dev.tp4j.backend.Activation;
import dev.tp4j.backend.DTypeChoice;
import dev.tp4j.backend.cpu.CpuBackend;
import dev.tp4j.tensor.DType;
import dev.tp4j.testing.InMemoryGroup;
import dev.tp4j.testing.RoundingCpuBackend;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code verify --dtype bf16|f16}: the seeded weights kept in the half dtype, the GEMM inputs rounded to
 * it, and the checks' bounds following the dtype. Run on {@link RoundingCpuBackend}, a CPU rank with a
 * GPU rank's half-precision numerics.
 */
class HalfWeightsVerifyTest {

    @ParameterizedTest(name = "{0} tp={1} {2} gated={3}")
    @CsvSource({"BF16, 1, gelu, false", "BF16, 2, silu, true", "F16, 3, relu, false", "F16, 2, gelu_tanh, true"})
    void everyCheckPassesWithinTheHalfPrecisionBound(DTypeChoice dtype, int tp, String act, boolean gated)
            throws Exception {
        VerifyOptions options = new VerifyOptions(4, 48, 100, 7, Activation.parse(act), gated, true, 1, dtype);
        List<VerifyResult> results = InMemoryGroup.run(tp,
                comm -> new VerifyRun(new RoundingCpuBackend(), comm, options).run());
        VerifyResult r = results.get(0);
        assertTrue(r.passed(), r.checks()::toString);
        assertTrue(r.backend().contains("weights in " + dtype.name()), r.backend());
    }

    /** The control: half-precision numbers checked against F32's bounds fail, so the dtype's bounds matter. */
    @Test
    void halfPrecisionResultsFailTheF32Bounds() throws Exception {
        VerifyOptions options = new VerifyOptions(4, 48, 100, 7, Activation.GELU, false, true, 1, DTypeChoice.F32);
        List<VerifyResult> results = InMemoryGroup.run(2,
                comm -> new VerifyRun(new RoundingCpuBackend(DType.BF16), comm, options).run());
        assertFalse(results.get(0).passed(), "BF16 rounding went unnoticed by F32's bounds");
    }

    @Test
    void cpuRanksRefuseHalfPrecisionNamingTheFlag() {
        VerifyOptions options = new VerifyOptions(2, 8, 8, 1, Activation.RELU, false, true, 1, DTypeChoice.BF16);
        BadInputException e = assertThrows(BadInputException.class,
                () -> new VerifyRun(new CpuBackend(1), null, options));
        assertEquals("--dtype bf16: CPU ranks compute in f32 only (bf16/f16 need the CUDA backend)", e.getMessage());
    }
}
