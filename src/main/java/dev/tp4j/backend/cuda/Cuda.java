package dev.tp4j.backend.cuda;

import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.cuda.global.nvrtc;

/** Status checks: every CUDA-family call goes through one of these, so a failure names the call. */
final class Cuda {
    private Cuda() {
    }

    static void check(int status, String call) {
        if (status != cudart.cudaSuccess) {
            throw new CudaException(call + " failed: " + cudart.cudaGetErrorName(status).getString() + " ("
                    + cudart.cudaGetErrorString(status).getString() + ")");
        }
    }

    /** Driver API ({@code cu*}) status. */
    static void checkDriver(int status, String call) {
        if (status != cudart.CUDA_SUCCESS) {
            throw new CudaException(call + " failed: CUresult " + status);
        }
    }

    static void checkBlas(int status, String call) {
        if (status != cublas.CUBLAS_STATUS_SUCCESS) {
            throw new CudaException(call + " failed: " + cublas.cublasGetStatusString(status).getString());
        }
    }

    static void checkNvrtc(int status, String call) {
        if (status != nvrtc.NVRTC_SUCCESS) {
            throw new CudaException(call + " failed: " + nvrtc.nvrtcGetErrorString(status).getString());
        }
    }

    /** The device address a JavaCPP pointer denotes, its position included. */
    static long address(org.bytedeco.javacpp.Pointer p) {
        return p.address() + p.position() * p.sizeof();
    }
}
