package dev.tp4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The one-line failure messages of CUDA calls (composed in Java; the names come from the libraries). */
class CudaMessagesTest {

    @Test
    void aDriverFailureNamesTheCallTheErrorAndTheKernelBeforeIt() {
        assertEquals("cudaStreamSynchronize (copying Tensor[4, 6] F32 on cuda:0 to the host) failed: "
                        + "CUDA_ERROR_ILLEGAL_ADDRESS (an illegal memory access was encountered); last work queued on "
                        + "the stream before it: tp4j_add_bias on [4, 3] (row stride 6)",
                Cuda.failure("cudaStreamSynchronize (copying Tensor[4, 6] F32 on cuda:0 to the host)",
                        "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered",
                        "tp4j_add_bias on [4, 3] (row stride 6)"));
    }

    @Test
    void missingPartsAreLeftOutAndTheMessageStaysOneLine() {
        assertEquals("cuModuleLoadData(sm_90 kernels) failed: CUresult 999",
                Cuda.failure("cuModuleLoadData(sm_90 kernels)", "CUresult 999", null, null));
        assertEquals("nvrtcCreateProgram failed: NVRTC_ERROR_OUT_OF_MEMORY",
                Cuda.failure("nvrtcCreateProgram", "NVRTC_ERROR_OUT_OF_MEMORY", "NVRTC_ERROR_OUT_OF_MEMORY", null));
        assertEquals("x failed: E (two lines)", Cuda.failure("x", "E", "two\nlines\n", null));
    }
}
