package dev.tp4j.backend.cuda;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.bytedeco.cuda.cudart.CUuuid_st;
import org.bytedeco.cuda.cudart.cudaDeviceProp;
import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.cuda.global.nccl;
import org.bytedeco.cuda.global.nvrtc;
import org.bytedeco.javacpp.Loader;

/**
 * Whether this process can run GPU ranks, and if not, why, in one line. Probed once per JVM, in order:
 * the CUDA runtime (its JNI glue needs {@code libcuda.so.1} from the driver and {@code libcudart}), the
 * devices ({@code cudaGetDeviceCount}), cuBLAS/cuBLASLt and NVRTC (needed by the CUDA backend), and NCCL
 * (needed only by {@code --transport nccl}).
 *
 * <p>Loading never crashes the JVM: JavaCPP reports a missing library as an {@link UnsatisfiedLinkError}
 * (later uses of the same binding as {@link NoClassDefFoundError}), which is caught here and turned into
 * the reason. The probe must run before any other code touches the CUDA bindings.
 */
public final class CudaAvailability {
    private static CudaAvailability probed;

    private final String backendProblem;
    private final String ncclProblem;
    private final List<CudaDeviceInfo> devices;
    private final int driverVersion;
    private final int runtimeVersion;
    private final String cublasVersion;
    private final String nvrtcVersion;
    private final String ncclVersion;

    CudaAvailability(String backendProblem, String ncclProblem, List<CudaDeviceInfo> devices, int driverVersion,
                     int runtimeVersion, String cublasVersion, String nvrtcVersion, String ncclVersion) {
        this.backendProblem = backendProblem;
        this.ncclProblem = ncclProblem;
        this.devices = List.copyOf(devices);
        this.driverVersion = driverVersion;
        this.runtimeVersion = runtimeVersion;
        this.cublasVersion = cublasVersion;
        this.nvrtcVersion = nvrtcVersion;
        this.ncclVersion = ncclVersion;
    }

    /** A machine where the backend cannot run, for {@code reason} (tests and fallbacks). */
    public static CudaAvailability unusable(String reason) {
        return new CudaAvailability(reason, reason, List.of(), 0, 0, null, null, null);
    }

    /** A machine where everything loaded and these devices are visible (tests). */
    public static CudaAvailability usable(List<CudaDeviceInfo> devices, String ncclProblem) {
        return new CudaAvailability(null, ncclProblem, devices, 0, 0, null, null, ncclProblem == null ? "?" : null);
    }

    /** The probe of this JVM, run on first use. */
    public static synchronized CudaAvailability get() {
        if (probed == null) {
            probed = probe();
        }
        return probed;
    }

    /** True when the CUDA backend can run here: runtime, driver, a device, cuBLAS and NVRTC. */
    public boolean usable() {
        return backendProblem == null;
    }

    /** Why the CUDA backend cannot run here, one line; null when it can. */
    public String reason() {
        return backendProblem;
    }

    /** True when NCCL collectives can run here (the backend usable and libnccl loaded). */
    public boolean ncclUsable() {
        return backendProblem == null && ncclProblem == null;
    }

    /** Why NCCL cannot run here, one line; null when it can. */
    public String ncclReason() {
        return backendProblem != null ? backendProblem : ncclProblem;
    }

    public List<CudaDeviceInfo> devices() {
        return devices;
    }

    /** e.g. "13.1"; null when unknown. */
    public String driverVersion() {
        return driverVersion <= 0 ? null : cudaVersionString(driverVersion);
    }

    public String runtimeVersion() {
        return runtimeVersion <= 0 ? null : cudaVersionString(runtimeVersion);
    }

    public String cublasVersion() {
        return cublasVersion;
    }

    public String nvrtcVersion() {
        return nvrtcVersion;
    }

    public String ncclVersion() {
        return ncclVersion;
    }

    /** CUDA's version encoding ({@code 1000 * major + 10 * minor}) as "major.minor". */
    static String cudaVersionString(int v) {
        return (v / 1000) + "." + (v % 1000) / 10;
    }

