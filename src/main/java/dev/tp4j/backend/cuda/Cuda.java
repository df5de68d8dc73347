package dev.tp4j.backend.cuda;

import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.cuda.global.nvrtc;
import org.bytedeco.javacpp.BytePointer;

/**
 * Status checks: every CUDA-family call goes through one of these, so a failure names the call, the
 * error by its CUDA name and description, and (where the caller knows it) the last work queued on the
 * stream: kernels run asynchronously, so an illegal address in a kernel is reported by whichever call
 * comes next (a copy, a synchronize), and the message must point back at the kernel.
 */
final class Cuda {
    private Cuda() {
    }

    static void check(int status, String call) {
        check(status, call, null);
    }

    /** Runtime API ({@code cuda*}) status; {@code lastQueued} may be null. */
    static void check(int status, String call, String lastQueued) {
        if (status != cudart.cudaSuccess) {
            throw new CudaException(failure(call, cudart.cudaGetErrorName(status).getString(),
                    cudart.cudaGetErrorString(status).getString(), lastQueued));
        }
    }

    static void checkDriver(int status, String call) {
        checkDriver(status, call, null);
    }

    /** Driver API ({@code cu*}) status, named by {@code cuGetErrorName}/{@code cuGetErrorString}. */
    static void checkDriver(int status, String call, String lastQueued) {
        if (status != cudart.CUDA_SUCCESS) {
            throw new CudaException(failure(call, driverErrorName(status), driverErrorString(status), lastQueued));
        }
    }

    static void checkBlas(int status, String call) {
        checkBlas(status, call, null);
    }

    static void checkBlas(int status, String call, String lastQueued) {
        if (status != cublas.CUBLAS_STATUS_SUCCESS) {
            throw new CudaException(failure(call, cublas.cublasGetStatusName(status).getString(),
                    cublas.cublasGetStatusString(status).getString(), lastQueued));
        }
    }

    static void checkNvrtc(int status, String call) {
        if (status != nvrtc.NVRTC_SUCCESS) {
            throw new CudaException(failure(call, nvrtc.nvrtcGetErrorString(status).getString(), null, null));
        }
    }

    /**
     * The one-line message: {@code CALL failed: NAME (description); last work queued on the stream: X}.
     * {@code description} and {@code lastQueued} may be null.
     */
    static String failure(String call, String name, String description, String lastQueued) {
        StringBuilder sb = new StringBuilder(call).append(" failed: ").append(name);
        if (description != null && !description.isBlank() && !description.equals(name)) {
            sb.append(" (").append(description.strip()).append(')');
        }
        if (lastQueued != null) {
            sb.append("; last work queued on the stream before it: ").append(lastQueued);
        }
        return sb.toString().replace('\n', ' ');
    }

    /** {@code CUDA_ERROR_ILLEGAL_ADDRESS} for 700; {@code CUresult N} when the driver does not know it. */
    static String driverErrorName(int status) {
        BytePointer name = new BytePointer();
        if (cudart.cuGetErrorName(status, name) != cudart.CUDA_SUCCESS || name.isNull()) {
            return "CUresult " + status;
        }
        return name.getString();
    }

    static String driverErrorString(int status) {
        BytePointer text = new BytePointer();
        if (cudart.cuGetErrorString(status, text) != cudart.CUDA_SUCCESS || text.isNull()) {
            return null;
        }
        return text.getString();
    }
}
