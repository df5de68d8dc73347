package dev.tp4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.backend.Activation;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CUDA C kernels, checked without a GPU: they are packaged on the classpath, they declare every
 * kernel the backend launches, their activation codes agree with Java's, and (where nvcc is installed)
 * they compile.
 */
class KernelSourcesTest {

    @Test
    void everySourceIsOnTheClasspath() {
        for (String f : KernelSources.FILES) {
            String src = KernelSources.read(f);
            assertTrue(src.contains("__global__"), f);
        }
        assertTrue(KernelSources.combined().length() > 1000);
    }

    @Test
    void everyLaunchedKernelIsDeclaredExternC() {
        assertEquals(List.of(), KernelSources.undeclared(CudaKernels.LAUNCHED));
        Set<String> declared = KernelSources.declaredKernels(KernelSources.combined());
        assertEquals(Set.copyOf(CudaKernels.LAUNCHED), declared, "declared kernels that Java never launches, or the reverse");
    }

    @Test
    void theParserSeesOnlyExternCGlobals() {
        String src = "__device__ float f(float x) { return x; }\n"
                + "extern \"C\" __global__ void a(float* x) {}\n"
                + "__global__ void mangled(float* x) {}\n"
                + "extern \"C\"   __global__   void  b (int n) {}\n";
        assertEquals(Set.of("a", "b"), KernelSources.declaredKernels(src));
        assertEquals(List.of("missing"), KernelSources.undeclared(List.of("missing")));
    }

    @Test
    void activationCodesMatchTheDefines() {
        String src = KernelSources.read("elementwise.cu");
        Matcher m = Pattern.compile("#define TP4J_(\\w+) (\\d+)").matcher(src);
        int seen = 0;
        while (m.find()) {
            Activation act = Activation.valueOf(m.group(1));
            assertEquals(Integer.parseInt(m.group(2)), CudaKernels.activationCode(act), act.toString());
            seen++;
        }
        assertEquals(Activation.values().length, seen, "every activation has a kernel code");
    }

    /** decoder.cu's table formats and launch limits are the numbers CudaKernels passes and checks. */
    @Test
    void decoderDefinesMatchJava() {
        String src = KernelSources.read("decoder.cu");
        assertEquals(CudaKernels.storedFormat(dev.tp4j.tensor.DType.F32), define(src, "TP4J_DEC_F32"));
        assertEquals(CudaKernels.storedFormat(dev.tp4j.tensor.DType.BF16), define(src, "TP4J_DEC_BF16"));
        assertEquals(CudaKernels.storedFormat(dev.tp4j.tensor.DType.F16), define(src, "TP4J_DEC_F16"));
        assertEquals(CudaKernels.ROW_THREADS, define(src, "TP4J_DEC_THREADS"));
        assertEquals(CudaKernels.MAX_HEAD_DIM, define(src, "TP4J_DEC_MAX_HEAD_DIM"));
        assertEquals(0, Integer.bitCount(CudaKernels.ROW_THREADS) - 1, "the tree reductions need a power of two");
        assertEquals(0, CudaKernels.MAX_HEAD_DIM % CudaKernels.ROW_THREADS, "each thread owns whole output slots");
    }

    private static int define(String src, String name) {
        Matcher m = Pattern.compile("#define " + name + " (\\d+)").matcher(src);
        assertTrue(m.find(), name + " defined");
        return Integer.parseInt(m.group(1));
    }

    @Test
    void theCacheKeyFollowsSourceAndOptions() {
        String a = KernelSources.sha256(String.join(" ", CudaKernels.options("sm_80")));
        String b = KernelSources.sha256(String.join(" ", CudaKernels.options("sm_90")));
        assertEquals(64, a.length());
        assertNotEquals(a, b);
        assertEquals(a, KernelSources.sha256(String.join(" ", CudaKernels.options("sm_80"))));
    }

    @Test
    void theCacheFileFollowsTheNvrtcVersion() {
        CudaKernels.Target sm90 = new CudaKernels.Target("sm_90", true);
        List<String> opts = CudaKernels.options("sm_90");
        Path a = CudaKernels.cacheFile(sm90, opts, "13.0");
        Path b = CudaKernels.cacheFile(sm90, opts, "13.1");
        assertNotEquals(a, b, "a kernel compiled by another NVRTC must not be served from the cache");
        assertEquals(a, CudaKernels.cacheFile(sm90, opts, "13.0"));
        assertTrue(a.getFileName().toString().endsWith("-sm_90.cubin"), a.toString());
        assertTrue(CudaKernels.cacheFile(new CudaKernels.Target("compute_121", false), opts, "13.0").toString()
                .endsWith("-compute_121.ptx"));
    }

