// tp4j decoder-model kernels: embedding lookup, RMSNorm, rotary embedding, causal attention over the KV
// cache, residual add. fp32 math; written as the CPU rank (DecoderKernels.java) computes them, so that the
// float64 reference's error bounds (reference/Float64DecoderOps.java) describe these roundings too:
// cos, sin, exp and the RMSNorm's reciprocal square root in double, rounded to float once.
//
// No headers (NVRTC needs none; native/check-kernels.sh compiles this file alone with clang). Names carry
// a tp4j_dec_ prefix: all kernel files are concatenated into one NVRTC program, so helpers must not clash.
//
// Tensors are 2-D row-major views: `ld` elements between row starts (a column window has ld > cols).

// How a table's elements are stored (must match CudaKernels.storedFormat).
#define TP4J_DEC_F32 0
#define TP4J_DEC_BF16 1
#define TP4J_DEC_F16 2

// Threads of the one-block-per-row kernels (rmsnorm, attention): a power of two, for the tree reductions.
#define TP4J_DEC_THREADS 128
// The widest head the attention kernel holds in shared memory (CudaBackend refuses wider ones).
#define TP4J_DEC_MAX_HEAD_DIM 512

__device__ __forceinline__ float tp4j_dec_load(const void* base, long long i, int format) {
    if (format == TP4J_DEC_BF16) {
        // bf16 is the top half of an fp32: exact.
        return __uint_as_float(((unsigned int) ((const unsigned short*) base)[i]) << 16);
    }
    if (format == TP4J_DEC_F16) {
        float f;
        unsigned short h = ((const unsigned short*) base)[i];
        asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
        return f;
    }
    return ((const float*) base)[i];
}

// Sum of v over the block's threads (TP4J_DEC_THREADS of them); every thread gets the total. `scratch`
// holds TP4J_DEC_THREADS floats; the caller's next use of it must follow a __syncthreads (this ends with one).
__device__ float tp4j_dec_block_sum(float v, float* scratch) {
    int t = threadIdx.x;
    scratch[t] = v;
    __syncthreads();
    for (int half = TP4J_DEC_THREADS / 2; half > 0; half >>= 1) {
        if (t < half) {
            scratch[t] = scratch[t] + scratch[t + half];
        }
        __syncthreads();
    }
    float total = scratch[0];
    __syncthreads();
    return total;
}

// Largest v over the block's threads (NaN-propagating: a NaN score makes the softmax NaN, as on the CPU).
__device__ float tp4j_dec_block_max(float v, float* scratch) {
    int t = threadIdx.x;
    scratch[t] = v;
    __syncthreads();
    for (int half = TP4J_DEC_THREADS / 2; half > 0; half >>= 1) {
        if (t < half) {
            float a = scratch[t];
            float b = scratch[t + half];
            scratch[t] = (b > a || b != b) ? b : a;
        }
        __syncthreads();
    }
    float m = scratch[0];
    __syncthreads();
    return m;
}

// (q . k) * scale with the products rounded before each sum, in order d = 0, 1, ... (the CPU's recipe): no
// fused multiply-add, so the attention's three passes, each recomputing it, get the same float.
__device__ float tp4j_dec_score(const float* q, const float* k, int headDim, float scale) {
    float dot = 0.0f;
    for (int d = 0; d < headDim; d++) {
        dot = __fadd_rn(dot, __fmul_rn(q[d], k[d]));
    }
    return __fmul_rn(dot, scale);
}

// out[t, :] = table[rows[t], :] where rows[t] >= 0, else zeros. rows holds each token's row of this rank's
// block of the vocabulary, or -1 for an id outside it, as floats (exact: the host checks rows < 2^24).
extern "C" __global__ void tp4j_embedding(const void* table, int format, int ldTable, const float* rows,
                                          int tokens, int hidden, float* out, int ldOut) {
    long long total = (long long) tokens * hidden;
    for (long long idx = blockIdx.x * (long long) blockDim.x + threadIdx.x; idx < total;
         idx += (long long) gridDim.x * blockDim.x) {
        int t = (int) (idx / hidden);
        int c = (int) (idx % hidden);
        long long row = (long long) rows[t];
        out[(long long) t * ldOut + c] = row < 0 ? 0.0f : tp4j_dec_load(table, row * ldTable + c, format);
    }
}

// y[r, :] = weight * (x[r, :] * r) with r = 1 / sqrt(mean(x[r, :]^2) + eps): one block per row. The sum of
// squares in float (any order), mean and eps added in float, sqrt and reciprocal in double rounded once
// (transformers' torch.rsqrt on float32, as the CPU rank). x and y may be the same tensor: each thread
// reads the elements it later writes.
extern "C" __global__ void tp4j_rmsnorm(const float* x, int ldx, const float* weight, float eps, float* y, int ldy,
                                        int rows, int n) {
    __shared__ float scratch[TP4J_DEC_THREADS];
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* xr = x + (long long) r * ldx;
        float* yr = y + (long long) r * ldy;
        float squares = 0.0f;
        for (int j = threadIdx.x; j < n; j += TP4J_DEC_THREADS) {
            squares += xr[j] * xr[j];
        }
        float sum = tp4j_dec_block_sum(squares, scratch);
        float mean = sum / (float) n;
        float scale = (float) (1.0 / sqrt((double) (mean + eps)));
        for (int j = threadIdx.x; j < n; j += TP4J_DEC_THREADS) {
            float v = xr[j] * scale;
            yr[j] = weight[j] * v;
        }
    }
}

