// tp4j dtype casts: half-precision checkpoint weights to fp32 on the device.
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

// fp32 to bf16, round to nearest even (NaN kept quiet), for bf16 GEMM inputs.
extern "C" __global__ void tp4j_f32_to_bf16(const float* in, unsigned short* out, long long n) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n;
         i += (long long) gridDim.x * blockDim.x) {
        unsigned int u = __float_as_uint(in[i]);
        if ((u & 0x7fffffffu) > 0x7f800000u) {
            out[i] = (unsigned short) ((u >> 16) | 0x0040u);
        } else {
            u += 0x7fffu + ((u >> 16) & 1u);
            out[i] = (unsigned short) (u >> 16);
        }
    }
}
