package dev.tp4j.nn;

import dev.tp4j.backend.Backend;
import dev.tp4j.tensor.Tensor;

/**
 * One pre-norm transformer block of the Llama family:
 * <pre>
 *   h   = x + attention(rmsnorm₁(x))      one all_reduce
 *   out = h + mlp(rmsnorm₂(h))            one all_reduce
 * </pre>
 * The residual stream is replicated: every rank holds all of x and adds the reduced outputs to it.
 */
public final class DecoderLayer implements AutoCloseable {
    private static final String NORMED = "layer.normed";
    private static final String BRANCH = "layer.branch";

    private final Backend backend;
    private final RmsNorm inputNorm;
    private final ParallelAttention attention;
    private final RmsNorm postAttentionNorm;
    private final ParallelMlp mlp;
    private final Workspace workspace;

    /** @param workspace the activation buffers this layer shares with the model's other layers */
    public DecoderLayer(Backend backend, RmsNorm inputNorm, ParallelAttention attention, RmsNorm postAttentionNorm,
                        ParallelMlp mlp, Workspace workspace) {
        this.backend = backend;
        this.workspace = workspace;
        this.inputNorm = inputNorm;
        this.attention = attention;
        this.postAttentionNorm = postAttentionNorm;
        this.mlp = mlp;
    }

    /** {@code x ← block(x)} in place, for the tokens at {@code [position, position + x.rows())}. */
    public void forward(Tensor x, int position, KvCache cache) {
        Tensor normed = workspace.matrix(NORMED, x.rows(), x.cols());
        Tensor branch = workspace.matrix(BRANCH, x.rows(), x.cols());
        inputNorm.forward(x, normed);
        attention.forward(normed, position, cache, branch);
        backend.add(x, branch);
        postAttentionNorm.forward(x, normed);
        mlp.forward(normed, branch);
        backend.add(x, branch);
    }

    public ParallelAttention attention() {
        return attention;
    }

    public ParallelMlp mlp() {
        return mlp;
    }

    /** Releases the attention's and the MLP's own resources; the shared workspace is the model's to close. */
    @Override
    public void close() {
        attention.close();
        mlp.close();
    }
}
