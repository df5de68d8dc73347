package dev.tp4j.backend.cuda;

import static org.bytedeco.cuda.global.cublas.CUBLAS_DEFAULT_MATH;
import static org.bytedeco.cuda.global.cublas.CUBLAS_GEMM_DEFAULT;
import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_N;
import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_T;
import static org.bytedeco.cuda.global.cublas.CUBLAS_TF32_TENSOR_OP_MATH;

import dev.tp4j.backend.Backend;
import dev.tp4j.backend.Activation;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Device;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.Map;
import java.util.Set;
import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.cuda.cudart.CUmemPoolHandle_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * A GPU rank: tensors in device memory ({@code cudaMalloc}), one non-blocking stream, fp32 GEMMs through
 * {@code cublasSgemm} (TF32 tensor cores when asked), bias and activations through tp4j's NVRTC-compiled
 * kernels ({@link CudaKernels}), memory and copies through {@link DeviceTensors} (stream-ordered pool,
 * pinned staging buffer).
 *
 * <p>Row-major {@code y = x·wᵀ} is computed as the column-major product {@code yᵀ = w·xᵀ}:
 * {@code cublasSgemm(OP_T, OP_N, n, m, k, 1, w, ldw, x, ldx, beta, y, ldy)}, so no transposes are copied
 * and column windows (ld &gt; cols) are used in place.
 *
 * <p>Calls are asynchronous on the rank's stream except the copies to and from Java arrays, which wait
 * for their data. Pointers follow the parameter's C type ({@link DevicePointers}): byte-positioned for
 * {@code void*}, float-positioned only for cuBLAS's typed {@code float*}.
 *
 * <p><b>Not yet validated on a GPU</b>: it compiles and its CPU-checkable parts are tested, but no CUDA
 * device was available to the task that wrote it. See docs/gpu-validation.md.
 */
public final class CudaBackend implements Backend {
    private final CudaDeviceInfo info;
    private final Device device;
    private final boolean tf32;
    private final CUstream_st stream = new CUstream_st();
    private final cublasContext handle = new cublasContext();
    private final Stream calls;
    private final DeviceTensors tensors;
    private final CudaKernels kernels;
    private final FloatPointer one = new FloatPointer(1).put(1f);
    private final FloatPointer zero = new FloatPointer(1).put(0f);
    /** Per half dtype, the rounded copy of a GEMM's x (grown, never shrunk). */
    private final Map<DType, Tensor> halfScratch = new EnumMap<>(DType.class);
    /** The embedding's token rows on the device (grown, never shrunk). */
    private Tensor tokenRows;
    /** The rotary frequencies last used, and their device copy: every layer of a model uses the same ones. */
    private float[] invFreqHost;
    private Tensor invFreqDevice;
    private boolean closed;

