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

    @Test
    void theCacheKeyFollowsSourceAndOptions() {
        String a = KernelSources.sha256(String.join(" ", CudaKernels.options("sm_80")));
        String b = KernelSources.sha256(String.join(" ", CudaKernels.options("sm_90")));
        assertEquals(64, a.length());
        assertNotEquals(a, b);
        assertEquals(a, KernelSources.sha256(String.join(" ", CudaKernels.options("sm_80"))));
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
