package dev.tp4j.backend.cuda;

import dev.tp4j.backend.Activation;
import dev.tp4j.tensor.Tensor;
import java.io.IOException;
import java.lang.ref.Reference;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.cudart.CUmod_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.cuda.global.nvrtc;
import org.bytedeco.cuda.nvrtc._nvrtcProgram;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.SizeTPointer;

/**
 * tp4j's CUDA C kernels ({@link KernelSources}), compiled by NVRTC for one device's compute capability
 * into a CUBIN (or PTX, for a GPU newer than NVRTC), cached on disk
 * ({@code $XDG_CACHE_HOME/tp4j/kernels/<sha256>-sm_XX.cubin}, default {@code ~/.cache}), loaded as a
 * module and launched on the backend's stream.
 *
 * <p>NOT YET RUN ON A GPU (no device was available to the task that wrote it); see docs/gpu-validation.md.
 */
final class CudaKernels implements AutoCloseable {
    static final String BROADCAST_ROWS = "tp4j_broadcast_rows";
    static final String ADD_BIAS = "tp4j_add_bias";
    static final String ACTIVATE = "tp4j_activate";
    static final String GATED_ACTIVATE = "tp4j_gated_activate";
    static final String FILL = "tp4j_fill";
    static final String BF16_TO_F32 = "tp4j_bf16_to_f32";
    static final String F16_TO_F32 = "tp4j_f16_to_f32";
    static final String F32_TO_HALF = "tp4j_f32_to_half";
    static final String EMBEDDING = "tp4j_embedding";
    static final String RMSNORM = "tp4j_rmsnorm";
    static final String ROTARY = "tp4j_rotary";
    static final String ATTENTION = "tp4j_attention";
    static final String ADD = "tp4j_add";

    /** Every kernel name this class launches (a CPU test checks each is declared in the sources). */
    static final List<String> LAUNCHED = List.of(BROADCAST_ROWS, ADD_BIAS, ACTIVATE, GATED_ACTIVATE, FILL,
            BF16_TO_F32, F16_TO_F32, F32_TO_HALF, EMBEDDING, RMSNORM, ROTARY, ATTENTION, ADD);

    /** Threads of decoder.cu's one-block-per-row kernels ({@code TP4J_DEC_THREADS}). */
    static final int ROW_THREADS = 128;
    /** The widest attention head decoder.cu holds in shared memory ({@code TP4J_DEC_MAX_HEAD_DIM}). */
    static final int MAX_HEAD_DIM = 512;

    private static final int BLOCK = 256;
    private static final int MAX_BLOCKS = 65535;

    private final CUmod_st module = new CUmod_st();
    private final Map<String, CUfunc_st> functions = new HashMap<>();
    private final String arch;

    /** The code elementwise.cu gives each activation (its {@code TP4J_*} defines). */
    static int activationCode(Activation act) {
        switch (act) {
            case RELU:
                return 0;
            case GELU:
                return 1;
            case GELU_TANH:
                return 2;
            case SILU:
                return 3;
            default:
                throw new IllegalArgumentException("no CUDA kernel for activation " + act);
        }
    }

    /** The {@code format} argument of {@code tp4j_f32_to_half} for a half-precision dtype. */
    static int halfFormat(dev.tp4j.tensor.DType dtype) {
        switch (dtype) {
            case BF16:
                return 0;
            case F16:
                return 1;
            default:
                throw new IllegalArgumentException("no half-precision format for " + dtype);
        }
    }

    /** The {@code format} argument of decoder.cu's table reads ({@code TP4J_DEC_F32/BF16/F16}). */
    static int storedFormat(dev.tp4j.tensor.DType dtype) {
        switch (dtype) {
            case F32:
                return 0;
            case BF16:
                return 1;
            case F16:
                return 2;
            default:
                throw new IllegalArgumentException("no decoder kernel reads " + dtype);
        }
    }

    /** NVRTC options; part of the cache key. */
    static List<String> options(String arch) {
        return List.of("--gpu-architecture=" + arch, "--std=c++17", "--fmad=true");
    }

