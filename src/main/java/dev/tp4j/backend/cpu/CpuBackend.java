package dev.tp4j.backend.cpu;

import static org.bytedeco.openblas.global.openblas_nolapack.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasRowMajor;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_sgemm;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_sgemv;

import dev.tp4j.backend.Backend;
import dev.tp4j.backend.Activation;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Device;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.nio.FloatBuffer;
import org.bytedeco.openblas.global.openblas_nolapack;

/**
 * A CPU rank: host tensors, GEMMs through OpenBLAS's {@code cblas_sgemm} straight on the tensors'
 * off-heap memory (no copies in or out), pointwise work in plain Java over direct buffers.
 */
public final class CpuBackend implements Backend {
    private final int threads;
    /*
     * Pointwise work runs on heap chunks: bulk copies in and out of the direct buffers are memcpy, and
     * loops over a float[] are what the JIT vectorises. Reused across calls (a backend serves one
     * thread, its rank's), so the hot path allocates nothing.
     */
    private final float[] chunk = new float[4096];
    private final float[] chunkB = new float[4096];
    private final DecoderKernels kernels = new DecoderKernels();

    /** @param threads OpenBLAS threads for this rank: the cores divided among the ranks on this host */
    public CpuBackend(int threads) {
        this.threads = Math.max(1, threads);
        OpenBlas.setThreads(this.threads);
    }

    /** Threads for one of {@code localRanks} ranks sharing this host's cores. */
    public static int threadsPerRank(int localRanks) {
        return Math.max(1, Runtime.getRuntime().availableProcessors() / Math.max(1, localRanks));
    }

    @Override
    public Device device() {
        return Device.CPU;
    }

    @Override
    public Tensor allocate(Shape shape, DType dtype) {
        return Tensor.allocateHost(shape, dtype);
    }

    /** A CPU rank computes on host memory: the tensor is used where it lies. */
    @Override
    public Tensor adopt(Tensor host) {
        if (!host.device().isCpu()) {
            throw new IllegalArgumentException("adopt takes a host tensor, not " + host);
        }
        return host;
    }

    @Override
    public void copyFromHost(float[] src, Tensor dst) {
        if (src.length != dst.numel()) {
            throw new IllegalArgumentException(src.length + " floats for " + dst);
        }
        FloatBuffer out = dst.floatBuffer();
        if (dst.isContiguous()) {
            out.put(0, src);
            return;
        }
        int rows = dst.rows();
        int cols = dst.cols();
        int stride = dst.rowStride();
        for (int i = 0; i < rows; i++) {
            out.put(i * stride, src, i * cols, cols);
        }
    }

    @Override
    public float[] copyToHost(Tensor src) {
        return src.toFloatArray();
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        requireSameShape(src, dst);
        FloatBuffer in = src.floatBuffer();
        FloatBuffer out = dst.floatBuffer();
        if (src.shape().rank() < 2) {
            out.put(0, in, 0, Math.toIntExact(src.numel()));
            return;
        }
        int rows = src.rows();
        int cols = src.cols();
        for (int i = 0; i < rows; i++) {
            out.put(i * dst.rowStride(), in, i * src.rowStride(), cols);
        }
    }

