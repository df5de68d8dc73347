package dev.tp4j.nn;

import dev.tp4j.backend.Backend;
import dev.tp4j.tensor.Tensor;

/**
 * Self-attention split by heads (Megatron, vLLM): rank r holds the q/k/v projection rows of its query heads
 * and of the key/value heads they read (split like the query heads, or replicated when there are fewer
 * kv heads than ranks), so it attends over its own heads with no communication:
 * <pre>
 *   Q_r = X·Wq[r]ᵀ + bq[r],  K_r = X·Wk[r]ᵀ + bk[r],  V_r = X·Wv[r]ᵀ + bv[r]     (column-parallel by heads)
 *   C_r = softmax(rope(Q_r)·rope(K_r)ᵀ / √d + causal mask) · V_r                   (its heads, its KV cache)
 *   Y   = Σ_r C_r·Wo[:, r]ᵀ + bo                                                   (row-parallel: one all_reduce)
 * </pre>
 * The rank's q, k and v rows are stacked into one weight {@code [Wq[r]; Wk[r]; Wv[r]]} (vLLM's
 * {@code QKVParallelLinear}): one GEMM gives {@code [Q_r | K_r | V_r]}, and Q_r, K_r, V_r are its column
 * windows. The same products as three layers; one call streams the three weights.
 */
public final class ParallelAttention implements AutoCloseable {
    private static final String QKV = "attention.qkv";
    private static final String CONTEXT = "attention.context";

    private final Backend backend;
    private final Tensor wqkv;
    private final Tensor bqkv;
    private final int queryWidth;
    private final int kvWidth;
    private final RowParallelLinear output;
    private final int headDim;
    private final float[] invFreq;
    private final float scale;
    private final Workspace workspace;
    private Tensor qkv;
    private Tensor q;
    private Tensor k;
    private Tensor v;
    private Tensor context;

    /**
     * @param wqkv       this rank's query heads' rows {@code [queryWidth, hidden]}, then its kv heads' key rows and
     *                   value rows {@code [kvWidth, hidden]} each, stacked: {@code [queryWidth + 2·kvWidth, hidden]}
     * @param bqkv       their biases stacked the same way, or null
     * @param queryWidth {@code queryHeads·headDim} of this rank
     * @param output     the row-parallel o_proj over the query heads' columns
     * @param invFreq    the rotary frequencies, {@code headDim / 2} of them
     * @param workspace  the activation buffers shared with the model's other layers
     */
    public ParallelAttention(Backend backend, Tensor wqkv, Tensor bqkv, int queryWidth, RowParallelLinear output,
                             int headDim, float[] invFreq, Workspace workspace) {
        int kvRows = wqkv.rows() - queryWidth;
        if (queryWidth <= 0 || kvRows <= 0 || kvRows % 2 != 0 || queryWidth % headDim != 0
                || (kvRows / 2) % headDim != 0 || (queryWidth / headDim) % (kvRows / 2 / headDim) != 0
                || output.weight().cols() != queryWidth || invFreq.length != headDim / 2
                || (bqkv != null && bqkv.numel() != wqkv.rows())) {
            throw new IllegalArgumentException("attention shards do not fit: qkv " + wqkv.shape() + " with "
                    + queryWidth + " query rows, o " + output.weight().shape() + ", head_dim " + headDim);
        }
        this.backend = backend;
        this.wqkv = wqkv;
        this.bqkv = bqkv;
        this.queryWidth = queryWidth;
        this.kvWidth = kvRows / 2;
        this.output = output;
        this.headDim = headDim;
        this.invFreq = invFreq.clone();
        this.scale = (float) (1.0 / Math.sqrt(headDim));
        this.workspace = workspace;
    }

    /**
     * {@code y ← attention(x)} for the tokens at positions {@code [position, position + x.rows())}, whose
     * keys and values join {@code cache}, which already holds every earlier position.
     */
    public void forward(Tensor x, int position, KvCache cache, Tensor y) {
        ensureWorkspace(x.rows());
        backend.linear(x, wqkv, bqkv, qkv);
        backend.rotary(q, headDim, invFreq, position);
        backend.rotary(k, headDim, invFreq, position);
        cache.append(k, v, position);
        backend.attention(q, cache.keys(), cache.values(), headDim, position, scale, context);
        output.forward(context, y);
    }

    /** Width of this rank's keys (and values): what its KV cache holds per position. */
    public int kvWidth() {
        return kvWidth;
    }

    /** Bytes of the weights this rank holds. */
    public long weightBytes() {
        return wqkv.byteSize() + (bqkv == null ? 0 : bqkv.byteSize()) + output.weight().byteSize();
    }

    /** q, k and v are column windows of the one qkv buffer; taken again only when the workspace moved it. */
    private void ensureWorkspace(int tokens) {
        Tensor all = workspace.matrix(QKV, tokens, wqkv.rows());
        context = workspace.matrix(CONTEXT, tokens, queryWidth);
        if (all != qkv) {
            qkv = all;
            q = qkv.narrowColumns(0, queryWidth);
            k = qkv.narrowColumns(queryWidth, kvWidth);
            v = qkv.narrowColumns(queryWidth + kvWidth, kvWidth);
        }
    }

    /** Releases the o_proj's own buffers; the shared workspace is the model's to close. */
    @Override
    public void close() {
        output.close();
    }
}
