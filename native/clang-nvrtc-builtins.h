// What NVRTC provides without any #include, for clang compiling native/kernels/*.cu alone
// (native/check-kernels.sh): the CUDA qualifiers, threadIdx and friends, and the device math and intrinsic
// functions, declared by clang's own CUDA headers over libdevice. Never part of the NVRTC program: the
// kernels themselves include nothing, so what compiles here and with NVRTC is the same source.
#define CUDA_VERSION 11050
#define __host__ __attribute__((host))
#define __device__ __attribute__((device))
#define __global__ __attribute__((global))
#define __shared__ __attribute__((shared))
#define __constant__ __attribute__((constant))
#define __forceinline__ __inline__ __attribute__((always_inline))
// clang's headers expect these from the C library's headers, which a device-only compile does not have.
typedef __SIZE_TYPE__ size_t;
#define INT_MAX __INT_MAX__
#define INT_MIN (-__INT_MAX__ - 1)
#define HUGE_VAL __builtin_huge_val()
#define HUGE_VALF __builtin_huge_valf()
#include <__clang_cuda_builtin_vars.h>
#include <__clang_cuda_libdevice_declares.h>
#include <__clang_cuda_device_functions.h>
#include <__clang_cuda_math.h>
