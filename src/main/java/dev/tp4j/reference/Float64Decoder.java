package dev.tp4j.reference;

import static dev.tp4j.io.MessageText.quoted;

import dev.tp4j.BadInputException;
import dev.tp4j.backend.DTypeChoice;
import dev.tp4j.io.BFloat16;
import dev.tp4j.io.Float16;
import dev.tp4j.io.ModelDirectory;
import dev.tp4j.io.SafetensorsFile;
import dev.tp4j.io.TensorInfo;
import dev.tp4j.model.ModelConfig;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.util.Arrays;
import java.util.function.BiConsumer;

/**
 * The float64 sequential forward of a whole decoder ({@code LlamaForCausalLM}, {@code MistralForCausalLM},
 * {@code Qwen2ForCausalLM}) from its full checkpoint, over a prompt: the logits of every position, each
 * with the bound of tp4j's float32 computation of it (CPU ranks, any tp, any summation order). This is
 * what {@code generate --verify} compares rank 0's gathered logits with.
 *
 * <p>Semantics are those of transformers' modeling code: the embedding; per layer
 * {@code h = x + o_proj(attn(rmsnorm₁(x)))}, {@code out = h + down(silu(gate(rmsnorm₂(h))) ⊙ up(rmsnorm₂(h)))}
 * with q/k/v biases for Qwen2 (and Llama's attention_bias: q/k/v/o), mlp biases for Llama's mlp_bias,
 * rotate-half RoPE (llama3 frequency scaling when configured), grouped-query causal attention with
 * {@code 1/√head_dim} scaling; the final RMSNorm; the LM head ({@code lm_head.weight}, or the embedding when
 * the embeddings are tied).
 *
 * <p><b>The bound.</b> Each step's is derived where the step is, in {@link Float64DecoderOps}: embedding rows
 * are copied exactly; RMSNorm, the projections (float32 GEMMs in any order and split, the bias added once),
 * RoPE, attention, SwiGLU and each residual add propagate the errors they receive and add their own
 * roundings. Errors are carried both elementwise and as a 2-norm per token and head ({@link BoundedRows}),
 * the latter through each projection with its certified spectral norm ({@link SpectralNorm}): purely
 * elementwise propagation ({@link Float64Reference#linear}'s {@code Σ err·|w|}) compounds a factor of about
 * √k/2 per projection and is vacuous after a layer or two of a real width. Each logit's bound is then
 * {@code ‖w_v‖·N + rounding} for the final norm's error N.
 *
 * <p><b>How useful it is.</b> A rigorous bound must allow every rounding its worst sign and every error the
 * direction each layer amplifies most, so it grows geometrically with depth, width, sequence length and
 * the weights' scale, while the actual float32 error stays near 10⁻⁷ relative. Measured: on two-layer
 * models of hidden 32–64 initialised as transformers does (std 0.02) the logits' bounds are 10⁻³–10⁻² of the
 * largest logit (the float32 results sit at 10⁻⁴–10⁻³ of their bounds); at hidden 512 over 128 tokens the
 * bound is already larger than the activations after one layer (a diffuse softmax over 128 keys and the
 * SwiGLU product multiply the relative bound by 10–100 each), so for a 1 B model it says nothing: the
 * float64 values and the measured difference stay meaningful, the bound only that nothing is provably
 * wrong. Purely elementwise propagation is worse still (vacuous on the two-layer test models).
 *
 * <p><b>Memory.</b> Nothing is held in double beyond one projection and the activations: the layers are
 * streamed, one weight tensor at a time as float32 (exact for F32, F16 and BF16 storage). The embedding is
 * read by rows (only the prompt's), the LM head in blocks of about 16 MB. For a Llama-shaped 1 B model
 * (hidden 2048, 16 layers, 32 heads, 8 kv heads, intermediate 5632, vocab 32000) and a 128-token prompt the
 * peak is an MLP projection: 46 MB of floats (twice during its read), its double copy for the spectral norm
 * (92 MB), the 2048² Gram matrix (16 MB lower, 32 MB full for the power iteration, 16 MB for the Cholesky
 * factor); activations in double with their bounds, about 25 MB per 128 × 5632 projection output; the
 * logits, 128 × 32000 × 8 B × 2 = 66 MB. Well under 1 GB of heap ({@code -Xmx1g}); a 24 GB machine is ample.
 *
 * <p><b>Time</b> for that model and prompt, counted in multiply-adds: the projections' value and magnitude
 * sums, 128 × 0.79·10⁹ = 10¹¹ pairs ({@link Kernels64#products}), measured at 0.5–1 ns per pair per core on
 * this project's (shared, loaded) two-core machine: about 1.5 minutes on one core, 15 s on 8. The
 * certified spectral norms cost more: Gram matrices of 6.4·10¹¹ multiply-adds for all 16 layers
 * ({@link Kernels64#gramLower}), Cholesky factorizations of 0.9·10¹¹ and power iterations of at most
 * 0.5·10¹¹, about 1.2 ns each per core, some 15 core-minutes; but they are computed only while the bound of
 * the residual stream is smaller than the stream itself, and stop (the bounds stay valid, only looser)
 * once it is not, which for a model of that width happens within the first layer or two. So about 2–3
 * minutes on one core, under a minute on 8, plus reading 2.2 GB of BF16.
 *
 * <p><b>Half-precision weights</b> (GPU ranks keep a BF16 or F16 checkpoint's matrices in its dtype, or the
 * dtype {@code --dtype} asks for): the reference then uses the weight matrices (projections, embedding, LM
 * head) as the ranks hold them, rounded to that dtype (the same values when the checkpoint is in it), and
 * each projection's input carries the rounding to that dtype that the GEMM applies
 * ({@link Float64DecoderOps#roundedTo}); norms' weights and biases stay as stored, in float32.
 *
 * <p>Not thread-safe: one {@code logits} call at a time per instance (the projections use every core).
 */
