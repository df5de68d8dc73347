package dev.tp4j.reference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.BadInputException;
import dev.tp4j.io.ModelDirectory;
import dev.tp4j.model.ModelConfig;
import dev.tp4j.reference.TinyDecoderModels.Spec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The float64 decoder against two plain decoders written here: the straightforward float64 forward
 * (its values, to 1e-12) and the float32 recipe in several summation orders (every logit within its
 * bound, and the bound far below the logits' scale).
 */
class Float64DecoderTest {
    @TempDir
    Path tmp;

    static Stream<Spec> specs() {
        return TinyDecoderModels.specs().stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("specs")
    void valuesMatchAPlainFloat64ForwardAndBoundEveryFloat32Order(Spec spec) {
        Path dir = TinyDecoderModels.write(tmp.resolve(spec.name()), spec);
        int promptLength = spec.llama3() != null ? 40 : 13 + (int) spec.seed();
        int[] ids = TinyDecoderModels.prompt(promptLength, spec.vocab(), spec.seed() * 31);
        try (ModelDirectory model = ModelDirectory.open(dir)) {
            ModelConfig config = ModelConfig.read(model);
            Bounded reference = Float64Decoder.logits(model, config, ids);
            assertEquals(ids.length * spec.vocab(), reference.length());

            PlainDecoder plain = new PlainDecoder(model, config);
            double[] expected = plain.forward64(ids);
            double scale = 0;
            double diff = 0;
            for (int i = 0; i < expected.length; i++) {
                scale = Math.max(scale, Math.abs(expected[i]));
                diff = Math.max(diff, Math.abs(expected[i] - reference.value()[i]));
            }
            assertTrue(scale > 0.1, spec + ": logits of scale " + scale);
            assertTrue(diff <= 1e-12 * scale, spec + ": float64 values differ from the plain forward by " + diff
                    + " at logit scale " + scale);

            double maxBound = 0;
            for (double b : reference.bound()) {
                maxBound = Math.max(maxBound, b);
            }
            double worst = 0;
            double worstDiff = 0;
            for (PlainDecoder.Order order : PlainDecoder.Order.values()) {
                for (boolean variant : List.of(false, true)) {
                    float[] actual = plain.forward32(ids, order, variant, variant);
                    Comparison c = Comparison.of(spec + " " + order, actual, reference);
                    assertTrue(c.passed(), () -> spec + " " + order + " " + variant + ": logit " + c.worstIndex()
                            + " off by " + (actual[c.worstIndex()] - reference.value()[c.worstIndex()]) + ", bound "
                            + reference.bound()[c.worstIndex()] + " (ratio " + c.worstRatio() + ")");
                    worst = Math.max(worst, c.worstRatio());
                    worstDiff = Math.max(worstDiff, c.maxAbsDiff());
                }
            }
            System.out.printf(Locale.ROOT, "%-32s %3d tokens: max|logit| %.3f, max|f32 − f64| %.3e, max bound %.3e,"
                            + " bound/|logit| %.2e, worst |Δ|/bound %.2e%n", spec, ids.length, scale, worstDiff, maxBound,
                    maxBound / scale, worst);
            // Rigorous bounds grow with depth; on these two-layer models (initializer range 0.02, as
            // transformers initialises) they stay between 10⁻³ and 10⁻² of the logits.
            assertTrue(maxBound < 2e-2 * scale, spec + ": the bound " + maxBound + " is not useful at logit scale " + scale);
            assertTrue(worstDiff > 0, spec + ": float32 equal to float64 everywhere: the test checks nothing");
        }
    }

    /**
     * Weights five times the usual scale and three layers: the bound outgrows the logits (rigorous bounds
     * compound with depth and weight scale), the decoder stops certifying spectral norms once the residual
     * stream's bound is vacuous, and still every bound is a number or infinity, never NaN, and holds.
     */
    @Test
    void aBoundThatBecomesVacuousStaysSoundAndTheDecoderIsReusable() {
        Spec spec = new Spec("llama-strong-3-layers", "LlamaForCausalLM", 32, 64, 3, 4, 2, 0, 40, false, false, false,
                10000, 1e-5, null, dev.tp4j.tensor.DType.F32, 0.1, 8);
        Path dir = TinyDecoderModels.write(tmp.resolve(spec.name()), spec);
        int[] ids = TinyDecoderModels.prompt(20, spec.vocab(), 3);
        try (ModelDirectory model = ModelDirectory.open(dir)) {
            ModelConfig config = ModelConfig.read(model);
            Float64Decoder decoder = new Float64Decoder(model, config);
            Bounded first = decoder.logits(ids);
            Bounded again = decoder.logits(ids);
            assertTrue(java.util.Arrays.equals(first.value(), again.value()) && java.util.Arrays.equals(first.bound(),
                    again.bound()), "a second call on the same decoder gives the same logits and bounds");
            double scale = 0;
            double maxBound = 0;
            for (int i = 0; i < first.length(); i++) {
                assertTrue(!Double.isNaN(first.bound()[i]), "NaN bound at " + i);
                scale = Math.max(scale, Math.abs(first.value()[i]));
                maxBound = Math.max(maxBound, first.bound()[i]);
            }
            assertTrue(maxBound > scale, "this model was chosen for a vacuous bound, got " + maxBound + " at scale " + scale);
            PlainDecoder plain = new PlainDecoder(model, config);
            for (PlainDecoder.Order order : PlainDecoder.Order.values()) {
                assertTrue(Comparison.of(spec + " " + order, plain.forward32(ids, order, false, false), first).passed());
            }
        }
    }

    @Test
    void llama3ScalingCoversEveryBranchAndMatchesTransformersFormula() {
        Spec spec = TinyDecoderModels.specs().stream().filter(s -> s.llama3() != null).findFirst().orElseThrow();
        Path dir = TinyDecoderModels.write(tmp.resolve("l3"), spec);
        try (ModelDirectory model = ModelDirectory.open(dir)) {
            ModelConfig config = ModelConfig.read(model);
            double[] ours = Float64DecoderOps.inverseFrequencies(config.headDim(), config.ropeTheta(), config.ropeScaling());
            double[] plain = PlainDecoder.invFreq(config);
            double[] unscaled = Float64DecoderOps.inverseFrequencies(config.headDim(), config.ropeTheta(), null);
            int kept = 0;
            int divided = 0;
            int smoothed = 0;
            for (int i = 0; i < ours.length; i++) {
                assertEquals(plain[i], ours[i], 1e-15 * plain[i]);
                double ratio = unscaled[i] / ours[i];
                if (Math.abs(ratio - 1) < 1e-12) {
                    kept++;
                } else if (Math.abs(ratio - config.ropeScaling().factor()) < 1e-9) {
                    divided++;
                } else {
                    smoothed++;
                }
            }
            assertTrue(kept > 0 && divided > 0 && smoothed > 0, kept + " kept, " + divided + " divided, " + smoothed
                    + " smoothed");
        }
    }

    @Test
    void refusesWhatItCannotCompute() throws IOException {
        Spec spec = TinyDecoderModels.specs().get(0);
        Path dir = TinyDecoderModels.write(tmp.resolve("bad"), spec);
        try (ModelDirectory model = ModelDirectory.open(dir)) {
            ModelConfig config = ModelConfig.read(model);
            assertTrue(assertThrows(BadInputException.class, () -> Float64Decoder.logits(model, config, new int[0]))
                    .getMessage().contains("empty"));
            assertTrue(assertThrows(BadInputException.class,
                    () -> Float64Decoder.logits(model, config, new int[] {1, spec.vocab()}))
                    .getMessage().contains("outside the vocabulary"));
            assertTrue(assertThrows(BadInputException.class,
                    () -> Float64Decoder.logits(model, config, new int[300]))
                    .getMessage().contains("max_position_embeddings"));
        }
        // A config whose intermediate size disagrees with the tensors: the tensor is named.
        Path config = dir.resolve("config.json");
        Files.writeString(config, Files.readString(config).replace("\"intermediate_size\" : 96", "\"intermediate_size\" : 95"));
        try (ModelDirectory model = ModelDirectory.open(dir)) {
            ModelConfig wrong = ModelConfig.read(model);
            assertEquals(95, wrong.intermediateSize());
            String message = assertThrows(BadInputException.class, () -> Float64Decoder.logits(model, wrong, new int[] {1}))
                    .getMessage();
            assertTrue(message.contains("model.layers.0.mlp.gate_proj.weight") && message.contains("[96, 48]"), message);
        }
    }
}
