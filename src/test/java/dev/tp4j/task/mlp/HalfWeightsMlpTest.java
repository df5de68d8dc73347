package dev.tp4j.task.mlp;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.backend.Activation;
import dev.tp4j.backend.DTypeChoice;
import dev.tp4j.checkpoint.LoadListener;
import dev.tp4j.testing.InMemoryGroup;
import dev.tp4j.testing.RoundingCpuBackend;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code mlp --dtype auto} on ranks that keep half-precision weights ({@link RoundingCpuBackend}): the
 * PyTorch-made BF16 and F16 checkpoints stay in their dtype, the GEMM inputs are rounded to it, and
 * {@code --verify}'s bound follows.
 */
class HalfWeightsMlpTest {
    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0} tp={3}")
    @CsvSource({"llama_bf16_silu_gated, silu, true, 1", "llama_bf16_silu_gated, silu, true, 3",
                "gpt_f16_gelu_tanh, gelu_tanh, false, 2"})
    void checkpointsStayInTheirDtypeAndVerify(String fixture, String act, boolean gated, int tp) throws Exception {
        Path base = Paths.get(HalfWeightsMlpTest.class.getResource("/interop/" + fixture + "/model.safetensors").toURI())
                .getParent();
        MlpOptions options = new MlpOptions(base.resolve("model.safetensors"), MlpCheckpoints.UP,
                gated ? MlpCheckpoints.GATE : null, MlpCheckpoints.DOWN, Activation.parse(act),
                base.resolve("input.safetensors"), "input", dir.resolve("out.safetensors"), "output", true,
                DTypeChoice.AUTO);
        List<MlpResult> results = InMemoryGroup.run(tp,
                comm -> new MlpRun(new RoundingCpuBackend(), comm, options, LoadListener.NONE).run());
        MlpResult r = results.get(0);
        assertTrue(r.passed(), String.valueOf(r.verification()));
        String dtype = fixture.contains("bf16") ? "BF16" : "F16";
        assertTrue(r.backend().contains("weights in " + dtype), r.backend());
        assertFalse(r.backend().contains("weights in F32"), r.backend());
    }
}
