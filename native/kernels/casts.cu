// tp4j dtype casts between fp32 and the half-precision formats (bf16, fp16) on the device.
//
// No cuda_fp16.h / cuda_bf16.h: the bit patterns are converted directly, so NVRTC needs no include path.
// Elements are counted with a 64-bit n; a grid-stride loop covers any size.

// bf16 is the top half of an fp32: widen by a 16-bit shift (exact).
extern "C" __global__ void tp4j_bf16_to_f32(const unsigned short* in, float* out, long long n) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n;
         i += (long long) gridDim.x * blockDim.x) {
        out[i] = __uint_as_float(((unsigned int) in[i]) << 16);
    }
}

// IEEE fp16 to fp32 with the hardware conversion (exact, subnormals, inf and NaN included).
extern "C" __global__ void tp4j_f16_to_f32(const unsigned short* in, float* out, long long n) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n;
         i += (long long) gridDim.x * blockDim.x) {
        float f;
        unsigned short h = in[i];
        asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
        out[i] = f;
    }
}

// A 2-D fp32 view (rows x cols, ld floats between row starts: a column window is allowed) to a contiguous
// rows x cols half-precision matrix, rounded to nearest even: format 0 = bf16 (NaN kept quiet), 1 = IEEE
// fp16 (overflow to inf, subnormals kept). The GEMM inputs of half-precision weights (cublasGemmEx).
extern "C" __global__ void tp4j_f32_to_half(const float* in, int ld, unsigned short* out, int rows, int cols,
                                            int format) {
    long long total = (long long) rows * cols;
    for (long long idx = blockIdx.x * (long long) blockDim.x + threadIdx.x; idx < total;
         idx += (long long) gridDim.x * blockDim.x) {
        int r = (int) (idx / cols);
        int c = (int) (idx % cols);
        float f = in[(long long) r * ld + c];
        unsigned short h;
        if (format == 1) {
            asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
        } else {
            unsigned int u = __float_as_uint(f);
            if ((u & 0x7fffffffu) > 0x7f800000u) {
                h = (unsigned short) ((u >> 16) | 0x0040u);
            } else {
                u += 0x7fffu + ((u >> 16) & 1u);
                h = (unsigned short) (u >> 16);
            }
        }
        out[idx] = h;
    }
}