    /** Where compiled kernels are cached. */
    static Path cacheDir() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("tp4j").resolve("kernels");
    }

    /** Compiles (or reads from the cache) and loads the kernels; the device's context must be current. */
    CudaKernels(CudaDeviceInfo device) {
        int cc = device.major() * 10 + device.minor();
        Target target = target(cc, supportedArchs());
        this.arch = target.option();
        byte[] image = image(target);
        BytePointer data = new BytePointer(image.length + 1L);
        data.put(image).put(image.length, (byte) 0).position(0);
        Cuda.checkDriver(cudart.cuModuleLoadData(module, data), "cuModuleLoadData(" + arch + " kernels)");
        data.close();
        for (String name : LAUNCHED) {
            CUfunc_st f = new CUfunc_st();
            Cuda.checkDriver(cudart.cuModuleGetFunction(f, module, name), "cuModuleGetFunction(" + name + ")");
            functions.put(name, f);
        }
    }

    /** What NVRTC produces for a device: a cubin for its exact sm_XX, or PTX the driver compiles. */
    record Target(String option, boolean cubin) {
    }

    /**
     * A cubin for the device's own architecture when this NVRTC knows it; for a device newer than NVRTC,
     * PTX for the newest architecture it knows (the driver JIT-compiles PTX for newer GPUs; a cubin
     * would not load there). A device older than every supported architecture cannot be served.
     */
    static Target target(int cc, int[] supported) {
        int newest = 0;
        int oldest = Integer.MAX_VALUE;
        for (int a : supported) {
            if (a == cc) {
                return new Target("sm_" + cc, true);
            }
            newest = Math.max(newest, a);
            oldest = Math.min(oldest, a);
        }
        if (supported.length > 0 && cc > newest) {
            return new Target("compute_" + newest, false);
        }
        if (supported.length > 0 && cc < oldest) {
            throw new CudaException("this GPU (sm_" + cc + ") is older than NVRTC supports (oldest sm_" + oldest + ")");
        }
        return new Target("sm_" + cc, true); // unknown list or a gap in it: try the exact architecture
    }

    private static int[] supportedArchs() {
        int[] n = {0};
        if (nvrtc.nvrtcGetNumSupportedArchs(n) != nvrtc.NVRTC_SUCCESS || n[0] <= 0) {
            return new int[0];
        }
        int[] archs = new int[n[0]];
        if (nvrtc.nvrtcGetSupportedArchs(archs) != nvrtc.NVRTC_SUCCESS) {
            return new int[0];
        }
        return archs;
    }

    /**
     * The cache file for these sources compiled with {@code opts} by NVRTC {@code nvrtcVersion} (e.g.
     * {@code 13.1}): a newer NVRTC may generate different code from the same source and options (a fixed
     * miscompilation, new instructions), so its output must not be served from an older one's cache.
     */
    static Path cacheFile(Target target, List<String> opts, String nvrtcVersion) {
        String key = KernelSources.sha256(String.join(" ", opts) + " nvrtc " + nvrtcVersion);
        return cacheDir().resolve(key.substring(0, 16) + "-" + target.option() + (target.cubin() ? ".cubin" : ".ptx"));
    }

    /** {@code major.minor} of the NVRTC library loaded. */
    static String nvrtcVersion() {
        int[] major = {0};
        int[] minor = {0};
        Cuda.checkNvrtc(nvrtc.nvrtcVersion(major, minor), "nvrtcVersion");
        return major[0] + "." + minor[0];
    }

    /**
     * The options as NVRTC's {@code const char* const*}. {@code PointerPointer(String...)} keeps the
     * strings' {@code BytePointer}s in the array object: {@code put(i, new BytePointer(...))} would leave
     * them unreferenced, free for the garbage collector (and JavaCPP's deallocator) to release before
     * NVRTC reads them.
     */
    static PointerPointer<BytePointer> cStrings(List<String> strings) {
        return new PointerPointer<>(strings.toArray(new String[0]));
    }

    private static byte[] image(Target target) {
        List<String> opts = options(target.option());
        Path cached = cacheFile(target, opts, nvrtcVersion());
        try {
            if (Files.isRegularFile(cached)) {
                return Files.readAllBytes(cached);
            }
        } catch (IOException e) {
            // fall through and compile
        }
        byte[] bin = compile(target, opts);
        try {
            Files.createDirectories(cached.getParent());
            Path tmp = Files.createTempFile(cached.getParent(), "kernels", ".tmp");
            Files.write(tmp, bin);
            Files.move(tmp, cached, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | UnsupportedOperationException e) {
            // A read-only home only costs a recompilation next time.
        }
        return bin;
    }

    private static byte[] compile(Target target, List<String> opts) {
        String arch = target.option();
        _nvrtcProgram prog = new _nvrtcProgram();
        Cuda.checkNvrtc(nvrtc.nvrtcCreateProgram(prog, new BytePointer(KernelSources.combined()),
                new BytePointer("tp4j_kernels.cu"), 0, (BytePointer) null, (BytePointer) null), "nvrtcCreateProgram");
        try {
            PointerPointer<BytePointer> optPtrs = cStrings(opts);
            int status = nvrtc.nvrtcCompileProgram(prog, opts.size(), optPtrs);
            Reference.reachabilityFence(optPtrs);
            if (status != nvrtc.NVRTC_SUCCESS) {
                SizeTPointer logSize = new SizeTPointer(1);
                nvrtc.nvrtcGetProgramLogSize(prog, logSize);
                BytePointer log = new BytePointer(Math.max(1, logSize.get()));
                nvrtc.nvrtcGetProgramLog(prog, log);
                throw new CudaException("NVRTC could not compile native/kernels for " + arch + ": "
                        + nvrtc.nvrtcGetErrorString(status).getString() + "\n" + log.getString());
            }
            SizeTPointer size = new SizeTPointer(1);
            BytePointer bin;
            if (target.cubin()) {
                Cuda.checkNvrtc(nvrtc.nvrtcGetCUBINSize(prog, size), "nvrtcGetCUBINSize");
                bin = new BytePointer(size.get());
                Cuda.checkNvrtc(nvrtc.nvrtcGetCUBIN(prog, bin), "nvrtcGetCUBIN");
            } else {
                Cuda.checkNvrtc(nvrtc.nvrtcGetPTXSize(prog, size), "nvrtcGetPTXSize");
                bin = new BytePointer(size.get());
                Cuda.checkNvrtc(nvrtc.nvrtcGetPTX(prog, bin), "nvrtcGetPTX");
            }
            byte[] out = new byte[(int) size.get()];
            bin.get(out);
            return out;
        } finally {
            nvrtc.nvrtcDestroyProgram(prog);
        }
    }

    String arch() {
        return arch;
    }

    /**
     * Launches {@code name} over {@code total} elements with the given arguments (JavaCPP pointers to
     * values); {@code before} (may be null) is the work queued before it, for the error message.
     */
    void launch(String name, long total, CUstream_st stream, String before, Pointer... args) {
        try {
            if (total <= 0) {
                return;
            }
            int blocks = (int) Math.min(MAX_BLOCKS, (total + BLOCK - 1) / BLOCK);
            try (PointerPointer<Pointer> params = new PointerPointer<>(args)) {
                Cuda.checkDriver(cudart.cuLaunchKernel(functions.get(name), blocks, 1, 1, BLOCK, 1, 1, 0, stream, params,
                        (PointerPointer<?>) null), "cuLaunchKernel(" + name + ", " + blocks + "x" + BLOCK + " threads)", before);
            }
        } finally {
            for (Pointer a : args) {
                a.close(); // cuLaunchKernel copied the values
            }
        }
    }

    /**
     * Launches {@code name} on a grid of {@code gridX × gridY} blocks of {@code threads} threads (kernels
     * that give a block its own row or (token, head), with reductions in shared memory).
     */
    void launchGrid(String name, int gridX, int gridY, int threads, CUstream_st stream, String before,
                    Pointer... args) {
        try {
            if (gridX <= 0 || gridY <= 0) {
                return;
            }
            try (PointerPointer<Pointer> params = new PointerPointer<>(args)) {
                Cuda.checkDriver(cudart.cuLaunchKernel(functions.get(name), gridX, gridY, 1, threads, 1, 1, 0, stream,
                        params, (PointerPointer<?>) null), "cuLaunchKernel(" + name + ", " + gridX + "x" + gridY
                        + " blocks of " + threads + " threads)", before);
            }
        } finally {
            for (Pointer a : args) {
                a.close();
            }
        }
    }

    /** A kernel argument holding the device address of the tensor's first element. */
    static LongPointer ptr(Tensor t) {
        return new LongPointer(1).put(DevicePointers.address(t));
    }

    static IntPointer i32(int v) {
        return new IntPointer(1).put(v);
    }

    static LongPointer i64(long v) {
        return new LongPointer(1).put(v);
    }

    static FloatPointer f32(float v) {
        return new FloatPointer(1).put(v);
    }

    @Override
    public void close() {
        Cuda.checkDriver(cudart.cuModuleUnload(module), "cuModuleUnload(" + arch + " kernels)");
    }
}