    /**
     * Opens device {@code info.index()}: context, stream, memory pool, cuBLAS handle, kernels. Call only
     * when {@link CudaAvailability#usable()}.
     */
    public CudaBackend(CudaDeviceInfo info, boolean tf32) {
        this.info = info;
        this.device = Device.cuda(info.index());
        this.tf32 = tf32;
        Cuda.check(cudart.cudaSetDevice(info.index()), "cudaSetDevice(" + info.index() + ")");
        Cuda.check(cudart.cudaFree(null), "cudaFree(0) (creating the context on cuda:" + info.index() + ")");
        Cuda.check(cudart.cudaStreamCreateWithFlags(stream, cudart.cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
        this.calls = new Stream(info.index(), stream, pooled(info.index()));
        this.tensors = new DeviceTensors(calls, device);
        Cuda.checkBlas(cublas.cublasCreate_v2(handle), "cublasCreate");
        Cuda.checkBlas(cublas.cublasSetStream_v2(handle, stream), "cublasSetStream");
        Cuda.checkBlas(cublas.cublasSetMathMode(handle, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH),
                "cublasSetMathMode");
        this.kernels = new CudaKernels(info);
    }

    /**
     * Whether the device has stream-ordered memory pools; if so its default pool keeps freed memory
     * (release threshold UINT64_MAX) instead of returning it to the driver at every synchronisation,
     * which would make each {@code cudaMallocAsync} after a sync as slow as a {@code cudaMalloc}.
     */
    private static boolean pooled(int index) {
        int[] supported = {0};
        Cuda.check(cudart.cudaDeviceGetAttribute(supported, cudart.cudaDevAttrMemoryPoolsSupported, index),
                "cudaDeviceGetAttribute(cudaDevAttrMemoryPoolsSupported)");
        if (supported[0] == 0) {
            return false;
        }
        CUmemPoolHandle_st pool = new CUmemPoolHandle_st();
        Cuda.check(cudart.cudaDeviceGetDefaultMemPool(pool, index), "cudaDeviceGetDefaultMemPool(" + index + ")");
        try (LongPointer threshold = new LongPointer(1).put(-1L)) { // UINT64_MAX
            Cuda.check(cudart.cudaMemPoolSetAttribute(pool, cudart.cudaMemPoolAttrReleaseThreshold, threshold),
                    "cudaMemPoolSetAttribute(cudaMemPoolAttrReleaseThreshold)");
        }
        return true;
    }

    @Override
    public Device device() {
        return device;
    }

    /** The rank's stream (collectives on the same device run on it). */
    public CUstream_st stream() {
        return stream;
    }

    public boolean tf32() {
        return tf32;
    }

    /** What was last queued on the stream (for error messages of work that fails later). */
    public String lastQueued() {
        return calls.lastQueued;
    }

    /** Records {@code what} as the latest work on the stream, before it is queued. */
    public void queued(String what) {
        calls.lastQueued = what;
    }

    @Override
    public Tensor allocate(Shape shape, DType dtype) {
        current();
        return tensors.allocate(shape, dtype);
    }

    /** Weights read on the host: one copy straight from the host tensor's memory, which is then released. */
    @Override
    public Tensor adopt(Tensor host) {
        try (host) {
            if (host.dtype() != DType.F32) {
                throw new IllegalArgumentException("adopt takes a host F32 tensor, not " + host);
            }
            current();
            return tensors.adopt(host);
        }
    }

    @Override
    public void copyFromHost(float[] src, Tensor dst) {
        requireHere(dst);
        current();
        tensors.copyFromHost(src, dst);
    }

    @Override
    public float[] copyToHost(Tensor src) {
        if (src.device().isCpu()) {
            return src.toFloatArray();
        }
        requireHere(src);
        current();
        return tensors.copyToHost(src);
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        requireHere(src);
        requireHere(dst);
        if (!src.shape().equals(dst.shape())) {
            throw new IllegalArgumentException("shapes differ: " + src.shape() + " vs " + dst.shape());
        }
        current();
        tensors.copy(src, dst);
    }

    @Override
    public void linear(Tensor x, Tensor w, Tensor bias, Tensor y) {
        requireHere(x);
        requireWeight(w);
        requireHere(y);
        GemmCall call = GemmCall.of(x, w, y);
        int m = call.m();
        int n = call.n();
        int k = call.k();
        if (m == 0 || n == 0) {
            return;
        }
        current();
        FloatPointer beta = zero;
        if (bias != null) {
            requireHere(bias);
            checkBias(bias, n);
            // Seed y with the bias rows and accumulate the product onto them (beta = 1), as the CPU rank does.
            launch(CudaKernels.BROADCAST_ROWS, y, (long) m * n, CudaKernels.ptr(y), CudaKernels.ptr(bias),
                    CudaKernels.i32(m), CudaKernels.i32(n), CudaKernels.i32(y.rowStride()));
            beta = one;
        }
        if (k == 0) {
            if (bias == null) {
                fill(y, 0f);
            }
            return;
        }
        String gemm = call.describe(w.dtype(), tf32);
        if (!call.convertX()) {
            // cublasSgemm's matrices are typed float*: float-positioned pointers (DevicePointers.floats).
            String before = calls.lastQueued;
            calls.lastQueued = gemm;
            Cuda.checkBlas(cublas.cublasSgemm_v2(handle, CUBLAS_OP_T, CUBLAS_OP_N, n, m, k, one,
                    DevicePointers.floats(w), call.ldw(), DevicePointers.floats(x), call.ldx(), beta,
                    DevicePointers.floats(y), call.ldy()), gemm, before);
            return;
        }
        // Half-precision weights: x rounded into a contiguous [m, k] copy of w's dtype (reused: the GEMM that
        // reads it is queued before any later conversion can overwrite it), then cublasGemmEx, whose matrices
        // and scalars are void*: byte-positioned pointers; alpha and beta are floats (CUBLAS_COMPUTE_32F).
        Tensor xh = halfScratch(w.dtype(), (long) m * k).slice(0, (long) m * k);
        launch(CudaKernels.F32_TO_HALF, x, (long) m * k, CudaKernels.ptr(x), CudaKernels.i32(x.rowStride()),
                CudaKernels.ptr(xh), CudaKernels.i32(m), CudaKernels.i32(k),
                CudaKernels.i32(CudaKernels.halfFormat(w.dtype())));
        String before = calls.lastQueued;
        calls.lastQueued = gemm;
        Cuda.checkBlas(cublas.cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, n, m, k, one,
                DevicePointers.bytes(w), call.aType(), call.ldw(), DevicePointers.bytes(xh), call.bType(), call.ldx(),
                beta, DevicePointers.bytes(y), call.cType(), call.ldy(), call.computeType(), CUBLAS_GEMM_DEFAULT),
                gemm, before);
    }

    @Override
    public Set<DType> weightDTypes() {
        return Set.of(DType.F32, DType.BF16, DType.F16);
    }

    /**
     * F32 weights as {@link #adopt}; BF16/F16 weights copied to the device in F32 and rounded there into a
     * tensor of {@code storage} (the F32 copy freed in stream order), so that weights read from a
     * half-precision checkpoint take the device memory of their own dtype.
     */
    @Override
    public Tensor adoptWeight(Tensor host, DType storage) {
        if (storage == DType.F32) {
            return adopt(host);
        }
        try (host) {
            if (!weightDTypes().contains(storage)) {
                throw new IllegalArgumentException("weights in " + storage + ": the CUDA backend keeps F32, BF16 or F16");
            }
            if (host.dtype() != DType.F32) {
                throw new IllegalArgumentException("adoptWeight takes a host F32 tensor, not " + host);
            }
            current();
            Tensor stored = tensors.allocate(host.shape(), storage);
            if (host.numel() > 0) {
                try (Tensor f32 = tensors.adopt(host)) {
                    int rows = DeviceCopies.rows(f32);
                    int cols = DeviceCopies.cols(f32);
                    launch(CudaKernels.F32_TO_HALF, f32, f32.numel(), CudaKernels.ptr(f32), CudaKernels.i32(cols),
                            CudaKernels.ptr(stored), CudaKernels.i32(rows), CudaKernels.i32(cols),
                            CudaKernels.i32(CudaKernels.halfFormat(storage)));
                }
            }
            return stored;
        }
    }

    @Override
    public void addBias(Tensor y, Tensor bias) {
        requireHere(y);
        requireHere(bias);
        checkBias(bias, DeviceCopies.cols(y));
        current();
        launch(CudaKernels.ADD_BIAS, y, y.numel(), CudaKernels.ptr(y), CudaKernels.ptr(bias),
                CudaKernels.i32(DeviceCopies.rows(y)), CudaKernels.i32(DeviceCopies.cols(y)),
                CudaKernels.i32(DeviceCopies.stride(y)));
    }

    @Override
    public void activate(Activation act, Tensor x) {
        requireHere(x);
        current();
        launch(CudaKernels.ACTIVATE, x, x.numel(), CudaKernels.ptr(x), CudaKernels.i32(DeviceCopies.rows(x)),
                CudaKernels.i32(DeviceCopies.cols(x)), CudaKernels.i32(DeviceCopies.stride(x)),
                CudaKernels.i32(CudaKernels.activationCode(act)));
    }

    @Override
    public void gatedActivate(Activation act, Tensor gate, Tensor up) {
        requireHere(gate);
        requireHere(up);
        if (!gate.shape().equals(up.shape())) {
            throw new IllegalArgumentException("shapes differ: " + gate.shape() + " vs " + up.shape());
        }
        current();
        launch(CudaKernels.GATED_ACTIVATE, gate, gate.numel(), CudaKernels.ptr(gate), CudaKernels.ptr(up),
                CudaKernels.i32(DeviceCopies.rows(gate)), CudaKernels.i32(DeviceCopies.cols(gate)),
                CudaKernels.i32(DeviceCopies.stride(gate)), CudaKernels.i32(DeviceCopies.stride(up)),
                CudaKernels.i32(CudaKernels.activationCode(act)));
    }

    /**
     * The table may be F32, BF16 or F16 (a vocab-parallel block kept as the checkpoint stores it, the tied LM
     * head's weight too). The ids become this rank's table rows (−1 outside its block) on the host, sent as
     * floats (exact: rows below 2²⁴ are checked).
     */
    @Override
    public void embedding(Tensor table, int[] ids, long firstId, Tensor out) {
        requireWeight(table);
        requireHere(out);
        int hidden = DeviceCopies.cols(out);
        int rows = DeviceCopies.rows(table);
        if (DeviceCopies.cols(table) != hidden || DeviceCopies.rows(out) != ids.length) {
            throw new IllegalArgumentException("embedding: table " + table.shape() + ", " + ids.length + " ids -> out "
                    + out.shape());
        }
        if (rows >= 1 << 24) {
            throw new IllegalArgumentException("embedding: a block of " + rows + " rows; the kernel takes fewer than 2^24");
        }
        if (ids.length == 0) {
            return;
        }
        current();
        float[] local = new float[ids.length];
        for (int t = 0; t < ids.length; t++) {
            long row = ids[t] - firstId;
            local[t] = row >= 0 && row < rows ? row : -1f;
        }
        if (tokenRows == null || tokenRows.numel() < ids.length) {
            if (tokenRows != null) {
                tokenRows.close();
            }
            tokenRows = tensors.allocate(Shape.of(Math.max(ids.length, 256)), DType.F32);
        }
        Tensor rowsNow = tokenRows.slice(0, ids.length);
        tensors.copyFromHost(local, rowsNow);
        launch(CudaKernels.EMBEDDING, out, out.numel(), CudaKernels.ptr(table),
                CudaKernels.i32(CudaKernels.storedFormat(table.dtype())), CudaKernels.i32(DeviceCopies.stride(table)),
                CudaKernels.ptr(rowsNow), CudaKernels.i32(ids.length), CudaKernels.i32(hidden), CudaKernels.ptr(out),
                CudaKernels.i32(DeviceCopies.stride(out)));
    }

    /** One block of {@link CudaKernels#ROW_THREADS} per row, the sum of squares reduced in shared memory. */
    @Override
    public void rmsNorm(Tensor x, Tensor weight, float eps, Tensor y) {
        requireHere(x);
        requireHere(weight);
        requireHere(y);
        int n = DeviceCopies.cols(x);
        int rows = DeviceCopies.rows(x);
        if (weight.numel() != n || DeviceCopies.rows(y) != rows || DeviceCopies.cols(y) != n) {
            throw new IllegalArgumentException("rmsNorm: x " + x.shape() + ", weight " + weight.shape() + " -> y " + y.shape());
        }
        current();
        launchGrid(CudaKernels.RMSNORM, x, Math.min(rows, 65535), 1, CudaKernels.ptr(x),
                CudaKernels.i32(DeviceCopies.stride(x)), CudaKernels.ptr(weight), CudaKernels.f32(eps), CudaKernels.ptr(y),
                CudaKernels.i32(DeviceCopies.stride(y)), CudaKernels.i32(rows), CudaKernels.i32(n));
    }

    @Override
    public void rotary(Tensor x, int headDim, float[] invFreq, int firstPosition) {
        requireHere(x);
        int cols = DeviceCopies.cols(x);
        if (headDim <= 0 || headDim % 2 != 0 || cols % headDim != 0 || invFreq.length != headDim / 2) {
            throw new IllegalArgumentException("rotary: x " + x.shape() + ", head_dim " + headDim + ", "
                    + invFreq.length + " frequencies");
        }
        current();
        Tensor freq = deviceFrequencies(invFreq);
        launch(CudaKernels.ROTARY, x, (long) DeviceCopies.rows(x) * (cols / 2), CudaKernels.ptr(x),
                CudaKernels.i32(DeviceCopies.stride(x)), CudaKernels.i32(DeviceCopies.rows(x)),
                CudaKernels.i32(cols / headDim), CudaKernels.i32(headDim), CudaKernels.ptr(freq),
                CudaKernels.i32(firstPosition));
    }

    /** One block per (query token, query head); heads up to {@link CudaKernels#MAX_HEAD_DIM} wide. */
    @Override
    public void attention(Tensor q, Tensor keys, Tensor values, int headDim, int firstPosition, float scale,
                          Tensor out) {
        requireHere(q);
        requireHere(keys);
        requireHere(values);
        requireHere(out);
        int tokens = DeviceCopies.rows(q);
        int qCols = DeviceCopies.cols(q);
        int kvCols = DeviceCopies.cols(keys);
        int positions = firstPosition + tokens;
        int qHeads = headDim <= 0 ? 0 : qCols / headDim;
        int kvHeads = headDim <= 0 ? 0 : kvCols / headDim;
        if (headDim <= 0 || qCols % headDim != 0 || kvCols % headDim != 0 || !values.shape().equals(keys.shape())
                || DeviceCopies.stride(values) != DeviceCopies.stride(keys) || kvHeads == 0 || qHeads % kvHeads != 0
                || DeviceCopies.rows(keys) < positions || DeviceCopies.rows(out) != tokens || DeviceCopies.cols(out) != qCols
                || firstPosition < 0) {
            throw new IllegalArgumentException("attention: q " + q.shape() + ", keys " + keys.shape() + ", values "
                    + values.shape() + ", head_dim " + headDim + ", first position " + firstPosition + " -> out "
                    + out.shape());
        }
        if (headDim > CudaKernels.MAX_HEAD_DIM || qHeads > 65535) {
            throw new IllegalArgumentException("attention: head_dim " + headDim + " and " + qHeads + " heads; the CUDA "
                    + "kernel takes head_dim up to " + CudaKernels.MAX_HEAD_DIM + " and up to 65535 heads");
        }
        current();
        launchGrid(CudaKernels.ATTENTION, out, tokens, qHeads, CudaKernels.ptr(q), CudaKernels.i32(DeviceCopies.stride(q)),
                CudaKernels.ptr(keys), CudaKernels.ptr(values), CudaKernels.i32(DeviceCopies.stride(keys)),
                CudaKernels.i32(qHeads), CudaKernels.i32(kvHeads), CudaKernels.i32(headDim),
                CudaKernels.i32(firstPosition), CudaKernels.f32(scale), CudaKernels.ptr(out),
                CudaKernels.i32(DeviceCopies.stride(out)));
    }

    @Override
    public void add(Tensor a, Tensor b) {
        requireHere(a);
        requireHere(b);
        if (!a.shape().equals(b.shape())) {
            throw new IllegalArgumentException("add: " + a.shape() + " + " + b.shape());
        }
        current();
        launch(CudaKernels.ADD, a, a.numel(), CudaKernels.ptr(a), CudaKernels.i32(DeviceCopies.stride(a)),
                CudaKernels.ptr(b), CudaKernels.i32(DeviceCopies.stride(b)), CudaKernels.i32(DeviceCopies.rows(a)),
                CudaKernels.i32(DeviceCopies.cols(a)));
    }

    @Override
    public boolean hasDecoderOps() {
        return true;
    }

    @Override
    public void synchronize() {
        current();
        calls.synchronize("Backend.synchronize");
    }

    @Override
    public String describe() {
        return "cuBLAS " + CudaAvailability.get().cublasVersion() + " on " + info + ", "
                + (tf32 ? "TF32 tensor cores" : "fp32") + ", kernels for " + kernels.arch()
                + (calls.pooled ? "" : ", no memory pools (cudaMalloc per tensor)");
    }

    /**
     * Waits for the stream, releases the cuBLAS handle, kernels, staging buffer and stream; every status
     * is checked and the first failure is thrown after everything else was released.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        CudaException first = null;
        try {
            Cuda.check(cudart.cudaSetDevice(info.index()), "cudaSetDevice(" + info.index() + ")");
            calls.synchronize("closing the backend");
        } catch (CudaException e) {
            first = e;
        }
        for (Tensor t : halfScratch.values()) {
            t.close();
        }
        halfScratch.clear();
        for (Tensor t : new Tensor[] {tokenRows, invFreqDevice}) {
            if (t != null) {
                t.close();
            }
        }
        tokenRows = invFreqDevice = null;
        try {
            kernels.close();
        } catch (CudaException e) {
            first = first == null ? e : first;
        }
        int b = cublas.cublasDestroy_v2(handle);
        if (b != cublas.CUBLAS_STATUS_SUCCESS && first == null) {
            first = new CudaException("cublasDestroy failed: " + cublas.cublasGetStatusName(b).getString());
        }
        try {
            tensors.close();
        } catch (CudaException e) {
            first = first == null ? e : first;
        }
        calls.closed = true; // tensors closed after this free with cudaFree (the stream is gone)
        int s = cudart.cudaStreamDestroy(stream);
        if (s != cudart.cudaSuccess && first == null) {
            first = new CudaException("cudaStreamDestroy failed: " + cudart.cudaGetErrorName(s).getString());
        }
        if (first != null) {
            throw first;
        }
    }

    private void fill(Tensor t, float value) {
        launch(CudaKernels.FILL, t, t.numel(), CudaKernels.ptr(t), CudaKernels.i32(DeviceCopies.rows(t)),
                CudaKernels.i32(DeviceCopies.cols(t)), CudaKernels.i32(DeviceCopies.stride(t)), CudaKernels.f32(value));
    }

    private void launchGrid(String kernel, Tensor on, int gridX, int gridY, Pointer... args) {
        String before = calls.lastQueued;
        calls.lastQueued = kernel + " on " + on.shape() + (on.isContiguous() ? "" : " (row stride " + on.rowStride() + ")");
        kernels.launchGrid(kernel, gridX, gridY, CudaKernels.ROW_THREADS, stream, before, args);
    }

    /** {@code invFreq} on the device: the copy of the last call when the values are the same. */
    private Tensor deviceFrequencies(float[] invFreq) {
        if (invFreqDevice == null || !Arrays.equals(invFreqHost, invFreq)) {
            if (invFreqDevice != null) {
                invFreqDevice.close();
            }
            invFreqDevice = tensors.allocate(Shape.of(invFreq.length), DType.F32);
            tensors.copyFromHost(invFreq, invFreqDevice);
            invFreqHost = invFreq.clone();
        }
        return invFreqDevice;
    }

    private void launch(String kernel, Tensor on, long total, Pointer... args) {
        String before = calls.lastQueued;
        String what = kernel + " on " + on.shape() + (on.isContiguous() ? "" : " (row stride " + on.rowStride() + ")");
        calls.lastQueued = what;
        kernels.launch(kernel, total, stream, before, args);
    }

    /** The CUDA context is per thread: make this device current for the calling thread. */
    private void current() {
        if (closed) {
            throw new IllegalStateException("CUDA backend on " + device + " was closed");
        }
        Cuda.check(cudart.cudaSetDevice(info.index()), "cudaSetDevice(" + info.index() + ")");
    }

    private void requireHere(Tensor t) {
        if (!t.device().equals(device)) {
            throw new IllegalArgumentException(t + " is not on " + device + " (this rank's device)");
        }
        if (t.dtype() != DType.F32) {
            throw new IllegalArgumentException(t + ": the CUDA backend computes in F32");
        }
    }

    private void requireWeight(Tensor w) {
        if (!w.device().equals(device)) {
            throw new IllegalArgumentException(w + " is not on " + device + " (this rank's device)");
        }
        if (!weightDTypes().contains(w.dtype())) {
            throw new IllegalArgumentException(w + ": the CUDA backend's weights are F32, BF16 or F16");
        }
    }

    private Tensor halfScratch(DType dtype, long numel) {
        Tensor t = halfScratch.get(dtype);
        if (t == null || t.numel() < numel) {
            if (t != null) {
                t.close();
            }
            t = tensors.allocate(Shape.of(numel), dtype);
            halfScratch.put(dtype, t);
        }
        return t;
    }

    private static void checkBias(Tensor bias, int cols) {
        if (bias.numel() != cols) {
            throw new IllegalArgumentException("bias " + bias.shape() + " for " + cols + " output columns");
        }
    }

    /** The runtime calls of {@link DeviceTensors} on this rank's stream, each checked and named. */
    static final class Stream implements DeviceTensors.StreamCalls {
        private final int index;
        private final CUstream_st stream;
        final boolean pooled;
        /** Read by error messages; written by the rank's thread before it queues work. */
        volatile String lastQueued;
        /** Set when the stream is destroyed: later frees (tensors closed after the backend) use cudaFree. */
        volatile boolean closed;

        Stream(int index, CUstream_st stream, boolean pooled) {
            this.index = index;
            this.stream = stream;
            this.pooled = pooled;
        }

        @Override
        public Pointer malloc(long bytes) {
            Pointer p = new Pointer();
            String call = (pooled ? "cudaMallocAsync(" : "cudaMalloc(") + bytes + " bytes on cuda:" + index + ")";
            Cuda.check(pooled ? cudart.cudaMallocAsync(p, bytes, stream) : cudart.cudaMalloc(p, bytes), call, lastQueued);
            return p;
        }

        @Override
        public synchronized void free(Pointer memory) {
            // Also reached from JavaCPP's deallocator thread for a tensor nobody closed: set the device.
            cudart.cudaSetDevice(index);
            int status = !closed && pooled ? cudart.cudaFreeAsync(memory, stream) : cudart.cudaFree(memory);
            if (status != cudart.cudaSuccess && status != cudart.cudaErrorCudartUnloading) {
                Cuda.check(status, (closed || !pooled ? "cudaFree" : "cudaFreeAsync") + " on cuda:" + index, lastQueued);
            }
        }

        @Override
        public void memset(Pointer dst, int value, long bytes) {
            String before = lastQueued;
            lastQueued = "cudaMemsetAsync(" + bytes + " bytes)";
            Cuda.check(cudart.cudaMemsetAsync(dst, value, bytes, stream), lastQueued, before);
        }

        @Override
        public void copy(Pointer dst, Pointer src, long bytes, DeviceCopies.Kind kind) {
            String before = lastQueued;
            lastQueued = "cudaMemcpyAsync(" + bytes + " bytes, " + kind.label + ")";
            Cuda.check(cudart.cudaMemcpyAsync(dst, src, bytes, kind.cuda, stream), lastQueued, before);
        }

        @Override
        public void copy2D(Pointer dst, long dstPitch, Pointer src, long srcPitch, long widthBytes, long rows,
                           DeviceCopies.Kind kind) {
            String before = lastQueued;
            lastQueued = "cudaMemcpy2DAsync(" + rows + " rows of " + widthBytes + " bytes, pitches " + dstPitch + "/"
                    + srcPitch + ", " + kind.label + ")";
            Cuda.check(cudart.cudaMemcpy2DAsync(dst, dstPitch, src, srcPitch, widthBytes, rows, kind.cuda, stream),
                    lastQueued, before);
        }

        @Override
        public Pointer mallocHost(long bytes) {
            Pointer p = new Pointer();
            Cuda.check(cudart.cudaMallocHost(p, bytes), "cudaMallocHost(" + bytes + " bytes of pinned memory)");
            return p;
        }

        @Override
        public void freeHost(Pointer memory) {
            Cuda.check(cudart.cudaFreeHost(memory), "cudaFreeHost", lastQueued);
        }

        @Override
        public void synchronize(String why) {
            Cuda.check(cudart.cudaStreamSynchronize(stream), "cudaStreamSynchronize (" + why + ")", lastQueued);
        }
    }
}
