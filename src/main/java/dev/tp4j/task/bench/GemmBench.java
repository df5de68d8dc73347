package dev.tp4j.task.bench;

import static org.bytedeco.openblas.global.openblas_nolapack.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasRowMajor;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_sgemm;

import dev.tp4j.backend.Backend;
import dev.tp4j.backend.cuda.CudaBackend;
import dev.tp4j.comm.Communicator;
import dev.tp4j.task.bench.BenchResult.Figure;
import dev.tp4j.task.seeded.SeededWeights;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Partition;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.util.List;

/**
 * The local GEMM each rank runs in the MLP's up-projection, {@code [tokens, hidden]·[ffn/tp, hidden]ᵀ},
 * through tp4j's backend and through the raw {@code cblas_sgemm} on the same memory, so tp4j's overhead
 * is a ratio (1.0 = none).
 */
final class GemmBench {
    private GemmBench() {
    }

    static List<BenchResult> run(Backend backend, Communicator comm, BenchOptions o) {
        DType weights = o.dtype().resolve(DType.F32, backend);
        if (!backend.device().isCpu()) {
            return runOnDevice(backend, comm, o, weights);
        }
        int m = o.tokens();
        int k = o.hidden();
        int n = new Partition(o.ffn(), comm.worldSize()).intCount(comm.rank());
        String shape = m + "x" + n + "x" + k;
        double flops = 2.0 * m * n * k;
        SeededWeights seeded = new SeededWeights(7);
        try (Tensor x = backend.allocate(Shape.of(m, k), DType.F32);
             Tensor w = backend.allocate(Shape.of(n, k), DType.F32);
             Tensor y = backend.allocate(Shape.of(m, n), DType.F32)) {
            seeded.fillRows("x", k, 0, 1f, x);
            seeded.fillRows("w", k, 0, SeededWeights.linearBound(k), w);
            Samples viaTp4j = Timer.time(o, () -> backend.linear(x, w, null, y));
            Samples raw = Timer.time(o, () -> cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1f,
                    x.floatPointer(), k, w.floatPointer(), k, 0f, y.floatPointer(), n));
            double tp4jGflops = flops / (viaTp4j.medianMs() * 1e6);
            double rawGflops = flops / (raw.medianMs() * 1e6);
            return List.of(
                    BenchResult.of("gemm", "tp4j linear", comm.worldSize(), "f32", null, shape, viaTp4j,
                            new Figure("gflops", tp4jGflops), new Figure("fraction_of_raw", tp4jGflops / rawGflops)),
                    BenchResult.of("gemm", "raw cblas_sgemm", comm.worldSize(), "f32", null, shape, raw,
                            new Figure("gflops", rawGflops)));
        }
    }

    /**
     * A GPU rank: tp4j's linear timed to completion (the stream synchronised in every iteration): one
     * cublasSgemm for F32 weights; for BF16/F16 weights the rounding of x into the weights' dtype and one
     * cublasGemmEx (F32 accumulation). There is no separate raw call to compare with.
     */
    private static List<BenchResult> runOnDevice(Backend backend, Communicator comm, BenchOptions o, DType weights) {
        int m = o.tokens();
        int k = o.hidden();
        int n = new Partition(o.ffn(), comm.worldSize()).intCount(comm.rank());
        String shape = m + "x" + n + "x" + k;
        double flops = 2.0 * m * n * k;
        boolean tf32 = backend instanceof CudaBackend cuda && cuda.tf32();
        SeededWeights seeded = new SeededWeights(7);
        Tensor hostW = Tensor.allocateHost(Shape.of(n, k), DType.F32);
        seeded.fillRows("w", k, 0, SeededWeights.linearBound(k), hostW);
        try (Tensor x = backend.allocate(Shape.of(m, k), DType.F32);
             Tensor w = backend.adoptWeight(hostW, weights);
             Tensor y = backend.allocate(Shape.of(m, n), DType.F32)) {
            fillThroughHost(backend, seeded, "x", 1f, x);
            Samples viaTp4j = Timer.time(o, () -> {
                backend.linear(x, w, null, y);
                backend.synchronize();
            });
            double gflops = flops / (viaTp4j.medianMs() * 1e6);
            boolean half = weights != DType.F32;
            String op = half ? "tp4j linear (cublasGemmEx, " + weights + ")" : "tp4j linear (cuBLAS" + (tf32 ? ", TF32)" : ")");
            String dtype = half ? weights.name().toLowerCase(java.util.Locale.ROOT) : tf32 ? "tf32" : "f32";
            return List.of(BenchResult.of("gemm", op, comm.worldSize(), dtype, null, shape, viaTp4j,
                    new Figure("gflops", gflops)));
        }
    }

    /** Seeded values written into host memory, then copied to the backend's tensor (any device). */
    static void fillThroughHost(Backend backend, SeededWeights seeded, String name, float bound, Tensor dst) {
        try (Tensor host = Tensor.allocateHost(dst.shape(), DType.F32)) {
            seeded.fillRows(name, dst.cols(), 0, bound, host);
            backend.copyFromHost(host.toFloatArray(), dst);
        }
    }
}