public final class Float64Decoder {
    /** Rows of the LM head read at once: about 16 MB of float32 per block. */
    private static final long LM_HEAD_BLOCK_FLOATS = 1L << 22;

    private final ModelDirectory dir;
    private final ModelConfig config;
    /** The dtype the ranks keep weight matrices in and round GEMM inputs to (F32: neither). */
    private final DType weights;
    /**
     * Whether the spectral norms are still worth their cost: once some row of the residual stream has an
     * error bound as large as the row itself, no bound downstream can be smaller than the logits, and the
     * remaining projections bound their error norms from the elementwise bounds alone (still valid, looser).
     */
    private boolean spectral = true;
    /** Sees every intermediate result, named; tests use it to see where the bounds grow. */
    private BiConsumer<String, BoundedRows> observer = (stage, x) -> { };

    /** A decoder reading the tensors of {@code dir}, whose config.json {@code config} is. */
    public Float64Decoder(ModelDirectory dir, ModelConfig config) {
        this(dir, config, DType.F32);
    }

    /** As above, for ranks that keep weight matrices in {@code weights} (F32, BF16 or F16). */
    public Float64Decoder(ModelDirectory dir, ModelConfig config, DType weights) {
        DTypeChoice.inputRoundoff(weights); // refuses a dtype no GEMM takes
        this.dir = dir;
        this.config = config;
        this.weights = weights;
    }

    /** Shows every intermediate result to {@code observer} (stage names such as {@code "layer 0 q"}). */
    Float64Decoder observe(BiConsumer<String, BoundedRows> observer) {
        this.observer = observer;
        return this;
    }

    private BoundedRows seen(String stage, BoundedRows x) {
        observer.accept(stage, x);
        return x;
    }

    /** {@code new Float64Decoder(dir, config).logits(promptIds)}. */
    public static Bounded logits(ModelDirectory dir, ModelConfig config, int[] promptIds) {
        return new Float64Decoder(dir, config).logits(promptIds);
    }