    /**
     * NVRTC's options stay allocated as long as the array handed to it is reachable, through any number of
     * garbage collections. The control shows the test can see the defect it guards against: strings put
     * into a {@code PointerPointer} one by one are freed by the collector while the array is still in use.
     */
    @Test
    void nvrtcOptionStringsLiveAsLongAsTheirArray() throws InterruptedException {
        String big = "-D" + "X".repeat(8 << 20); // 8 MiB: far above whatever else is freed meanwhile
        long bytes = big.length() + 1L;
        settle();
        long before = org.bytedeco.javacpp.Pointer.totalBytes();
        org.bytedeco.javacpp.PointerPointer<org.bytedeco.javacpp.BytePointer> kept = CudaKernels.cStrings(List.of(big, big));
        settle();
        long held = org.bytedeco.javacpp.Pointer.totalBytes() - before;
        assertTrue(held >= 2 * bytes, "options freed while their array is reachable: " + held + " bytes held");
        assertEquals("-DXX", kept.getString(0).substring(0, 4));
        java.lang.ref.Reference.reachabilityFence(kept);
        kept = null;

        org.bytedeco.javacpp.PointerPointer<org.bytedeco.javacpp.BytePointer> loose =
                new org.bytedeco.javacpp.PointerPointer<>(2);
        settle();
        before = org.bytedeco.javacpp.Pointer.totalBytes();
        loose.put(0, new org.bytedeco.javacpp.BytePointer(big));
        loose.put(1, new org.bytedeco.javacpp.BytePointer(big));
        settle();
        assertTrue(org.bytedeco.javacpp.Pointer.totalBytes() - before < bytes,
                "control: strings put one by one should have been freed while the array lives");
        java.lang.ref.Reference.reachabilityFence(loose);
    }

    /** Runs the collector until JavaCPP's deallocator has released what became unreachable. */
    private static void settle() throws InterruptedException {
        long last = -1;
        for (int i = 0; i < 50; i++) {
            System.gc();
            Thread.sleep(20);
            long now = org.bytedeco.javacpp.Pointer.totalBytes();
            if (now == last) {
                return;
            }
            last = now;
        }
    }

    @Test
    void nvrtcTargetIsTheDevicesCubinOrPtxForNewerGpus() {
        int[] nvrtc13 = {75, 80, 86, 87, 89, 90, 100, 103, 110, 120, 121};
        assertEquals(new CudaKernels.Target("sm_90", true), CudaKernels.target(90, nvrtc13));
        assertEquals(new CudaKernels.Target("sm_86", true), CudaKernels.target(86, nvrtc13));
        assertEquals(new CudaKernels.Target("compute_121", false), CudaKernels.target(130, nvrtc13));
        assertEquals(new CudaKernels.Target("sm_80", true), CudaKernels.target(80, new int[0]));
        CudaException old = org.junit.jupiter.api.Assertions.assertThrows(CudaException.class,
                () -> CudaKernels.target(70, nvrtc13));
        assertTrue(old.getMessage().contains("sm_70"), old.getMessage());
    }

    /** Where nvcc exists (CUDA toolkit, no GPU needed), the kernels must compile to PTX. */
    @Test
    void nvccCompilesTheKernelsWhereItIsInstalled(@TempDir Path dir) throws IOException, InterruptedException {
        String nvcc = findNvcc();
        Assumptions.assumeTrue(nvcc != null, "nvcc is not installed: kernels not compiled here (NVRTC compiles them on a GPU)");
        Path src = dir.resolve("tp4j_kernels.cu");
        Files.writeString(src, KernelSources.combined());
        List<String> cmd = new ArrayList<>(List.of(nvcc, "--ptx", "-arch=sm_80", "-std=c++17", "-o",
                dir.resolve("k.ptx").toString(), src.toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        String ptx = Files.readString(dir.resolve("k.ptx"));
        for (String k : CudaKernels.LAUNCHED) {
            assertTrue(ptx.contains(".entry " + k), k + " in the PTX");
        }
    }

    private static String findNvcc() {
        String path = System.getenv("PATH");
        if (path == null) {
            return null;
        }
        for (String d : path.split(java.io.File.pathSeparator)) {
            Path p = Path.of(d, "nvcc");
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        return null;
    }
}