// Rotate-half RoPE in place on x [tokens, heads * headDim]: token t is at position firstPosition + t; in each
// head, elements i and i + headDim/2 rotate by the angle position * invFreq[i] (a float product, as
// transformers forms freqs in float32), cos and sin of that float in double, rounded to float.
extern "C" __global__ void tp4j_rotary(float* x, int ld, int tokens, int heads, int headDim, const float* invFreq,
                                       int firstPosition) {
    int half = headDim / 2;
    long long total = (long long) tokens * heads * half;
    for (long long idx = blockIdx.x * (long long) blockDim.x + threadIdx.x; idx < total;
         idx += (long long) gridDim.x * blockDim.x) {
        int i = (int) (idx % half);
        long long th = idx / half;
        int h = (int) (th % heads);
        int t = (int) (th / heads);
        float angle = __fmul_rn((float) (firstPosition + t), invFreq[i]);
        float c = (float) cos((double) angle);
        float s = (float) sin((double) angle);
        float* head = x + (long long) t * ld + (long long) h * headDim;
        float x1 = head[i];
        float x2 = head[i + half];
        // Products rounded before the sum, as on the CPU (no fused multiply-add).
        head[i] = __fsub_rn(__fmul_rn(x1, c), __fmul_rn(x2, s));
        head[i + half] = __fadd_rn(__fmul_rn(x2, c), __fmul_rn(x1, s));
    }
}

// Causal grouped-query attention, one block per (query token, query head): for the token t at position
// firstPosition + t and head h, out = sum_j softmax_j(scale * q . k_j) v_j over positions j <= that position,
// k and v from kv head h / (qHeads / kvHeads). The softmax as the CPU rank computes it, without storing the
// scores: a pass for the max, one for Z = sum_j exp(s_j - max), one for the output with p_j = e_j / Z; each
// score is recomputed by the same thread in the same order, so every pass sees the same float. exp in
// double, rounded to float. The output's sum over j runs in order j = 0, 1, ... (chunks of the block's width).
extern "C" __global__ void tp4j_attention(const float* q, int ldq, const float* keys, const float* values, int ldkv,
                                          int qHeads, int kvHeads, int headDim, int firstPosition, float scale,
                                          float* out, int ldo) {
    __shared__ float qs[TP4J_DEC_MAX_HEAD_DIM];
    __shared__ float scratch[TP4J_DEC_THREADS];
    __shared__ float probs[TP4J_DEC_THREADS];
    int t = blockIdx.x;
    int h = blockIdx.y;
    int tid = threadIdx.x;
    int kvBase = (h / (qHeads / kvHeads)) * headDim;
    int visible = firstPosition + t + 1;
    const float* qRow = q + (long long) t * ldq + (long long) h * headDim;
    for (int d = tid; d < headDim; d += TP4J_DEC_THREADS) {
        qs[d] = qRow[d];
    }
    __syncthreads();

    float localMax = -__int_as_float(0x7f800000); // -inf
    for (int j = tid; j < visible; j += TP4J_DEC_THREADS) {
        const float* k = keys + (long long) j * ldkv + kvBase;
        float s = tp4j_dec_score(qs, k, headDim, scale);
        localMax = (s > localMax || s != s) ? s : localMax;
    }
    float maxScore = tp4j_dec_block_max(localMax, scratch);

    float localSum = 0.0f;
    for (int j = tid; j < visible; j += TP4J_DEC_THREADS) {
        const float* k = keys + (long long) j * ldkv + kvBase;
        float s = tp4j_dec_score(qs, k, headDim, scale);
        localSum += (float) exp((double) (s - maxScore));
    }
    float z = tp4j_dec_block_sum(localSum, scratch);

    // Each thread owns output elements d = tid, tid + TP4J_DEC_THREADS, ... (at most 4 with the limits above).
    float acc[TP4J_DEC_MAX_HEAD_DIM / TP4J_DEC_THREADS];
    for (int a = 0; a < TP4J_DEC_MAX_HEAD_DIM / TP4J_DEC_THREADS; a++) {
        acc[a] = 0.0f;
    }
    for (int first = 0; first < visible; first += TP4J_DEC_THREADS) {
        int j = first + tid;
        if (j < visible) {
            const float* k = keys + (long long) j * ldkv + kvBase;
            float s = tp4j_dec_score(qs, k, headDim, scale);
            probs[tid] = (float) exp((double) (s - maxScore)) / z;
        }
        __syncthreads();
        int count = visible - first < TP4J_DEC_THREADS ? visible - first : TP4J_DEC_THREADS;
        for (int a = 0; a < TP4J_DEC_MAX_HEAD_DIM / TP4J_DEC_THREADS; a++) {
            int d = tid + a * TP4J_DEC_THREADS;
            if (d < headDim) {
                for (int c = 0; c < count; c++) {
                    acc[a] += probs[c] * values[(long long) (first + c) * ldkv + kvBase + d];
                }
            }
        }
        __syncthreads();
    }
    float* o = out + (long long) t * ldo + (long long) h * headDim;
    for (int a = 0; a < TP4J_DEC_MAX_HEAD_DIM / TP4J_DEC_THREADS; a++) {
        int d = tid + a * TP4J_DEC_THREADS;
        if (d < headDim) {
            o[d] = acc[a];
        }
    }
}

// a += b elementwise (the residual connection).
extern "C" __global__ void tp4j_add(float* a, int lda, const float* b, int ldb, int rows, int cols) {
    long long total = (long long) rows * cols;
    for (long long idx = blockIdx.x * (long long) blockDim.x + threadIdx.x; idx < total;
         idx += (long long) gridDim.x * blockDim.x) {
        int r = (int) (idx / cols);
        int c = (int) (idx % cols);
        a[(long long) r * lda + c] += b[(long long) r * ldb + c];
    }
}