    /**
     * The logits {@code [promptIds.length, vocab]}, row-major, of every prompt position, with their bounds.
     *
     * @throws BadInputException an empty prompt, an id outside the vocabulary, a prompt longer than the
     *                           model's positions or sliding window, a tensor missing or of the wrong shape
     */
    public Bounded logits(int[] promptIds) {
        int tokens = promptIds.length;
        if (tokens == 0) {
            throw new BadInputException("the prompt is empty: the float64 reference needs at least one token");
        }
        config.checkSequenceLength(tokens, "the prompt");
        int hidden = config.hiddenSize();
        int vocab = config.vocabSize();
        for (int i = 0; i < tokens; i++) {
            if (promptIds[i] < 0 || promptIds[i] >= vocab) {
                throw new BadInputException("prompt id " + promptIds[i] + " (position " + i + ") is outside the vocabulary [0, "
                        + vocab + ")");
            }
        }
        int[] positions = new int[tokens];
        Arrays.setAll(positions, i -> i);
        spectral = true;
        double[] invFreq = Float64DecoderOps.inverseFrequencies(config.headDim(), config.ropeTheta(), config.ropeScaling());

        BoundedRows x = embed(promptIds);
        for (int layer = 0; layer < config.numLayers(); layer++) {
            x = layer(layer, x, positions, invFreq);
            spectral = spectral && !vacuous(x);
        }
        x = seen("final norm", Float64DecoderOps.rmsNorm(x, vector("model.norm.weight", hidden), config.rmsNormEps()));
        return lmHead(x);
    }

    /** Whether some row's error bound is as large as the row: the relative error bound has reached 1. */
    private static boolean vacuous(BoundedRows x) {
        for (int r = 0; r < x.rows(); r++) {
            double squares = 0;
            for (int i = r * x.cols(); i < (r + 1) * x.cols(); i++) {
                squares += x.value()[i] * x.value()[i];
            }
            if (!(x.rowNorm(r) < Math.sqrt(squares))) {
                return true;
            }
        }
        return false;
    }

    /** The prompt's rows of the embedding, exactly (a float32 rank copies them). */
    private BoundedRows embed(int[] ids) {
        String name = "model.embed_tokens.weight";
        int hidden = config.hiddenSize();
        SafetensorsFile file = checked(name, config.vocabSize(), hidden);
        double[] value = new double[ids.length * hidden];
        for (int i = 0; i < ids.length; i++) {
            try (Tensor row = file.readRows(name, ids[i], 1)) {
                float[] r = asHeld(row.toFloatArray());
                for (int t = 0; t < hidden; t++) {
                    value[i * hidden + t] = r[t];
                }
            }
        }
        return BoundedRows.exact(ids.length, hidden, value);
    }

    /** One decoder layer over every prompt position; its weights are read one tensor at a time. */
    private BoundedRows layer(int layer, BoundedRows x, int[] positions, double[] invFreq) {
        String p = "model.layers." + layer + ".";
        int hidden = config.hiddenSize();
        int heads = config.numHeads();
        int kvHeads = config.numKvHeads();
        int headDim = config.headDim();
        int ffn = config.intermediateSize();
        double eps = config.rmsNormEps();

        String l = "layer " + layer + " ";
        BoundedRows a = seen(l + "input norm", Float64DecoderOps.rmsNorm(x, vector(p + "input_layernorm.weight", hidden), eps));
        BoundedRows q = seen(l + "q", projection(a, p + "self_attn.q_proj", heads * headDim, heads, config.qkvBias()));
        BoundedRows k = seen(l + "k", projection(a, p + "self_attn.k_proj", kvHeads * headDim, kvHeads, config.qkvBias()));
        BoundedRows v = seen(l + "v", projection(a, p + "self_attn.v_proj", kvHeads * headDim, kvHeads, config.qkvBias()));
        q = seen(l + "q rotated", Float64DecoderOps.rope(q, headDim, positions, invFreq));
        k = seen(l + "k rotated", Float64DecoderOps.rope(k, headDim, positions, invFreq));
        BoundedRows attended = seen(l + "attention", Float64DecoderOps.attention(q, k, v, headDim));
        BoundedRows o = seen(l + "o", projection(attended, p + "self_attn.o_proj", hidden, 1, config.outputBias()));
        BoundedRows h = seen(l + "attention residual", Float64DecoderOps.add(x, o));

        BoundedRows b = seen(l + "post-attention norm",
                Float64DecoderOps.rmsNorm(h, vector(p + "post_attention_layernorm.weight", hidden), eps));
        BoundedRows gate = seen(l + "gate", projection(b, p + "mlp.gate_proj", ffn, 1, config.mlpBias()));
        BoundedRows up = seen(l + "up", projection(b, p + "mlp.up_proj", ffn, 1, config.mlpBias()));
        BoundedRows hiddenState = seen(l + "swiglu", Float64DecoderOps.swiglu(gate, up));
        BoundedRows down = seen(l + "down", projection(hiddenState, p + "mlp.down_proj", hidden, 1, config.mlpBias()));
        return seen(l + "mlp residual", Float64DecoderOps.add(h, down));
    }

