package dev.tp4j.task.mlp;

import dev.tp4j.io.SafetensorsFile;
import dev.tp4j.io.SafetensorsWriter;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import dev.tp4j.reference.Bounded;
import dev.tp4j.reference.Float64Reference;
import dev.tp4j.backend.Activation;
import java.nio.file.Path;
import java.util.SplittableRandom;

/** Checkpoints and inputs made for tests with the writer: an MLP under Hugging Face names, random weights. */
final class MlpCheckpoints {
    static final String PREFIX = "model.layers.0.mlp.";
    static final String UP = PREFIX + "up_proj";
    static final String GATE = PREFIX + "gate_proj";
    static final String DOWN = PREFIX + "down_proj";

    private MlpCheckpoints() {
    }

    /** Writes up [ffn, hidden], gate (when gated), down [hidden, ffn], biases when asked, stored as {@code dtype}. */
    static Path write(Path file, int hidden, int ffn, DType dtype, boolean gated, boolean bias, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        SafetensorsWriter writer = new SafetensorsWriter();
        writer.add(UP + ".weight", uniform(random, Shape.of(ffn, hidden), 1 / Math.sqrt(hidden)), dtype);
        if (bias) {
            writer.add(UP + ".bias", uniform(random, Shape.of(ffn), 1 / Math.sqrt(hidden)), dtype);
        }
        if (gated) {
            writer.add(GATE + ".weight", uniform(random, Shape.of(ffn, hidden), 1 / Math.sqrt(hidden)), dtype);
            if (bias) {
                writer.add(GATE + ".bias", uniform(random, Shape.of(ffn), 1 / Math.sqrt(hidden)), dtype);
            }
        }
        writer.add(DOWN + ".weight", uniform(random, Shape.of(hidden, ffn), 1 / Math.sqrt(ffn)), dtype);
        if (bias) {
            writer.add(DOWN + ".bias", uniform(random, Shape.of(hidden), 1 / Math.sqrt(ffn)), dtype);
        }
        // An unrelated tensor, as real checkpoints hold many: it must not be read.
        writer.add("model.embed_tokens.weight", uniform(random, Shape.of(16, hidden), 1), dtype);
        writer.write(file);
        return file;
    }

    static Path writeInput(Path file, String name, Shape shape, DType dtype, long seed) {
        new SafetensorsWriter().add(name, uniform(new SplittableRandom(seed), shape, 1), dtype).write(file);
        return file;
    }

    static Tensor uniform(SplittableRandom random, Shape shape, double bound) {
        float[] v = new float[Math.toIntExact(shape.numel())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) random.nextDouble(-bound, bound);
        }
        return Tensor.hostOf(shape, v);
    }

    /** The float64 MLP over the values as stored (decoded exactly), with its fp32 error bound per element. */
    static Bounded reference(Path checkpoint, Path input, String inputName, Activation act, boolean gated, boolean bias) {
        try (SafetensorsFile c = SafetensorsFile.open(checkpoint); SafetensorsFile in = SafetensorsFile.open(input)) {
            double[] x = doubles(in, inputName);
            int ffn = (int) c.info(UP + ".weight").shape().dim(0);
            int hidden = (int) c.info(UP + ".weight").shape().dim(1);
            var w = new Float64Reference.MlpWeights(hidden, ffn, doubles(c, UP + ".weight"),
                    bias ? doubles(c, UP + ".bias") : null, gated ? doubles(c, GATE + ".weight") : null,
                    gated && bias ? doubles(c, GATE + ".bias") : null, doubles(c, DOWN + ".weight"),
                    bias ? doubles(c, DOWN + ".bias") : null);
            return Float64Reference.mlp(Bounded.exact(x), x.length / hidden, act, w);
        }
    }

    static double[] doubles(SafetensorsFile file, String name) {
        try (Tensor t = file.read(name)) {
            float[] f = t.toFloatArray();
            double[] d = new double[f.length];
            for (int i = 0; i < f.length; i++) {
                d[i] = f[i];
            }
            return d;
        }
    }

    static float[] readOutput(Path file, String name) {
        try (SafetensorsFile f = SafetensorsFile.open(file); Tensor t = f.read(name)) {
            return t.toFloatArray();
        }
    }
}
