package dev.tp4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The one-line reasons made from what JavaCPP throws when CUDA libraries are missing (no GPU needed). */
class NativeLoadFailureTest {

    /** JavaCPP's shape: "no jniX in java.library.path" caused by the dlopen error of the glue library. */
    static UnsatisfiedLinkError javacppFailure(String glue, String missing) {
        UnsatisfiedLinkError e = new UnsatisfiedLinkError("no " + glue + " in java.library.path: /usr/lib");
        e.initCause(new UnsatisfiedLinkError("/root/.javacpp/cache/cuda-13.1-9.19-1.5.13-linux-x86_64.jar/org/bytedeco/"
                + "cuda/linux-x86_64/lib" + glue + ".so: " + missing + ": cannot open shared object file: No such file or directory"));
        return e;
    }

    @Test
    void namesTheMissingSystemLibraryNotTheGlue() {
        assertEquals("libcudart.so.13", NativeLoadFailure.missingLibrary(javacppFailure("jnicudart", "libcudart.so.13")));
        assertEquals("libcuda.so.1", NativeLoadFailure.missingLibrary(javacppFailure("jnicudart", "libcuda.so.1")));
        assertEquals("libcublasLt.so.13", NativeLoadFailure.missingLibrary(javacppFailure("jnicublas", "libcublasLt.so.13")));
        assertEquals("libnccl.so.2", NativeLoadFailure.missingLibrary(javacppFailure("jninccl", "libnccl.so.2")));
    }

    @Test
    void describesWhatTheLibraryIs() {
        String d = NativeLoadFailure.describe(javacppFailure("jnicudart", "libcudart.so.13"));
        assertEquals("libcudart.so.13 (the CUDA runtime) not found on the library path", d);
        assertTrue(NativeLoadFailure.describe(javacppFailure("jnicudart", "libcuda.so.1")).contains("NVIDIA driver"));
        assertTrue(NativeLoadFailure.describe(javacppFailure("jninccl", "libnccl.so.2")).contains("NCCL"));
    }

    @Test
    void laterUsesOfAFailedBindingStillGiveTheCause() {
        // After the first failure JavaCPP's class is unusable: NoClassDefFoundError, then the original error.
        NoClassDefFoundError later = new NoClassDefFoundError("Could not initialize class org.bytedeco.cuda.global.cudart");
        later.initCause(new ExceptionInInitializerError("Exception java.lang.UnsatisfiedLinkError: no jnicudart"));
        assertNull(NativeLoadFailure.missingLibrary(later));
        assertTrue(NativeLoadFailure.describe(later).contains("jnicudart"), NativeLoadFailure.describe(later));
    }

    @Test
    void wrongVersionsAreNamedByTheirSymbol() {
        UnsatisfiedLinkError e = new UnsatisfiedLinkError("libjnicublas.so: undefined symbol: cublasLtMatmul_v2");
        assertTrue(NativeLoadFailure.describe(e).contains("cublasLtMatmul_v2"));
    }
}
