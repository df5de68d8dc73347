package dev.tp4j.bench;

import static org.bytedeco.openblas.global.openblas_nolapack.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasRowMajor;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_sgemm;

import dev.tp4j.backend.Backend;
import dev.tp4j.comm.Communicator;
import dev.tp4j.nn.SeededWeights;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Partition;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.util.List;
import java.util.Map;

/**
 * The local GEMM each rank runs in the MLP's up-projection, {@code [tokens, hidden]·[ffn/tp, hidden]ᵀ},
 * through tp4j's backend and through the raw {@code cblas_sgemm} on the same memory, so tp4j's overhead
 * is a ratio (1.0 = none).
 */
final class GemmBench {
    private GemmBench() {
    }

    static List<BenchResult> run(Backend backend, Communicator comm, BenchOptions o) {
        if (!backend.device().isCpu()) {
            throw new IllegalStateException("the raw GEMM comparison is for CPU ranks");
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
                    BenchResult.of("gemm", "tp4j linear", comm.worldSize(), "f32", -1, shape, viaTp4j,
                            Map.of("gflops", tp4jGflops, "fraction_of_raw", tp4jGflops / rawGflops)),
                    BenchResult.of("gemm", "raw cblas_sgemm", comm.worldSize(), "f32", -1, shape, raw,
                            Map.of("gflops", rawGflops)));
        }
    }
}
