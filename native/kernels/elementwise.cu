// tp4j elementwise kernels: bias, activations, the gated product. fp32 in, fp32 out.
//
// Compiled at run time by NVRTC for the device at hand (see CudaKernels.java) and, in CI, by nvcc
// where it exists (.ci/run), so a syntax error fails the build. No headers: NVRTC needs none here.
//
// Every kernel works on a 2-D row-major view: `rows` x `cols`, `ld` elements between row starts
// (a column window of a wider matrix has ld > cols). A grid-stride loop covers any size.
//
// Activation codes (must match CudaKernels.activationCode):
//   0 relu, 1 gelu (exact, erf), 2 gelu_tanh (tanh approximation), 3 silu

#define TP4J_RELU 0
#define TP4J_GELU 1
#define TP4J_GELU_TANH 2
#define TP4J_SILU 3

__device__ __forceinline__ float tp4j_act(float x, int act) {
    switch (act) {
        case TP4J_RELU:
            // NaN stays NaN, as in PyTorch and the CPU rank (fmaxf would return 0 for a NaN).
            return (x > 0.0f || x != x) ? x : 0.0f;
        case TP4J_GELU:
            // 0.5 x (1 + erf(x / sqrt 2)) written with erfc, accurate in the negative tail.
            return 0.5f * x * erfcf(-x * 0.70710678118654752f);
        case TP4J_GELU_TANH: {
            const float k = 0.7978845608028654f; // sqrt(2 / pi)
            return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
        }
        case TP4J_SILU:
            return x / (1.0f + expf(-x));
        default:
            return __int_as_float(0x7fc00000); // NaN: an unknown code is a bug, make it visible
    }
}

// y[i, :] = bias  (seeds y before a GEMM with beta = 1)
extern "C" __global__ void tp4j_broadcast_rows(float* y, const float* bias, int rows, int cols, int ldy) {
    long long total = (long long) rows * cols;
    for (long long idx = blockIdx.x * (long long) blockDim.x + threadIdx.x; idx < total;
         idx += (long long) gridDim.x * blockDim.x) {
        int r = (int) (idx / cols);
        int c = (int) (idx % cols);
        y[(long long) r * ldy + c] = bias[c];
    }
}

// y[i, :] += bias
extern "C" __global__ void tp4j_add_bias(float* y, const float* bias, int rows, int cols, int ldy) {
    long long total = (long long) rows * cols;
    for (long long idx = blockIdx.x * (long long) blockDim.x + threadIdx.x; idx < total;
         idx += (long long) gridDim.x * blockDim.x) {
        int r = (int) (idx / cols);
        int c = (int) (idx % cols);
        y[(long long) r * ldy + c] += bias[c];
    }
}

// x = act(x) in place
extern "C" __global__ void tp4j_activate(float* x, int rows, int cols, int ld, int act) {
    long long total = (long long) rows * cols;
    for (long long idx = blockIdx.x * (long long) blockDim.x + threadIdx.x; idx < total;
         idx += (long long) gridDim.x * blockDim.x) {
        int r = (int) (idx / cols);
        int c = (int) (idx % cols);
        long long at = (long long) r * ld + c;
        x[at] = tp4j_act(x[at], act);
    }
}

// gate = act(gate) * up in place (SwiGLU with silu)
extern "C" __global__ void tp4j_gated_activate(float* gate, const float* up, int rows, int cols, int ldg, int ldu,
                                               int act) {
    long long total = (long long) rows * cols;
    for (long long idx = blockIdx.x * (long long) blockDim.x + threadIdx.x; idx < total;
         idx += (long long) gridDim.x * blockDim.x) {
        int r = (int) (idx / cols);
        int c = (int) (idx % cols);
        long long g = (long long) r * ldg + c;
        gate[g] = tp4j_act(gate[g], act) * up[(long long) r * ldu + c];
    }
}

// out[i] = value (fills, e.g. y = 0 for an empty reduction)
extern "C" __global__ void tp4j_fill(float* x, int rows, int cols, int ld, float value) {
    long long total = (long long) rows * cols;
    for (long long idx = blockIdx.x * (long long) blockDim.x + threadIdx.x; idx < total;
         idx += (long long) gridDim.x * blockDim.x) {
        int r = (int) (idx / cols);
        int c = (int) (idx % cols);
        x[(long long) r * ld + c] = value;
    }
}
