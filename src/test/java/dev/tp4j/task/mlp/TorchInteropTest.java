package dev.tp4j.task.mlp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.backend.cpu.CpuBackend;
import dev.tp4j.checkpoint.LoadListener;
import dev.tp4j.io.SafetensorsFile;
import dev.tp4j.io.TensorInfo;
import dev.tp4j.tensor.DType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import dev.tp4j.backend.Activation;
import dev.tp4j.testing.InMemoryGroup;
import dev.tp4j.reference.Bounded;
import dev.tp4j.reference.Comparison;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.nio.file.Paths;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Checkpoints PyTorch wrote (nn.Linear modules saved with Hugging Face's safetensors, see
 * interop/make-fixtures.sh) load and give PyTorch's result: tp4j's output against PyTorch's own float64
 * forward over the stored weights, within the fp32 error bound, at every tp.
 */
class TorchInteropTest {
    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0} tp={4}")
    @CsvSource({
        "llama_bf16_silu_gated, silu,      true,  false, 1",
        "llama_bf16_silu_gated, silu,      true,  false, 3",
        "gpt_f16_gelu_tanh,     gelu_tanh, false, true,  2",
        "gpt_f16_gelu_tanh,     gelu_tanh, false, true,  4",
        "bert_f32_gelu,         gelu,      false, true,  3",
        "f32_relu_gated,        relu,      true,  true,  2",
        "f32_relu_gated,        relu,      true,  true,  5",
    })
    void matchesPyTorchsForward(String fixture, String act, boolean gated, boolean bias, int tp) throws Exception {
        Path base = fixture(fixture);
        Path checkpoint = base.resolve("model.safetensors");
        Path input = base.resolve("input.safetensors");
        Path output = dir.resolve("out.safetensors");
        Activation activation = Activation.parse(act);
        MlpOptions options = new MlpOptions(checkpoint, MlpCheckpoints.UP, gated ? MlpCheckpoints.GATE : null,
                MlpCheckpoints.DOWN, activation, input, "input", output, "output", false);
        InMemoryGroup.run(tp, comm -> new MlpRun(new CpuBackend(1), comm, options, LoadListener.NONE).run());

        double[] torch = readFloat64(base.resolve("expected.safetensors"), "output");
        Bounded bound = MlpCheckpoints.reference(checkpoint, input, "input", activation, gated, bias);
        // Our float64 reference is PyTorch's float64 forward, up to float64 rounding.
        for (int i = 0; i < torch.length; i++) {
            double scale = Math.abs(torch[i]) + 1;
            assertTrue(Math.abs(bound.value()[i] - torch[i]) <= 1e-12 * scale,
                    "float64 reference disagrees with PyTorch at " + i + ": " + bound.value()[i] + " vs " + torch[i]);
        }
        Comparison c = Comparison.of(fixture, MlpCheckpoints.readOutput(output, "output"), new Bounded(torch, bound.bound()));
        assertTrue(c.passed(), c::toString);
    }

    /** PyTorch's F64 values as stored (the reader decodes to the F32 compute dtype, which would round them). */
    private static double[] readFloat64(Path file, String name) throws IOException {
        TensorInfo info;
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            info = f.info(name);
        }
        assertEquals(DType.F64, info.dtype());
        ByteBuffer bytes = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        long dataStart = 8 + bytes.getLong(0);
        double[] out = new double[(int) info.numel()];
        bytes.position((int) (dataStart + info.dataBegin())).slice().order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer().get(out);
        return out;
    }

    private static Path fixture(String name) throws URISyntaxException {
        return Paths.get(TorchInteropTest.class.getResource("/interop/" + name + "/model.safetensors").toURI()).getParent();
    }
}
