package dev.tp4j.backend.cuda;

import static org.bytedeco.cuda.global.cublas.CUBLAS_DEFAULT_MATH;
import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_N;
import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_T;
import static org.bytedeco.cuda.global.cublas.CUBLAS_TF32_TENSOR_OP_MATH;

import dev.tp4j.backend.Backend;
import dev.tp4j.backend.Activation;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Device;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * A GPU rank: tensors in device memory ({@code cudaMalloc}), one non-blocking stream, fp32 GEMMs through
 * {@code cublasSgemm} (TF32 tensor cores when asked), bias and activations through tp4j's NVRTC-compiled
 * kernels ({@link CudaKernels}), host copies through a pinned staging buffer.
 *
 * <p>Row-major {@code y = x·wᵀ} is computed as the column-major product {@code yᵀ = w·xᵀ}:
 * {@code cublasSgemm(OP_T, OP_N, n, m, k, 1, w, ldw, x, ldx, beta, y, ldy)}, so no transposes are copied
 * and column windows (ld &gt; cols) are used in place.
 *
 * <p>Calls are asynchronous on the rank's stream except the host copies, which wait for their data.
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
    private final CudaKernels kernels;
    private final FloatPointer one = new FloatPointer(1).put(1f);
    private final FloatPointer zero = new FloatPointer(1).put(0f);
    private Pointer staging;
    private long stagingBytes;
    private boolean closed;

    /**
     * Opens device {@code info.index()}: context, stream, cuBLAS handle, kernels. Call only when
     * {@link CudaAvailability#usable()}.
     */
    public CudaBackend(CudaDeviceInfo info, boolean tf32) {
        this.info = info;
        this.device = Device.cuda(info.index());
        this.tf32 = tf32;
        Cuda.check(cudart.cudaSetDevice(info.index()), "cudaSetDevice(" + info.index() + ")");
        Cuda.check(cudart.cudaFree(null), "cudaFree(0) (creating the context on cuda:" + info.index() + ")");
        Cuda.check(cudart.cudaStreamCreateWithFlags(stream, cudart.cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
        Cuda.checkBlas(cublas.cublasCreate_v2(handle), "cublasCreate");
        Cuda.checkBlas(cublas.cublasSetStream_v2(handle, stream), "cublasSetStream");
        Cuda.checkBlas(cublas.cublasSetMathMode(handle, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH),
                "cublasSetMathMode");
        this.kernels = new CudaKernels(info);
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

    @Override
    public Tensor allocate(Shape shape, DType dtype) {
        current();
        long bytes = Math.max(1, Math.multiplyExact(shape.numel(), dtype.byteSize()));
        DeviceMemory memory = new DeviceMemory(bytes, device);
        Cuda.check(cudart.cudaMemsetAsync(memory, 0, bytes, stream), "cudaMemsetAsync");
        Cuda.check(cudart.cudaStreamSynchronize(stream), "cudaStreamSynchronize");
        return Tensor.wrap(memory, shape, dtype, device);
    }

    /** Weights read on the host: one copy straight from the host tensor's memory, which is then released. */
    @Override
    public Tensor adopt(Tensor host) {
        try (host) {
            if (!host.device().isCpu() || !host.isContiguous() || host.dtype() != DType.F32) {
                throw new IllegalArgumentException("adopt takes a contiguous host F32 tensor, not " + host);
            }
            Tensor onDevice = allocate(host.shape(), DType.F32);
            if (host.numel() > 0) {
                Cuda.check(cudart.cudaMemcpyAsync(onDevice.floatPointer(), host.floatPointer(), host.byteSize(),
                        cudart.cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync(weights → " + device + ")");
                Cuda.check(cudart.cudaStreamSynchronize(stream), "cudaStreamSynchronize");
            }
            return onDevice;
        }
    }

    @Override
    public void copyFromHost(float[] src, Tensor dst) {
        requireHere(dst);
        if (src.length != dst.numel()) {
            throw new IllegalArgumentException(src.length + " floats for " + dst);
        }
        if (src.length == 0) {
            return;
        }
        current();
        FloatPointer host = new FloatPointer(staging((long) src.length * Float.BYTES));
        host.put(src, 0, src.length);
        int rows = rowsOf(dst);
        int cols = colsOf(dst);
        if (dst.isContiguous()) {
            Cuda.check(cudart.cudaMemcpyAsync(dst.floatPointer(), host, (long) src.length * Float.BYTES,
                    cudart.cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync(host → " + device + ")");
        } else {
            Cuda.check(cudart.cudaMemcpy2DAsync(dst.floatPointer(), (long) dst.rowStride() * Float.BYTES, host,
                    (long) cols * Float.BYTES, (long) cols * Float.BYTES, rows, cudart.cudaMemcpyHostToDevice, stream),
                    "cudaMemcpy2DAsync(host → " + device + ")");
        }
        // The staging buffer is reused: wait until the copy has read it.
        Cuda.check(cudart.cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    }

    @Override
    public float[] copyToHost(Tensor src) {
        if (src.device().isCpu()) {
            return src.toFloatArray();
        }
        requireHere(src);
        float[] out = new float[Math.toIntExact(src.numel())];
        if (out.length == 0) {
            return out;
        }
        current();
        FloatPointer host = new FloatPointer(staging((long) out.length * Float.BYTES));
        int rows = rowsOf(src);
        int cols = colsOf(src);
        if (src.isContiguous()) {
            Cuda.check(cudart.cudaMemcpyAsync(host, src.floatPointer(), (long) out.length * Float.BYTES,
                    cudart.cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync(" + device + " → host)");
        } else {
            Cuda.check(cudart.cudaMemcpy2DAsync(host, (long) cols * Float.BYTES, src.floatPointer(),
                    (long) src.rowStride() * Float.BYTES, (long) cols * Float.BYTES, rows, cudart.cudaMemcpyDeviceToHost,
                    stream), "cudaMemcpy2DAsync(" + device + " → host)");
        }
        Cuda.check(cudart.cudaStreamSynchronize(stream), "cudaStreamSynchronize");
        host.get(out, 0, out.length);
        return out;
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        requireHere(src);
        requireHere(dst);
        if (!src.shape().equals(dst.shape())) {
            throw new IllegalArgumentException("shapes differ: " + src.shape() + " vs " + dst.shape());
        }
        if (src.numel() == 0) {
            return;
        }
        current();
        int cols = colsOf(src);
        if (src.isContiguous() && dst.isContiguous()) {
            Cuda.check(cudart.cudaMemcpyAsync(dst.floatPointer(), src.floatPointer(), src.byteSize(),
                    cudart.cudaMemcpyDeviceToDevice, stream), "cudaMemcpyAsync(device → device)");
            return;
        }
        Cuda.check(cudart.cudaMemcpy2DAsync(dst.floatPointer(), (long) strideOf(dst) * Float.BYTES, src.floatPointer(),
                (long) strideOf(src) * Float.BYTES, (long) cols * Float.BYTES, rowsOf(src),
                cudart.cudaMemcpyDeviceToDevice, stream), "cudaMemcpy2DAsync(device → device)");
    }

    @Override
    public void linear(Tensor x, Tensor w, Tensor bias, Tensor y) {
        requireHere(x);
        requireHere(w);
        requireHere(y);
        int m = x.rows();
        int k = x.cols();
        int n = w.rows();
        if (w.cols() != k || y.rows() != m || y.cols() != n) {
            throw new IllegalArgumentException("linear: x" + x.shape() + " · w" + w.shape() + "ᵀ → y" + y.shape());
        }
        if (m == 0 || n == 0) {
            return;
        }
        current();
        FloatPointer beta = zero;
        if (bias != null) {
            requireHere(bias);
            checkBias(bias, n);
            // Seed y with the bias rows and accumulate the product onto them (beta = 1), as the CPU rank does.
            kernels.launch(CudaKernels.BROADCAST_ROWS, (long) m * n, stream, CudaKernels.ptr(y.floatPointer()),
                    CudaKernels.ptr(bias.floatPointer()), CudaKernels.i32(m), CudaKernels.i32(n),
                    CudaKernels.i32(y.rowStride()));
            beta = one;
        }
        if (k == 0) {
            if (bias == null) {
                fill(y, 0f);
            }
            return;
        }
        Cuda.checkBlas(cublas.cublasSgemm_v2(handle, CUBLAS_OP_T, CUBLAS_OP_N, n, m, k, one,
                w.floatPointer(), w.rowStride(), x.floatPointer(), x.rowStride(), beta, y.floatPointer(), y.rowStride()),
                "cublasSgemm(" + m + "x" + n + "x" + k + ")");
    }

    @Override
    public void addBias(Tensor y, Tensor bias) {
        requireHere(y);
        requireHere(bias);
        checkBias(bias, colsOf(y));
        current();
        kernels.launch(CudaKernels.ADD_BIAS, y.numel(), stream, CudaKernels.ptr(y.floatPointer()),
                CudaKernels.ptr(bias.floatPointer()), CudaKernels.i32(rowsOf(y)), CudaKernels.i32(colsOf(y)),
                CudaKernels.i32(strideOf(y)));
    }

    @Override
    public void activate(Activation act, Tensor x) {
        requireHere(x);
        current();
        kernels.launch(CudaKernels.ACTIVATE, x.numel(), stream, CudaKernels.ptr(x.floatPointer()),
                CudaKernels.i32(rowsOf(x)), CudaKernels.i32(colsOf(x)), CudaKernels.i32(strideOf(x)),
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
        kernels.launch(CudaKernels.GATED_ACTIVATE, gate.numel(), stream, CudaKernels.ptr(gate.floatPointer()),
                CudaKernels.ptr(up.floatPointer()), CudaKernels.i32(rowsOf(gate)), CudaKernels.i32(colsOf(gate)),
                CudaKernels.i32(strideOf(gate)), CudaKernels.i32(strideOf(up)),
                CudaKernels.i32(CudaKernels.activationCode(act)));
    }

    @Override
    public void synchronize() {
        current();
        Cuda.check(cudart.cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    }

    @Override
    public String describe() {
        return "cuBLAS " + CudaAvailability.get().cublasVersion() + " on " + info + ", "
                + (tf32 ? "TF32 tensor cores" : "fp32") + ", kernels for " + kernels.arch();
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        current();
        cudart.cudaStreamSynchronize(stream);
        kernels.close();
        cublas.cublasDestroy_v2(handle);
        cudart.cudaStreamDestroy(stream);
        if (staging != null) {
            cudart.cudaFreeHost(staging);
            staging = null;
        }
    }

    private void fill(Tensor t, float value) {
        kernels.launch(CudaKernels.FILL, t.numel(), stream, CudaKernels.ptr(t.floatPointer()),
                CudaKernels.i32(rowsOf(t)), CudaKernels.i32(colsOf(t)), CudaKernels.i32(strideOf(t)),
                CudaKernels.f32(value));
    }

    /** The pinned host buffer, grown to at least {@code bytes}. */
    private Pointer staging(long bytes) {
        if (staging == null || stagingBytes < bytes) {
            if (staging != null) {
                Cuda.check(cudart.cudaFreeHost(staging), "cudaFreeHost");
            }
            long size = Math.max(bytes, 1 << 20);
            Pointer p = new Pointer();
            Cuda.check(cudart.cudaMallocHost(p, size), "cudaMallocHost(" + size + " bytes of pinned memory)");
            staging = p;
            stagingBytes = size;
        }
        return staging;
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

    private static int rowsOf(Tensor t) {
        return t.shape().rank() < 2 ? 1 : t.rows();
    }

    private static int colsOf(Tensor t) {
        return t.shape().rank() < 2 ? Math.toIntExact(t.numel()) : t.cols();
    }

    private static int strideOf(Tensor t) {
        return t.shape().rank() < 2 ? Math.toIntExact(Math.max(1, t.numel())) : t.rowStride();
    }

    private static void checkBias(Tensor bias, int cols) {
        if (bias.numel() != cols) {
            throw new IllegalArgumentException("bias " + bias.shape() + " for " + cols + " output columns");
        }
    }

    /** Device memory from {@code cudaMalloc}, freed by {@code cudaFree} when its tensor is closed. */
    static final class DeviceMemory extends Pointer {
        DeviceMemory(long bytes, Device device) {
            Cuda.check(cudart.cudaMalloc(this, bytes), "cudaMalloc(" + bytes + " bytes on " + device + ")");
            Pointer freeMe = new Pointer(this);
            // Registered while the capacity is still 0, so that JavaCPP does not count device memory
            // against its host-memory limit (maxBytes).
            deallocator(() -> cudart.cudaFree(freeMe));
            this.capacity = bytes;
            this.limit = bytes;
        }
    }
}
