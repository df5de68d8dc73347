package dev.tp4j.nn;

import dev.tp4j.backend.Backend;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;
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
    private final Backend backend;
    private final RmsNorm inputNorm;
    private final ParallelAttention attention;
    private final RmsNorm postAttentionNorm;
    private final ParallelMlp mlp;
    private Tensor normed;
    private Tensor branch;

    public DecoderLayer(Backend backend, RmsNorm inputNorm, ParallelAttention attention, RmsNorm postAttentionNorm,
                        ParallelMlp mlp) {
        this.backend = backend;
        this.inputNorm = inputNorm;
        this.attention = attention;
        this.postAttentionNorm = postAttentionNorm;
        this.mlp = mlp;
    }

    /** {@code x ← block(x)} in place, for the tokens at {@code [position, position + x.rows())}. */
    public void forward(Tensor x, int position, KvCache cache) {
        ensureWorkspace(x.rows(), x.cols());
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

    private void ensureWorkspace(int tokens, int hidden) {
        if (normed != null && normed.rows() == tokens) {
            return;
        }
        releaseWorkspace();
        normed = backend.allocate(Shape.of(tokens, hidden), DType.F32);
        branch = backend.allocate(Shape.of(tokens, hidden), DType.F32);
    }

    private void releaseWorkspace() {
        if (normed != null) {
            normed.close();
            branch.close();
            normed = branch = null;
        }
    }

    @Override
    public void close() {
        releaseWorkspace();
        attention.close();
        mlp.close();
    }
}
