package dev.tp4j.reference;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tp4j.io.SafetensorsWriter;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/** Small random decoder models written as Hugging Face directories: config.json and model.safetensors. */
public final class TinyDecoderModels {
    private TinyDecoderModels() {
    }

    /**
     * One model. {@code headDim} 0: none in config.json (hidden / heads); {@code llama3} null or
     * {factor, low_freq_factor, high_freq_factor, original_max_position_embeddings}; {@code std} the
     * initializer range of every projection, embedding and bias (norm weights are 1 ± 0.1).
     */
    public record Spec(String name, String architecture, int hidden, int intermediate, int layers, int heads, int kvHeads,
                int headDim, int vocab, boolean tied, boolean attentionBias, boolean mlpBias, double theta, double eps,
                double[] llama3, DType dtype, double std, long seed) {

        boolean qwen2() {
            return architecture.equals("Qwen2ForCausalLM");
        }

        int effectiveHeadDim() {
            return headDim > 0 ? headDim : hidden / heads;
        }

        @Override
        public String toString() {
            return name;
        }
    }

    public static List<Spec> specs() {
        return List.of(
                new Spec("llama-gqa-f32-untied", "LlamaForCausalLM", 48, 96, 2, 6, 2, 0, 53, false, false, false,
                        10000, 1e-5, null, DType.F32, 0.02, 1),
                new Spec("qwen2-bias-bf16-tied", "Qwen2ForCausalLM", 32, 64, 2, 4, 2, 0, 50, true, false, false,
                        1e6, 1e-6, null, DType.BF16, 0.02, 2),
                new Spec("llama3-rope-headdim-bias-bf16", "LlamaForCausalLM", 64, 80, 2, 4, 1, 24, 47, false, true, true,
                        500000, 1e-5, new double[] {8, 1, 4, 32}, DType.BF16, 0.02, 3),
                new Spec("mistral-mha-f16-tied", "MistralForCausalLM", 32, 72, 2, 8, 8, 0, 50, true, false, false,
                        10000, 1e-5, null, DType.F16, 0.02, 4),
                new Spec("llama-gqa-f32-tied", "LlamaForCausalLM", 40, 64, 2, 4, 2, 0, 49, true, false, false,
                        10000, 1e-6, null, DType.F32, 0.02, 5));
    }