    /** {@code x·Wᵀ (+ b)} of the layer named {@code prefix}: {@code W [out, x.cols]}, error norms per {@code blocks}. */
    private BoundedRows projection(BoundedRows x, String prefix, int out, int blocks, boolean bias) {
        float[] w = asHeld(matrix(prefix + ".weight", out, x.cols()));
        float[] b = bias ? vector(prefix + ".bias", out) : null;
        return Float64DecoderOps.linear(gemmInput(x), Float64DecoderOps.Weight.of(w, out, x.cols(), blocks, spectral), b);
    }

    /** x as the GEMM reads it: rounded to the weights' dtype when that is a half-precision one. */
    private BoundedRows gemmInput(BoundedRows x) {
        return Float64DecoderOps.roundedTo(x, DTypeChoice.inputRoundoff(weights), DTypeChoice.inputUnderflow(weights));
    }

    /** A weight matrix's values as the ranks hold them: rounded to nearest in their dtype. */
    private float[] asHeld(float[] w) {
        if (weights == DType.F32) {
            return w;
        }
        for (int i = 0; i < w.length; i++) {
            w[i] = weights == DType.BF16 ? BFloat16.toFloat(BFloat16.fromFloat(w[i])) : Float16.toFloat(Float16.fromFloat(w[i]));
        }
        return w;
    }

    /**
     * The LM head in blocks of rows (lm_head.weight, or the embedding when tied): logits [tokens, vocab];
     * each logit's bound is {@code ‖w_v‖·N + rounding} (Cauchy–Schwarz on the final norm's error).
     */
    private Bounded lmHead(BoundedRows normed) {
        BoundedRows x = gemmInput(normed);
        int tokens = x.rows();
        int hidden = config.hiddenSize();
        int vocab = config.vocabSize();
        String name = config.tieWordEmbeddings() ? "model.embed_tokens.weight" : "lm_head.weight";
        SafetensorsFile file = checked(name, vocab, hidden);
        double[] value = new double[Math.multiplyExact(tokens, vocab)];
        double[] bound = new double[value.length];
        int block = (int) Math.max(1, Math.min(vocab, LM_HEAD_BLOCK_FLOATS / hidden));
        for (int first = 0; first < vocab; first += block) {
            int rows = Math.min(block, vocab - first);
            float[] w;
            try (Tensor t = file.readRows(name, first, rows)) {
                w = asHeld(t.toFloatArray());
            }
            BoundedRows part = Float64DecoderOps.linear(x, Float64DecoderOps.Weight.of(w, rows, hidden, 1, false), null);
            for (int i = 0; i < tokens; i++) {
                System.arraycopy(part.value(), i * rows, value, i * vocab + first, rows);
                for (int j = 0; j < rows; j++) {
                    // Rounded up by a relative 10⁻¹², far more than the float64 rounding in evaluating the
                    // bounds themselves (a relative 10⁻¹⁶ per operation, some hundreds of operations deep).
                    bound[i * vocab + first + j] = part.bound()[i * rows + j] * (1 + 1e-12);
                }
            }
        }
        return new Bounded(value, bound);
    }

    private float[] matrix(String name, int rows, int cols) {
        return read(name, checked(name, rows, cols));
    }

    private float[] vector(String name, int length) {
        return read(name, checked(name, length));
    }

    private static float[] read(String name, SafetensorsFile file) {
        try (Tensor t = file.read(name)) {
            return t.toFloatArray();
        }
    }

    /** The file holding {@code name}, once its shape is checked against the config. */
    private SafetensorsFile checked(String name, long... dims) {
        SafetensorsFile file = dir.file(name);
        TensorInfo info = file.info(name);
        Shape expected = Shape.of(dims);
        if (!info.shape().equals(expected)) {
            throw new BadInputException(dir.dir() + ": tensor " + quoted(name) + " has shape " + info.shape()
                    + ", but config.json implies " + expected);
        }
        return file;
    }
}
