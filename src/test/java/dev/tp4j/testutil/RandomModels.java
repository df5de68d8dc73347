package dev.tp4j.testutil;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Small random Hugging Face decoder directories (Llama, Mistral, Qwen2 layouts), written by the tests
 * themselves: config.json, generation_config.json and the weights, in one file or sharded with an index.
 * Weights are uniform in ±1/√fan_in (embeddings ±1, norms around 1), which gives well separated logits.
 */
public final class RandomModels {
    private RandomModels() {
    }

    /** The shape of a model to write. */
    public record Spec(String architecture, int hidden, int intermediate, int layers, int heads, int kvHeads,
                       Integer headDim, int vocab, boolean tied, DType storedAs, int shards, boolean llama3Rope,
                       long seed) {

        public static Spec llama(int heads, int kvHeads, int vocab) {
            return new Spec("LlamaForCausalLM", 48, 88, 2, heads, kvHeads, null, vocab, false, DType.F32, 1, false, 7);
        }

        public Spec with(String arch) {
            return new Spec(arch, hidden, intermediate, layers, heads, kvHeads, headDim, vocab, tied, storedAs, shards,
                    llama3Rope, seed);
        }

        public Spec tied(boolean t) {
            return new Spec(architecture, hidden, intermediate, layers, heads, kvHeads, headDim, vocab, t, storedAs,
                    shards, llama3Rope, seed);
        }

        public Spec stored(DType d, int shardCount) {
            return new Spec(architecture, hidden, intermediate, layers, heads, kvHeads, headDim, vocab, tied, d,
                    shardCount, llama3Rope, seed);
        }

        public Spec headDim(int d, boolean llama3) {
            return new Spec(architecture, hidden, intermediate, layers, heads, kvHeads, d, vocab, tied, storedAs,
                    shards, llama3, seed);
        }

        int dim() {
            return headDim != null ? headDim : hidden / heads;
        }

        boolean qkvBias() {
            return architecture.equals("Qwen2ForCausalLM");
        }
    }

