package dev.tp4j.task.bench;

import dev.tp4j.backend.Backend;
import dev.tp4j.comm.CollectiveOp;
import dev.tp4j.comm.CommStats;
import dev.tp4j.comm.Communicator;
import dev.tp4j.nn.ParallelMlp;
import dev.tp4j.task.bench.BenchResult.Figure;
import dev.tp4j.task.seeded.SeededLayers;
import dev.tp4j.task.seeded.SeededWeights;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.util.List;

/**
 * The Megatron MLP forward at the given shape on this job's tp: time per forward (from a common start),
 * model GFLOP/s ({@code 4·tokens·hidden·ffn} over the whole group), and the part of it spent in the
 * forward's all_reduce.
 */
final class MlpBench {
    private MlpBench() {
    }

    static List<BenchResult> run(Backend backend, Communicator comm, BenchOptions o) {
        SeededWeights weights = new SeededWeights(11);
        DType weightDType = o.dtype().resolve(DType.F32, backend);
        try (ParallelMlp mlp = new SeededLayers(backend, comm, weights, weightDType)
                     .mlp("mlp", o.hidden(), o.ffn(), o.activation(), false, true);
             Tensor x = backend.allocate(Shape.of(o.tokens(), o.hidden()), DType.F32);
             Tensor y = backend.allocate(Shape.of(o.tokens(), o.hidden()), DType.F32)) {
            if (backend.device().isCpu()) {
                weights.fillRows("input", o.hidden(), 0, 1f, x);
            } else {
                GemmBench.fillThroughHost(backend, weights, "input", 1f, x);
            }
            CommStats.Snapshot before = comm.stats().snapshot();
            Samples s = Timer.time(o.warmup(), o.iterations(), () -> {
                mlp.forward(x, y);
                backend.synchronize();
            }, comm::barrier);
            CommStats.Summary reduces = comm.stats().since(before).summary(CollectiveOp.ALL_REDUCE);
            double commMs = reduces.count() == 0 ? 0 : reduces.nanos() / 1e6 / reduces.count();
            double flops = 4.0 * o.tokens() * o.hidden() * o.ffn();
            String shape = "tokens " + o.tokens() + ", hidden " + o.hidden() + ", ffn " + o.ffn();
            String dtype = weightDType.name().toLowerCase(java.util.Locale.ROOT);
            return List.of(BenchResult.of("mlp", "forward (" + o.activation() + ")", comm.worldSize(), dtype, null,
                    shape, s, new Figure("gflops", flops / (s.medianMs() * 1e6)), new Figure("comm_ms", commMs),
                    new Figure("comm_fraction", commMs / s.medianMs())));
        }
    }
}
