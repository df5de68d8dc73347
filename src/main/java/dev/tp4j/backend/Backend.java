package dev.tp4j.backend;

import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Device;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.util.Set;

/**
 * The local compute of one rank: memory, GEMMs and pointwise kernels on one device. Layers call only
 * this and a {@code Communicator}; how the work is done (OpenBLAS, cuBLAS) stays behind it.
 */
public interface Backend extends AutoCloseable {

    Device device();

    /** A zeroed tensor on this backend's device. */
    Tensor allocate(Shape shape, DType dtype);

    /**
     * A tensor on this backend's device holding the values of {@code host} (contiguous host F32), which
     * it takes over: {@code host} itself where the device computes on host memory, otherwise a device
     * copy (and {@code host} is released). Weights are read on the host, then adopted.
     */
    default Tensor adopt(Tensor host) {
        try (host) {
            Tensor onDevice = allocate(host.shape(), host.dtype());
            copyFromHost(host.toFloatArray(), onDevice);
            return onDevice;
        }
    }

    /**
     * The dtypes this backend keeps weight matrices in for {@link #linear}: F32 everywhere; a GPU adds BF16
     * and F16 (half the memory, tensor-core GEMMs with fp32 accumulation).
     */
    default Set<DType> weightDTypes() {
        return Set.of(DType.F32);
    }

    /**
     * {@link #adopt} for a weight matrix: {@code host} (contiguous host F32, taken over) is kept on the
     * device in {@code storage}, one of {@link #weightDTypes()}, its values rounded to the nearest
     * {@code storage} value (exactly those values when they came from a checkpoint in that dtype).
     */
    default Tensor adoptWeight(Tensor host, DType storage) {
        if (storage != DType.F32) {
            host.close();
            throw new IllegalArgumentException("weights in " + storage + ": this backend keeps weights in F32 only");
        }
        return adopt(host);
    }

    /** Copies host floats (row-major, shape of {@code dst}) into {@code dst}. */
    void copyFromHost(float[] src, Tensor dst);

    /** Copies {@code src} (any row stride) into a new row-major host array. */
    float[] copyToHost(Tensor src);

    /** {@code dst ← src}; both 2-D of equal shape, either may be a strided column window. */
    void copy(Tensor src, Tensor dst);

    /**
     * The linear layer's GEMM: {@code y = x · wᵀ (+ bias)}, with {@code x [m, k]} (may be a column window),
     * {@code w [n, k]} in nn.Linear layout (F32, or a dtype of {@link #weightDTypes()}: then {@code x} is
     * rounded to it for the product, accumulated in F32), {@code bias [n]} or null, {@code y [m, n]}.
     */
    void linear(Tensor x, Tensor w, Tensor bias, Tensor y);

    /** {@code y[i, :] += bias} for every row. */
    void addBias(Tensor y, Tensor bias);

    /** {@code x ← act(x)} in place. */
    void activate(Activation act, Tensor x);

    /** {@code gate ← act(gate) ⊙ up} in place: the gated MLP's hidden state (SwiGLU with silu). */
    void gatedActivate(Activation act, Tensor gate, Tensor up);

    // The operations of a decoder model beyond the MLP (embedding, RMSNorm, rotary embedding, attention,
    // residual add). CPU and GPU ranks have them; a backend without them says so, and `generate` refuses
    // such a backend before loading anything. Their 2-D arguments may be column windows of a wider tensor
    // (row stride > columns): q, k and v are windows of the one fused q/k/v output, gate and up of the fused
    // gate/up output.

    /**
     * {@code out[t, :] ← table[ids[t] − firstId, :]} where that row is in {@code table [rows, hidden]}, else
     * zeros: the lookup of a vocab-parallel block (the all_reduce over ranks fills in the rest). The table is
     * F32 or one of {@link #weightDTypes()} (a tied LM head's weight); {@code out} is F32.
     */
    default void embedding(Tensor table, int[] ids, long firstId, Tensor out) {
        throw unsupported("embedding");
    }

    /**
     * RMSNorm row by row as transformers computes it in float32: {@code y ← weight ⊙ (x · r)} with
     * {@code r = 1/√(mean(x²) + eps)}; {@code x, y [tokens, n]} (may be the same tensor), {@code weight [n]}.
     */
    default void rmsNorm(Tensor x, Tensor weight, float eps, Tensor y) {
        throw unsupported("rmsNorm");
    }

    /**
     * The rotate-half rotary embedding, in place: {@code x [tokens, heads·headDim]}, token t at position
     * {@code firstPosition + t}; in each head, element i and i + headDim/2 rotate by the angle
     * {@code position · invFreq[i]}.
     */
    default void rotary(Tensor x, int headDim, float[] invFreq, int firstPosition) {
        throw unsupported("rotary");
    }

    /**
     * Causal grouped-query attention: {@code out [tokens, qHeads·headDim] ←} for each query token t at
     * position {@code firstPosition + t} and each query head h, {@code softmax_j(scale · q_h·k_j) · v_j} over
     * positions {@code j ≤ firstPosition + t}, where {@code keys, values [≥ firstPosition + tokens, kvHeads·headDim]}
     * hold every position so far and query head h reads kv head {@code h / (qHeads / kvHeads)}.
     */
    default void attention(Tensor q, Tensor keys, Tensor values, int headDim, int firstPosition, float scale,
                           Tensor out) {
        throw unsupported("attention");
    }

    /** {@code a ← a + b} elementwise (the residual connection); same shapes. */
    default void add(Tensor a, Tensor b) {
        throw unsupported("add");
    }

    /**
     * Bytes per second this backend reads from its memory, streaming a buffer of {@code bytes} (larger than
     * the caches) with its own threads: what a weight-bound decode step can reach at best. NaN where not
     * measured.
     */
    default double streamBytesPerSecond(long bytes) {
        return Double.NaN;
    }

    /** Whether this backend has the decoder-model operations above. */
    default boolean hasDecoderOps() {
        return false;
    }

    private UnsupportedOperationException unsupported(String op) {
        return new UnsupportedOperationException(describe() + " has no " + op + " operation yet");
    }

    /** Waits until all work queued on this backend has finished (a no-op where calls are synchronous). */
    default void synchronize() {
    }

    /** One line for reports: library, version, threads or device. */
    String describe();

    @Override
    void close();
}
