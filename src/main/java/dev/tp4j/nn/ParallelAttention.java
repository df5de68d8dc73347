package dev.tp4j.nn;

import dev.tp4j.backend.Backend;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;
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
 */
public final class ParallelAttention implements AutoCloseable {
    private final Backend backend;
    private final Tensor wq;
    private final Tensor bq;
    private final Tensor wk;
    private final Tensor bk;
    private final Tensor wv;
    private final Tensor bv;
    private final RowParallelLinear output;
    private final int headDim;
    private final float[] invFreq;
    private final float scale;
    private Tensor q;
    private Tensor k;
    private Tensor v;
    private Tensor context;

    /**
     * @param wq      this rank's query heads' rows {@code [queryHeads·headDim, hidden]}; {@code bq} its bias or null
     * @param wk      its kv heads' rows {@code [kvHeads·headDim, hidden]}; likewise {@code wv}, biases or null
     * @param output  the row-parallel o_proj over the query heads' columns
     * @param invFreq the rotary frequencies, {@code headDim / 2} of them
     */
    public ParallelAttention(Backend backend, Tensor wq, Tensor bq, Tensor wk, Tensor bk, Tensor wv, Tensor bv,
                             RowParallelLinear output, int headDim, float[] invFreq) {
        if (wq.rows() % headDim != 0 || wk.rows() % headDim != 0 || wv.rows() != wk.rows()
                || (wq.rows() / headDim) % (wk.rows() / headDim) != 0 || output.weight().cols() != wq.rows()
                || invFreq.length != headDim / 2) {
            throw new IllegalArgumentException("attention shards do not fit: q " + wq.shape() + ", k " + wk.shape()
                    + ", v " + wv.shape() + ", o " + output.weight().shape() + ", head_dim " + headDim);
        }
        this.backend = backend;
        this.wq = wq;
        this.bq = bq;
        this.wk = wk;
        this.bk = bk;
        this.wv = wv;
        this.bv = bv;
        this.output = output;
        this.headDim = headDim;
        this.invFreq = invFreq.clone();
        this.scale = (float) (1.0 / Math.sqrt(headDim));
    }

    /**
     * {@code y ← attention(x)} for the tokens at positions {@code [position, position + x.rows())}, whose
     * keys and values join {@code cache}, which already holds every earlier position.
     */
    public void forward(Tensor x, int position, KvCache cache, Tensor y) {
        ensureWorkspace(x.rows());
        backend.linear(x, wq, bq, q);
        backend.linear(x, wk, bk, k);
        backend.linear(x, wv, bv, v);
        backend.rotary(q, headDim, invFreq, position);
        backend.rotary(k, headDim, invFreq, position);
        cache.append(k, v, position);
        backend.attention(q, cache.keys(), cache.values(), headDim, position, scale, context);
        output.forward(context, y);
    }

    /** Width of this rank's keys (and values): what its KV cache holds per position. */
    public int kvWidth() {
        return wk.rows();
    }

    /** Bytes of the weights this rank holds. */
    public long weightBytes() {
        long bytes = wq.byteSize() + wk.byteSize() + wv.byteSize() + output.weight().byteSize();
        for (Tensor b : new Tensor[] {bq, bk, bv}) {
            bytes += b == null ? 0 : b.byteSize();
        }
        return bytes;
    }

    private void ensureWorkspace(int tokens) {
        if (q != null && q.rows() == tokens) {
            return;
        }
        releaseWorkspace();
        q = backend.allocate(Shape.of(tokens, wq.rows()), DType.F32);
        k = backend.allocate(Shape.of(tokens, wk.rows()), DType.F32);
        v = backend.allocate(Shape.of(tokens, wv.rows()), DType.F32);
        context = backend.allocate(Shape.of(tokens, wq.rows()), DType.F32);
    }

    private void releaseWorkspace() {
        for (Tensor t : new Tensor[] {q, k, v, context}) {
            if (t != null) {
                t.close();
            }
        }
        q = k = v = context = null;
    }

    @Override
    public void close() {
        releaseWorkspace();
        output.close();
    }
}