    /** Writes {@code spec} into {@code dir} (created) and returns it. */
    public static Path write(Path dir, Spec spec) {
        try {
            Files.createDirectories(dir);
            SplittableRandom random = new SplittableRandom(spec.seed());
            Map<String, float[]> tensors = new LinkedHashMap<>();
            Map<String, Shape> shapes = new LinkedHashMap<>();
            int h = spec.hidden();
            int q = spec.heads() * spec.dim();
            int kv = spec.kvHeads() * spec.dim();
            int f = spec.intermediate();
            put(tensors, shapes, "model.embed_tokens.weight", Shape.of(spec.vocab(), h), random, 1.0, 0);
            for (int i = 0; i < spec.layers(); i++) {
                String p = "model.layers." + i + ".";
                put(tensors, shapes, p + "input_layernorm.weight", Shape.of(h), random, 0.2, 1.0);
                put(tensors, shapes, p + "self_attn.q_proj.weight", Shape.of(q, h), random, 1 / Math.sqrt(h), 0);
                put(tensors, shapes, p + "self_attn.k_proj.weight", Shape.of(kv, h), random, 1 / Math.sqrt(h), 0);
                put(tensors, shapes, p + "self_attn.v_proj.weight", Shape.of(kv, h), random, 1 / Math.sqrt(h), 0);
                if (spec.qkvBias()) {
                    put(tensors, shapes, p + "self_attn.q_proj.bias", Shape.of(q), random, 0.1, 0);
                    put(tensors, shapes, p + "self_attn.k_proj.bias", Shape.of(kv), random, 0.1, 0);
                    put(tensors, shapes, p + "self_attn.v_proj.bias", Shape.of(kv), random, 0.1, 0);
                }
                put(tensors, shapes, p + "self_attn.o_proj.weight", Shape.of(h, q), random, 1 / Math.sqrt(q), 0);
                put(tensors, shapes, p + "post_attention_layernorm.weight", Shape.of(h), random, 0.2, 1.0);
                put(tensors, shapes, p + "mlp.gate_proj.weight", Shape.of(f, h), random, 1 / Math.sqrt(h), 0);
                put(tensors, shapes, p + "mlp.up_proj.weight", Shape.of(f, h), random, 1 / Math.sqrt(h), 0);
                put(tensors, shapes, p + "mlp.down_proj.weight", Shape.of(h, f), random, 1 / Math.sqrt(f), 0);
            }
            put(tensors, shapes, "model.norm.weight", Shape.of(h), random, 0.2, 1.0);
            if (!spec.tied()) {
                put(tensors, shapes, "lm_head.weight", Shape.of(spec.vocab(), h), random, 1 / Math.sqrt(h), 0);
            }
            writeWeights(dir, spec, tensors, shapes);
            writeConfig(dir, spec);
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void put(Map<String, float[]> tensors, Map<String, Shape> shapes, String name, Shape shape,
                            SplittableRandom random, double scale, double center) {
        float[] v = new float[Math.toIntExact(shape.numel())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (center + scale * (2 * random.nextDouble() - 1));
        }
        tensors.put(name, v);
        shapes.put(name, shape);
    }

    private static void writeWeights(Path dir, Spec spec, Map<String, float[]> tensors, Map<String, Shape> shapes)
            throws IOException {
        List<String> names = new ArrayList<>(tensors.keySet());
        int shards = spec.shards();
        ObjectMapper json = new ObjectMapper();
        ObjectNode weightMap = json.createObjectNode();
        for (int s = 0; s < shards; s++) {
            SafetensorsWriter w = new SafetensorsWriter();
            String file = shards == 1 ? "model.safetensors"
                    : String.format("model-%05d-of-%05d.safetensors", s + 1, shards);
            List<Tensor> open = new ArrayList<>();
            // Round-robin, so one layer's tensors land in different files.
            for (int i = s; i < names.size(); i += shards) {
                Tensor t = Tensor.hostOf(shapes.get(names.get(i)), tensors.get(names.get(i)));
                open.add(t);
                w.add(names.get(i), t, spec.storedAs());
                weightMap.put(names.get(i), file);
            }
            w.metadata("format", "pt").write(dir.resolve(file));
            open.forEach(Tensor::close);
        }
        if (shards > 1) {
            ObjectNode index = json.createObjectNode();
            index.putObject("metadata").put("total_size", 0);
            index.set("weight_map", weightMap);
            json.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("model.safetensors.index.json").toFile(), index);
        }
    }

    private static void writeConfig(Path dir, Spec spec) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode c = json.createObjectNode();
        c.putArray("architectures").add(spec.architecture());
        c.put("hidden_size", spec.hidden());
        c.put("intermediate_size", spec.intermediate());
        c.put("num_hidden_layers", spec.layers());
        c.put("num_attention_heads", spec.heads());
        c.put("num_key_value_heads", spec.kvHeads());
        if (spec.headDim() != null) {
            c.put("head_dim", spec.headDim());
        }
        c.put("hidden_act", "silu");
        c.put("rms_norm_eps", 1e-5);
        c.put("rope_theta", 10000.0);
        c.put("max_position_embeddings", 256);
        c.put("vocab_size", spec.vocab());
        c.put("tie_word_embeddings", spec.tied());
        c.put("bos_token_id", 1);
        c.put("eos_token_id", 2);
        c.put("torch_dtype", switch (spec.storedAs()) {
            case BF16 -> "bfloat16";
            case F16 -> "float16";
            default -> "float32";
        });
        if (spec.architecture().equals("MistralForCausalLM")) {
            c.put("sliding_window", 4096);
        }
        if (spec.llama3Rope()) {
            ObjectNode r = c.putObject("rope_scaling");
            r.put("rope_type", "llama3");
            r.put("factor", 8.0);
            r.put("low_freq_factor", 1.0);
            r.put("high_freq_factor", 4.0);
            r.put("original_max_position_embeddings", 16);
        }
        json.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("config.json").toFile(), c);
        ObjectNode g = json.createObjectNode();
        ArrayNode eos = g.putArray("eos_token_id");
        eos.add(2);
        json.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("generation_config.json").toFile(), g);
    }
}
