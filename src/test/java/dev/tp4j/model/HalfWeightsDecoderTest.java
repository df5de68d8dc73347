package dev.tp4j.model;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.backend.DTypeChoice;
import dev.tp4j.io.ModelDirectory;
import dev.tp4j.reference.Bounded;
import dev.tp4j.reference.Comparison;
import dev.tp4j.reference.Float64Decoder;
import dev.tp4j.reference.TinyDecoderModels;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import dev.tp4j.testing.InMemoryGroup;
import dev.tp4j.testing.RoundingCpuBackend;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A whole model with half-precision weight matrices, as GPU ranks keep a BF16 or F16 checkpoint
 * ({@code generate --dtype auto}), computed without a GPU by {@link RoundingCpuBackend} (weights rounded to
 * the dtype, each GEMM input rounded to it, F32 accumulation: what the CUDA backend does around
 * cublasGemmEx), on {@link TinyDecoderModels} (initialised as transformers does) at tp 1 and 2: the prompt's
 * logits are within the rigorous bound of {@link Float64Decoder} for those weights and within an empirical
 * tolerance of its values ({@link #assertWithinEmpiricalTolerance}). The control: the same rounding while
 * the reference assumes F32 weights and inputs breaks the F32 bound, so the bound does see the dtype.
 */
class HalfWeightsDecoderTest {
    @TempDir
    static Path tmp;

    static Stream<Arguments> modelsDTypesAndTp() {
        return TinyDecoderModels.specs().stream().flatMap(spec -> Stream.of(
                Arguments.of(spec, spec.dtype() == DType.F16 ? DType.F16 : DType.BF16, 1),
                Arguments.of(spec, spec.dtype() == DType.F16 ? DType.F16 : DType.BF16, 2)));
    }

    private static float[] logits(Path model, int[] prompt, int tp, DType weights, DType forced) throws Exception {
        return InMemoryGroup.run(tp, comm -> {
            try (RoundingCpuBackend backend = new RoundingCpuBackend(forced); ModelDirectory dir = ModelDirectory.open(model)) {
                ModelConfig config = ModelConfig.read(dir);
                try (DecoderModel m = DecoderModel.load(dir, config, backend, comm, prompt.length, weights);
                     Tensor out = backend.allocate(Shape.of(prompt.length, config.vocabSize()), DType.F32)) {
                    m.forward(prompt, 0);
                    m.logits(out);
                    return backend.copyToHost(out);
                }
            }
        }).get(0);
    }

    private static Bounded reference(Path model, int[] prompt, DType weights) {
        try (ModelDirectory dir = ModelDirectory.open(model)) {
            return new Float64Decoder(dir, ModelConfig.read(dir), weights).logits(prompt);
        }
    }

    private static Path model(TinyDecoderModels.Spec spec) {
        return TinyDecoderModels.write(tmp.resolve(spec.name()), spec);
    }

    @ParameterizedTest(name = "{0} in {1} at tp {2}")
    @MethodSource("modelsDTypesAndTp")
    void logitsAreWithinTheBoundForTheirWeights(TinyDecoderModels.Spec spec, DType weights, int tp) throws Exception {
        Path model = model(spec);
        int[] prompt = TinyDecoderModels.prompt(9, spec.vocab(), spec.seed() * 31);
        Bounded want = reference(model, prompt, weights);
        Comparison c = Comparison.of("logits", logits(model, prompt, tp, weights, null), want);
        assertTrue(c.passed(), spec + " " + weights + " tp " + tp + ": max |Δ| " + c.maxAbsDiff() + ", bound "
                + c.maxBound());
        double scale = 0;
        for (double v : want.value()) {
            scale = Math.max(scale, Math.abs(v));
        }
        assertWithinEmpiricalTolerance(c, scale, weights, spec + " tp " + tp);
    }

    /**
     * The rigorous bound of BF16 GEMM inputs is vacuous at any depth (measured on these models: 60 to 70 000
     * times the largest logit; F16's, with 8 times finer inputs, 0.24 of it), so the result is also held to
     * an empirical tolerance of 4 units of the dtype's roundoff at the logits' scale: measured 0.3 to 0.7 of
     * one unit here; a wrong semantic moves the logits by a good fraction of their scale.
     */
    static void assertWithinEmpiricalTolerance(Comparison c, double scale, DType weights, String what) {
        double u = DTypeChoice.inputRoundoff(weights);
        assertTrue(c.maxAbsDiff() <= 4 * u * scale, what + ": max |Δ| " + c.maxAbsDiff() + " beyond 4·u·scale = "
                + 4 * u * scale);
        if (weights == DType.F16) {
            assertTrue(c.maxBound() < scale, what + ": F16's bound " + c.maxBound() + " beside logits of " + scale);
        }
    }

    /** Rounding that the reference does not know of exceeds its F32 bound: the bound sees the dtype. */
    @Test
    void bf16ArithmeticBreaksTheF32Bound() throws Exception {
        TinyDecoderModels.Spec spec = TinyDecoderModels.specs().get(0);
        Path model = model(spec);
        int[] prompt = TinyDecoderModels.prompt(9, spec.vocab(), spec.seed() * 31);
        Comparison c = Comparison.of("logits", logits(model, prompt, 1, DType.F32, DType.BF16), reference(model, prompt, DType.F32));
        assertFalse(c.passed(), "max |Δ| " + c.maxAbsDiff() + " within the F32 bound " + c.maxBound());
    }
}