    /** Writes {@code spec} into {@code dir} (created if needed) and returns it. */
    public static Path write(Path dir, Spec spec) {
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("config.json"), config(spec));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        SplittableRandom random = new SplittableRandom(spec.seed());
        int h = spec.hidden();
        int d = spec.effectiveHeadDim();
        int qOut = spec.heads() * d;
        int kvOut = spec.kvHeads() * d;
        boolean qkvBias = spec.qwen2() || spec.attentionBias();
        boolean oBias = !spec.qwen2() && spec.attentionBias();
        double std = spec.std();
        SafetensorsWriter writer = new SafetensorsWriter();
        List<Tensor> tensors = new ArrayList<>();
        Adder normal = (name, shape) -> add(writer, tensors, spec, name, gaussian(random, shape, std));
        Adder norm = (name, shape) -> add(writer, tensors, spec, name, uniform(random, shape, 0.9, 1.1));
        normal.add("model.embed_tokens.weight", Shape.of(spec.vocab(), h));
        for (int layer = 0; layer < spec.layers(); layer++) {
            String p = "model.layers." + layer + ".";
            norm.add(p + "input_layernorm.weight", Shape.of(h));
            normal.add(p + "self_attn.q_proj.weight", Shape.of(qOut, h));
            normal.add(p + "self_attn.k_proj.weight", Shape.of(kvOut, h));
            normal.add(p + "self_attn.v_proj.weight", Shape.of(kvOut, h));
            if (qkvBias) {
                normal.add(p + "self_attn.q_proj.bias", Shape.of(qOut));
                normal.add(p + "self_attn.k_proj.bias", Shape.of(kvOut));
                normal.add(p + "self_attn.v_proj.bias", Shape.of(kvOut));
            }
            normal.add(p + "self_attn.o_proj.weight", Shape.of(h, qOut));
            if (oBias) {
                normal.add(p + "self_attn.o_proj.bias", Shape.of(h));
            }
            norm.add(p + "post_attention_layernorm.weight", Shape.of(h));
            normal.add(p + "mlp.gate_proj.weight", Shape.of(spec.intermediate(), h));
            normal.add(p + "mlp.up_proj.weight", Shape.of(spec.intermediate(), h));
            normal.add(p + "mlp.down_proj.weight", Shape.of(h, spec.intermediate()));
            if (spec.mlpBias()) {
                normal.add(p + "mlp.gate_proj.bias", Shape.of(spec.intermediate()));
                normal.add(p + "mlp.up_proj.bias", Shape.of(spec.intermediate()));
                normal.add(p + "mlp.down_proj.bias", Shape.of(h));
            }
        }
        norm.add("model.norm.weight", Shape.of(h));
        if (!spec.tied()) {
            normal.add("lm_head.weight", Shape.of(spec.vocab(), h));
        }
        writer.write(dir.resolve("model.safetensors"));
        tensors.forEach(Tensor::close);
        return dir;
    }

    private static void add(SafetensorsWriter writer, List<Tensor> tensors, Spec spec, String name, Tensor t) {
        tensors.add(t);
        writer.add(name, t, spec.dtype());
    }

    /** Random prompt ids, the first one 0 and the last one vocab − 1 (both ends of the vocabulary). */
    public static int[] prompt(int length, int vocab, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int[] ids = new int[length];
        for (int i = 0; i < length; i++) {
            ids[i] = random.nextInt(vocab);
        }
        ids[0] = 0;
        ids[length - 1] = vocab - 1;
        return ids;
    }

    private interface Adder {
        void add(String name, Shape shape);
    }

    private static Tensor uniform(SplittableRandom random, Shape shape, double lo, double hi) {
        float[] v = new float[Math.toIntExact(shape.numel())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) random.nextDouble(lo, hi);
        }
        return Tensor.hostOf(shape, v);
    }

    /** Normal(0, std²) values, as transformers initialises a model (initializer_range, 0.02 by default). */
    static Tensor gaussian(SplittableRandom random, Shape shape, double std) {
        float[] v = new float[Math.toIntExact(shape.numel())];
        for (int i = 0; i < v.length; i++) {
            // Box–Muller on the splittable stream, so the model depends on the seed alone.
            double r = Math.sqrt(-2 * Math.log(1 - random.nextDouble()));
            v[i] = (float) (std * r * Math.cos(2 * Math.PI * random.nextDouble()));
        }
        return Tensor.hostOf(shape, v);
    }

    private static String config(Spec spec) {
        ObjectMapper json = new ObjectMapper();
        ObjectNode c = json.createObjectNode();
        c.putArray("architectures").add(spec.architecture());
        c.put("model_type", spec.qwen2() ? "qwen2" : spec.architecture().startsWith("Mistral") ? "mistral" : "llama");
        c.put("hidden_size", spec.hidden());
        c.put("intermediate_size", spec.intermediate());
        c.put("num_hidden_layers", spec.layers());
        c.put("num_attention_heads", spec.heads());
        c.put("num_key_value_heads", spec.kvHeads());
        if (spec.headDim() > 0) {
            c.put("head_dim", spec.headDim());
        }
        c.put("hidden_act", "silu");
        c.put("rms_norm_eps", spec.eps());
        c.put("rope_theta", spec.theta());
        c.put("max_position_embeddings", 256);
        c.put("vocab_size", spec.vocab());
        c.put("tie_word_embeddings", spec.tied());
        if (!spec.qwen2()) {
            c.put("attention_bias", spec.attentionBias());
            c.put("mlp_bias", spec.mlpBias());
        }
        if (spec.architecture().startsWith("Mistral")) {
            c.put("sliding_window", 4096);
        }
        if (spec.llama3() != null) {
            ObjectNode s = c.putObject("rope_scaling");
            s.put("rope_type", "llama3");
            s.put("factor", spec.llama3()[0]);
            s.put("low_freq_factor", spec.llama3()[1]);
            s.put("high_freq_factor", spec.llama3()[2]);
            s.put("original_max_position_embeddings", (int) spec.llama3()[3]);
        }
        c.put("torch_dtype", spec.dtype() == DType.F32 ? "float32" : spec.dtype() == DType.BF16 ? "bfloat16" : "float16");
        c.put("bos_token_id", 0);
        c.put("eos_token_id", 1);
        try {
            return json.writerWithDefaultPrettyPrinter().writeValueAsString(c);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