    /** cuBLAS / NCCL encoding {@code major * 10000 + minor * 100 + patch} (NCCL ≥ 2.9) as "a.b.c". */
    static String tripleVersionString(long v) {
        if (v < 10000) { // NCCL before 2.9: major * 1000 + minor * 100 + patch
            return (v / 1000) + "." + (v % 1000) / 100 + "." + v % 100;
        }
        return (v / 10000) + "." + (v % 10000) / 100 + "." + v % 100;
    }

    private static CudaAvailability probe() {
        String failure = load("the CUDA runtime bindings", () -> Loader.load(cudart.class));
        if (failure != null) {
            return unusable(failure);
        }
        int[] driver = {0};
        int[] runtime = {0};
        cudart.cudaDriverGetVersion(driver);
        cudart.cudaRuntimeGetVersion(runtime);
        int[] count = {0};
        int err = cudart.cudaGetDeviceCount(count);
        String problem = null;
        List<CudaDeviceInfo> devices = new ArrayList<>();
        if (err != cudart.cudaSuccess) {
            problem = "cudaGetDeviceCount failed: " + errorName(err) + " (" + errorString(err) + ")"
                    + (driver[0] == 0 ? "; no NVIDIA driver is loaded" : "");
        } else if (count[0] == 0) {
            String visible = System.getenv("CUDA_VISIBLE_DEVICES");
            problem = "cudaGetDeviceCount = 0: no CUDA device is visible"
                    + (visible == null ? "" : " (CUDA_VISIBLE_DEVICES='" + visible + "')");
        } else {
            for (int i = 0; i < count[0]; i++) {
                try (cudaDeviceProp p = new cudaDeviceProp()) {
                    int e = cudart.cudaGetDeviceProperties(p, i);
                    if (e != cudart.cudaSuccess) {
                        problem = "cudaGetDeviceProperties(" + i + ") failed: " + errorName(e);
                        break;
                    }
                    // cudaUUID_t is CUuuid_st (16 bytes) in the headers; the presets map it opaque.
                    CUuuid_st id = new CUuuid_st(p.uuid());
                    byte[] uuid = new byte[16];
                    for (int b = 0; b < uuid.length; b++) {
                        uuid[b] = id.bytes(b);
                    }
                    devices.add(new CudaDeviceInfo(i, p.name().getString().trim(), p.totalGlobalMem(),
                            p.major(), p.minor(), CudaDeviceInfo.uuidText(uuid)));
                }
            }
        }
        String cublasVer = null;
        String f = load("cuBLAS", () -> Loader.load(cublas.class));
        if (f == null) {
            cublasVer = tripleVersionString(cublas.cublasLtGetVersion());
        } else if (problem == null) {
            problem = f;
        }
        String nvrtcVer = null;
        f = load("NVRTC", () -> Loader.load(nvrtc.class));
        if (f == null) {
            int[] major = {0};
            int[] minor = {0};
            nvrtc.nvrtcVersion(major, minor);
            nvrtcVer = major[0] + "." + minor[0];
        } else if (problem == null) {
            problem = f;
        }
        String ncclVer = null;
        String ncclProblem = load("NCCL", () -> Loader.load(nccl.class));
        if (ncclProblem == null) {
            int[] v = {0};
            nccl.ncclGetVersion(v);
            ncclVer = tripleVersionString(v[0]);
        }
        return new CudaAvailability(problem, ncclProblem, devices, driver[0], runtime[0], cublasVer, nvrtcVer, ncclVer);
    }

    /** Loads a binding; null on success, else the one-line reason. */
    static String load(String what, Supplier<?> loader) {
        try {
            loader.get();
            return null;
        } catch (UnsatisfiedLinkError | NoClassDefFoundError | ExceptionInInitializerError e) {
            return "cannot load " + what + ": " + NativeLoadFailure.describe(e);
        } catch (RuntimeException | LinkageError e) {
            return "cannot load " + what + ": " + NativeLoadFailure.describe(e);
        }
    }

    static String errorName(int err) {
        return cudart.cudaGetErrorName(err).getString();
    }

    static String errorString(int err) {
        return cudart.cudaGetErrorString(err).getString();
    }
}
