package dev.tp4j.backend.cuda;

/** A CUDA, cuBLAS, NVRTC or NCCL call failed at run time (exit status 1). The message names the call. */
public final class CudaException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public CudaException(String message) {
        super(message);
    }
}
