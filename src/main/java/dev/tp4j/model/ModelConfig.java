package dev.tp4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tp4j.BadInputException;
import dev.tp4j.io.ModelDirectory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A decoder model's {@code config.json} (and the EOS ids of {@code generation_config.json}), read with
 * the defaults of the {@code transformers} configuration classes and checked before any weight is
 * touched. Supported: {@code LlamaForCausalLM}, {@code MistralForCausalLM}, {@code Qwen2ForCausalLM};
 * anything else is refused with one line saying what.
 *
 * @param ropeScaling null, or Llama 3's frequency scaling
 * @param slidingWindow the attention window in tokens, or 0 when attention is full
 * @param eosTokenIds   the ids that end generation (generation_config.json first, then config.json)
 */
public record ModelConfig(Architecture architecture, int hiddenSize, int intermediateSize, int numLayers,
                          int numHeads, int numKvHeads, int headDim, double rmsNormEps, double ropeTheta,
                          RopeScaling ropeScaling, int maxPositions, int vocabSize, boolean tieWordEmbeddings,
                          boolean qkvBias, boolean outputBias, boolean mlpBias, int slidingWindow,
                          List<Integer> eosTokenIds, String torchDtype) {

    /** The architectures tp4j runs, and what each adds to the Llama block. */
    public enum Architecture {
        LLAMA("LlamaForCausalLM"), MISTRAL("MistralForCausalLM"), QWEN2("Qwen2ForCausalLM");

        private final String className;

        Architecture(String className) {
            this.className = className;
        }

        public String className() {
            return className;
        }

        static Architecture of(String className, Path config) {
            for (Architecture a : values()) {
                if (a.className.equals(className)) {
                    return a;
                }
            }
            throw new BadInputException(config + ": architecture " + className + " is not supported (tp4j runs "
                    + "LlamaForCausalLM, MistralForCausalLM and Qwen2ForCausalLM)");
        }
    }

    /** Llama 3's {@code rope_scaling} of type {@code llama3}. */
    public record RopeScaling(double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositions) {
    }

    /** Reads {@code dir}'s config.json and generation_config.json. */
    public static ModelConfig read(ModelDirectory dir) {
        return parse(dir.config(), dir.generationConfig(), dir.dir().resolve(ModelDirectory.CONFIG));
    }

    /** The config in {@code json}; {@code generation} may be null. {@code where} names the file in messages. */
    public static ModelConfig parse(JsonNode json, JsonNode generation, Path where) {
        Fields f = new Fields(json, where);
        JsonNode archs = json.path("architectures");
        if (!archs.isArray() || archs.isEmpty()) {
            throw new BadInputException(where + ": missing \"architectures\" (e.g. [\"LlamaForCausalLM\"])");
        }
        Architecture arch = Architecture.of(archs.get(0).asText(), where);
        String act = json.path("hidden_act").asText("silu");
        if (!act.equals("silu")) {
            throw new BadInputException(where + ": hidden_act \"" + act + "\" is not supported (the "
                    + arch.className() + " MLP is SwiGLU with silu)");
        }
        int hidden = f.positive("hidden_size");
        int heads = f.positive("num_attention_heads");
        int kvHeads = json.has("num_key_value_heads") && !json.get("num_key_value_heads").isNull()
                ? f.positive("num_key_value_heads") : heads;
        if (heads % kvHeads != 0) {
            throw new BadInputException(where + ": num_attention_heads " + heads + " is not a multiple of "
                    + "num_key_value_heads " + kvHeads);
        }
        int headDim;
        if (json.hasNonNull("head_dim")) {
            headDim = f.positive("head_dim");
        } else if (hidden % heads != 0) {
            throw new BadInputException(where + ": hidden_size " + hidden + " is not a multiple of num_attention_heads "
                    + heads + " and there is no head_dim");
        } else {
            headDim = hidden / heads;
        }
        if (headDim % 2 != 0) {
            throw new BadInputException(where + ": head_dim " + headDim + " is odd; rotary embeddings rotate pairs");
        }
        boolean attentionBias = json.path("attention_bias").asBoolean(false);
        int window = 0;
        JsonNode sw = json.path("sliding_window");
        boolean windowUsed = arch == Architecture.QWEN2 ? json.path("use_sliding_window").asBoolean(false) : true;
        if (windowUsed && sw.isNumber() && sw.asInt() > 0) {
            window = sw.asInt();
        } else if (arch == Architecture.MISTRAL && sw.isMissingNode()) {
            window = 4096; // MistralConfig's default when the key is absent
        }
        return new ModelConfig(arch, hidden, f.positive("intermediate_size"), f.positive("num_hidden_layers"),
                heads, kvHeads, headDim, f.positiveDouble("rms_norm_eps", 1e-6), f.positiveDouble("rope_theta", 10000),
                ropeScaling(json.path("rope_scaling"), where), f.positive("max_position_embeddings"),
                f.positive("vocab_size"), json.path("tie_word_embeddings").asBoolean(false),
                arch == Architecture.QWEN2 || attentionBias, arch != Architecture.QWEN2 && attentionBias,
                json.path("mlp_bias").asBoolean(false), window, eosIds(json, generation),
                json.path("torch_dtype").asText(""));
    }

    private static RopeScaling ropeScaling(JsonNode node, Path where) {
        if (node.isMissingNode() || node.isNull()) {
            return null;
        }
        String type = node.path("rope_type").asText(node.path("type").asText(""));
        if (type.equals("default")) {
            return null;
        }
        if (!type.equals("llama3")) {
            throw new BadInputException(where + ": rope_scaling of type \"" + type + "\" is not supported (tp4j "
                    + "supports llama3 and none)");
        }
        Fields f = new Fields(node, where);
        return new RopeScaling(f.positiveDouble("factor", Double.NaN), f.positiveDouble("low_freq_factor", Double.NaN),
                f.positiveDouble("high_freq_factor", Double.NaN), f.positive("original_max_position_embeddings"));
    }

    private static List<Integer> eosIds(JsonNode config, JsonNode generation) {
        JsonNode ids = generation != null && generation.hasNonNull("eos_token_id") ? generation.get("eos_token_id")
                : config.path("eos_token_id");
        List<Integer> out = new ArrayList<>();
        if (ids.isInt()) {
            out.add(ids.asInt());
        } else if (ids.isArray()) {
            ids.forEach(id -> out.add(id.asInt()));
        }
        return List.copyOf(out);
    }

    /** Query heads per kv head: how many query heads share one key/value head. */
    public int queriesPerKvHead() {
        return numHeads / numKvHeads;
    }

    /**
     * Refuses a generation of {@code totalTokens} (prompt + new tokens) the model was not made for: beyond
     * {@code max_position_embeddings}, or longer than a sliding window (which tp4j does not implement).
     */
    public void checkSequenceLength(int totalTokens, String what) {
        if (totalTokens > maxPositions) {
            throw new BadInputException(what + " = " + totalTokens + " tokens is beyond the model's "
                    + "max_position_embeddings " + maxPositions);
        }
        if (slidingWindow > 0 && totalTokens > slidingWindow) {
            throw new BadInputException(what + " = " + totalTokens + " tokens is longer than the model's sliding_window "
                    + slidingWindow + ", which tp4j does not implement (full attention is exact only within it)");
        }
    }

    /** Parameters: what the model holds, for reports. */
    public long parameterCount() {
        long attention = (long) hiddenSize * headDim * (numHeads * 2L + numKvHeads * 2L);
        long mlp = 3L * hiddenSize * intermediateSize;
        long perLayer = attention + mlp + 2L * hiddenSize;
        long embeddings = (long) vocabSize * hiddenSize * (tieWordEmbeddings ? 1 : 2);
        return perLayer * numLayers + embeddings + hiddenSize;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%s: %d layers, hidden %d, %d heads (%d kv, head_dim %d), intermediate %d, "
                        + "vocab %d%s", architecture.className(), numLayers, hiddenSize, numHeads, numKvHeads, headDim,
                intermediateSize, vocabSize, tieWordEmbeddings ? ", tied embeddings" : "");
    }

    /** Reads required and defaulted numbers from one JSON object, naming the key and file when wrong. */
    private record Fields(JsonNode json, Path where) {
        int positive(String key) {
            JsonNode v = json.get(key);
            if (v == null || v.isNull()) {
                throw new BadInputException(where + ": missing \"" + key + "\"");
            }
            if (!v.canConvertToInt() || !v.isIntegralNumber() || v.asInt() <= 0) {
                throw new BadInputException(where + ": \"" + key + "\" is " + v + ", not a positive integer");
            }
            return v.asInt();
        }

        double positiveDouble(String key, double fallback) {
            JsonNode v = json.get(key);
            if (v == null || v.isNull()) {
                if (Double.isNaN(fallback)) {
                    throw new BadInputException(where + ": missing \"" + key + "\"");
                }
                return fallback;
            }
            if (!v.isNumber() || !(v.asDouble() > 0)) {
                throw new BadInputException(where + ": \"" + key + "\" is " + v + ", not a positive number");
            }
            return v.asDouble();
        }
    }
}