    @Override
    public void linear(Tensor x, Tensor w, Tensor bias, Tensor y) {
        int m = x.rows();
        int k = x.cols();
        int n = w.rows();
        if (w.cols() != k || y.rows() != m || y.cols() != n) {
            throw new IllegalArgumentException("linear: x" + x.shape() + " · w" + w.shape() + "ᵀ → y" + y.shape());
        }
        if (m == 0 || n == 0) {
            return;
        }
        float beta = 0f;
        if (bias != null) {
            // Seed C with the bias rows and let the GEMM accumulate onto them (beta = 1): the bias
            // costs one pass over y instead of a second pass after the product.
            broadcastRows(bias, y);
            beta = 1f;
        }
        if (k == 0) {
            if (bias == null) {
                fill(y, 0f);
            }
            return;
        }
        if (m == 1) {
            // One token (a decode step): y = W·x is a matrix-vector product. sgemm would pack W (the whole
            // weight, the step's dominant memory traffic) before using it once; sgemv streams it once.
            cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, 1f, w.floatPointer(), w.rowStride(),
                    x.floatPointer(), 1, beta, y.floatPointer(), 1);
            return;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k,
                1f, x.floatPointer(), x.rowStride(), w.floatPointer(), w.rowStride(),
                beta, y.floatPointer(), y.rowStride());
    }

    @Override
    public void addBias(Tensor y, Tensor bias) {
        int rows = y.rows();
        int cols = y.cols();
        checkBias(bias, cols);
        FloatBuffer out = y.floatBuffer();
        FloatBuffer b = bias.floatBuffer();
        int stride = y.rowStride();
        for (int i = 0; i < rows; i++) {
            int base = i * stride;
            for (int j = 0; j < cols; j++) {
                out.put(base + j, out.get(base + j) + b.get(j));
            }
        }
    }

    @Override
    public void activate(Activation act, Tensor x) {
        FloatBuffer v = x.floatBuffer();
        forEachRow(x, (base, cols) -> {
            for (int start = 0; start < cols; start += chunk.length) {
                int n = Math.min(chunk.length, cols - start);
                v.get(base + start, chunk, 0, n);
                act.applyAll(chunk, n);
                v.put(base + start, chunk, 0, n);
            }
        });
    }

    @Override
    public void gatedActivate(Activation act, Tensor gate, Tensor up) {
        requireSameShape(gate, up);
        FloatBuffer g = gate.floatBuffer();
        FloatBuffer u = up.floatBuffer();
        float[] other = chunkB;
        int rows = gate.rows();
        int cols = gate.cols();
        for (int i = 0; i < rows; i++) {
            int gb = i * gate.rowStride();
            int ub = i * up.rowStride();
            for (int start = 0; start < cols; start += chunk.length) {
                int n = Math.min(chunk.length, cols - start);
                g.get(gb + start, chunk, 0, n);
                u.get(ub + start, other, 0, n);
                act.applyAll(chunk, n);
                for (int j = 0; j < n; j++) {
                    chunk[j] *= other[j];
                }
                g.put(gb + start, chunk, 0, n);
            }
        }
    }

    @Override
    public void embedding(Tensor table, int[] ids, long firstId, Tensor out) {
        kernels.embedding(table, ids, firstId, out);
    }

    @Override
    public void rmsNorm(Tensor x, Tensor weight, float eps, Tensor y) {
        kernels.rmsNorm(x, weight, eps, y);
    }

    @Override
    public void rotary(Tensor x, int headDim, float[] invFreq, int firstPosition) {
        kernels.rotary(x, headDim, invFreq, firstPosition);
    }

    @Override
    public void attention(Tensor q, Tensor keys, Tensor values, int headDim, int firstPosition, float scale,
                          Tensor out) {
        kernels.attention(q, keys, values, headDim, firstPosition, scale, out);
    }

    @Override
    public void add(Tensor a, Tensor b) {
        kernels.add(a, b);
    }

    /**
     * The rate OpenBLAS's sgemv streams a matrix of {@code bytes} through this rank's BLAS threads: what a
     * decode step does with every weight. The best of five, after a first touch that maps the pages.
     */
    @Override
    public double streamBytesPerSecond(long bytes) {
        int cols = 4096;
        int rows = Math.toIntExact(Math.max(1, bytes / Float.BYTES / cols));
        try (Tensor matrix = Tensor.allocateHost(Shape.of(rows, cols), DType.F32);
             Tensor x = Tensor.allocateHost(Shape.of(cols), DType.F32);
             Tensor y = Tensor.allocateHost(Shape.of(rows), DType.F32)) {
            long best = Long.MAX_VALUE;
            for (int i = 0; i < 6; i++) {
                long start = System.nanoTime();
                cblas_sgemv(CblasRowMajor, CblasNoTrans, rows, cols, 1f, matrix.floatPointer(), cols,
                        x.floatPointer(), 1, 0f, y.floatPointer(), 1);
                if (i > 0) {
                    best = Math.min(best, System.nanoTime() - start);
                }
            }
            return matrix.byteSize() / (best / 1e9);
        }
    }

    @Override
    public boolean hasDecoderOps() {
        return true;
    }

    @Override
    public String describe() {
        return OpenBlas.version() + ", " + threads
                + (threads == 1 ? " thread" : " threads");
    }

    @Override
    public void close() {
        // Host tensors are owned and freed by their holders; only the kernels' scratch is the backend's.
        kernels.close();
    }

    private static void broadcastRows(Tensor bias, Tensor y) {
        int rows = y.rows();
        int cols = y.cols();
        checkBias(bias, cols);
        FloatBuffer out = y.floatBuffer();
        FloatBuffer b = bias.floatBuffer();
        for (int i = 0; i < rows; i++) {
            out.put(i * y.rowStride(), b, 0, cols);
        }
    }

    private static void fill(Tensor y, float value) {
        FloatBuffer out = y.floatBuffer();
        forEachRow(y, (base, cols) -> {
            for (int j = base; j < base + cols; j++) {
                out.put(j, value);
            }
        });
    }

    private interface RowAction {
        void apply(int base, int cols);
    }

    /** Visits each row's [start index, length) in the tensor's buffer; a 1-D tensor is one row. */
    private static void forEachRow(Tensor t, RowAction action) {
        if (t.shape().rank() < 2) {
            action.apply(0, Math.toIntExact(t.numel()));
            return;
        }
        for (int i = 0; i < t.rows(); i++) {
            action.apply(i * t.rowStride(), t.cols());
        }
    }

    private static void checkBias(Tensor bias, int cols) {
        if (bias.numel() != cols) {
            throw new IllegalArgumentException("bias " + bias.shape() + " for " + cols + " output columns");
        }
    }

    private static void requireSameShape(Tensor a, Tensor b) {
        if (!a.shape().equals(b.shape())) {
            throw new IllegalArgumentException("shapes differ: " + a.shape() + " vs " + b.shape());
        }
    }

    /** The loaded OpenBLAS library: thread count and identity. */
    static final class OpenBlas {
        private OpenBlas() {
        }

        static void setThreads(int n) {
            openblas_nolapack.blas_set_num_threads(n);
        }

        /** e.g. "OpenBLAS 0.3.31". */
        static String version() {
            return openblas_nolapack.OPENBLAS_VERSION.trim();
        }
    }
}
