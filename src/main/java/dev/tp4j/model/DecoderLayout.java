package dev.tp4j.model;

import static dev.tp4j.io.MessageText.quoted;

import dev.tp4j.BadInputException;
import dev.tp4j.io.ModelDirectory;
import dev.tp4j.io.TensorInfo;
import dev.tp4j.tensor.Shape;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The tensors a Llama-family checkpoint must hold for its config, by their Hugging Face names, with the
 * shape each must have. {@link #check} compares them with a directory's headers before any weight is
 * read, so a checkpoint that does not match its config fails in one line naming the tensor.
 */
public final class DecoderLayout {
    public static final String EMBED = "model.embed_tokens.weight";
    public static final String FINAL_NORM = "model.norm.weight";
    public static final String LM_HEAD = "lm_head.weight";

    private final ModelConfig config;

    public DecoderLayout(ModelConfig config) {
        this.config = config;
    }

    public static String layer(int i, String suffix) {
        return "model.layers." + i + "." + suffix;
    }

    /** Every tensor the model reads, in load order, with its expected {@code [out, in]} (or {@code [n]}) shape. */
    public Map<String, Shape> expected() {
        Map<String, Shape> out = new LinkedHashMap<>();
        int h = config.hiddenSize();
        int q = config.numHeads() * config.headDim();
        int kv = config.numKvHeads() * config.headDim();
        int ffn = config.intermediateSize();
        out.put(EMBED, Shape.of(config.vocabSize(), h));
        for (int i = 0; i < config.numLayers(); i++) {
            out.put(layer(i, "input_layernorm.weight"), Shape.of(h));
            out.put(layer(i, "self_attn.q_proj.weight"), Shape.of(q, h));
            out.put(layer(i, "self_attn.k_proj.weight"), Shape.of(kv, h));
            out.put(layer(i, "self_attn.v_proj.weight"), Shape.of(kv, h));
            if (config.qkvBias()) {
                out.put(layer(i, "self_attn.q_proj.bias"), Shape.of(q));
                out.put(layer(i, "self_attn.k_proj.bias"), Shape.of(kv));
                out.put(layer(i, "self_attn.v_proj.bias"), Shape.of(kv));
            }
            out.put(layer(i, "self_attn.o_proj.weight"), Shape.of(h, q));
            if (config.outputBias()) {
                out.put(layer(i, "self_attn.o_proj.bias"), Shape.of(h));
            }
            out.put(layer(i, "post_attention_layernorm.weight"), Shape.of(h));
            for (String p : new String[] {"gate_proj", "up_proj"}) {
                out.put(layer(i, "mlp." + p + ".weight"), Shape.of(ffn, h));
                if (config.mlpBias()) {
                    out.put(layer(i, "mlp." + p + ".bias"), Shape.of(ffn));
                }
            }
            out.put(layer(i, "mlp.down_proj.weight"), Shape.of(h, ffn));
            if (config.mlpBias()) {
                out.put(layer(i, "mlp.down_proj.bias"), Shape.of(h));
            }
        }
        out.put(FINAL_NORM, Shape.of(h));
        if (!config.tieWordEmbeddings()) {
            out.put(LM_HEAD, Shape.of(config.vocabSize(), h));
        }
        return out;
    }

    /**
     * Checks {@code dir}'s headers against the config: every tensor present (in some shard file) with its
     * shape and a dtype tp4j reads.
     *
     * @throws BadInputException the first tensor that is missing or has another shape, named
     */
    public void check(ModelDirectory dir) {
        for (Map.Entry<String, Shape> e : expected().entrySet()) {
            TensorInfo info = dir.info(e.getKey());
            if (!info.shape().equals(e.getValue())) {
                throw new BadInputException(dir.dir() + ": tensor " + quoted(e.getKey()) + " has shape " + info.shape()
                        + ", but " + ModelDirectory.CONFIG + " (" + config + ") needs " + e.getValue());
            }
        }
    }
}
