package dev.tp4j.task.verify;

import dev.tp4j.reference.Bounded;
import dev.tp4j.reference.Comparison;
import dev.tp4j.reference.Float64Reference;
import dev.tp4j.backend.Backend;
import dev.tp4j.comm.CommStats;
import dev.tp4j.comm.LinkTraffic;
import dev.tp4j.comm.Exchange;
import dev.tp4j.comm.Communicator;
import dev.tp4j.nn.ColumnParallelLinear;
import dev.tp4j.nn.ParallelMlp;
import dev.tp4j.nn.RowParallelLinear;
import dev.tp4j.task.seeded.SeededLayers;
import dev.tp4j.task.seeded.SeededWeights;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Partition;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The seed's story on tp ranks: each rank builds its shards of a column-parallel layer, a row-parallel
 * layer and the Megatron MLP from one seed, runs them, and rank 0 compares what the ranks produced with
 * the float64 sequential computation. Collectives the layers run are kept apart from the ones
 * verification itself needs (gathering results to rank 0), so the report can say which belong to the model.
 */
public final class VerifyRun {
    private final Backend backend;
    private final Communicator comm;
    private final VerifyOptions options;
    private final SeededWeights weights;
    /** The weights' dtype on this backend; the GEMM inputs are rounded to it (its bounds follow). */
    private final DType weightDType;
    private CommStats.Snapshot verificationTraffic = CommStats.Snapshot.EMPTY;

    public VerifyRun(Backend backend, Communicator comm, VerifyOptions options) {
        this.backend = backend;
        this.comm = comm;
        this.options = options;
        this.weights = new SeededWeights(options.seed());
        this.weightDType = options.dtype().resolve(DType.F32, backend);
    }

    /** Runs every check on every rank (collectively); the returned result is complete on rank 0 only. */
    public VerifyResult run() {
        int batch = options.batch();
        int hidden = options.hidden();
        int ffn = options.ffn();
        boolean bias = options.bias();
        List<CommStats.Snapshot> linksBefore = LinkTraffic.snapshot(comm.links());
        SeededLayers layers = new SeededLayers(backend, comm, weights, weightDType);
        ColumnParallelLinear column = layers.column("column", hidden, ffn, bias, false);
        ColumnParallelLinear gathered = column.withGatherOutput(true);
        RowParallelLinear row = layers.row("row", ffn, hidden, bias, false);
        ParallelMlp mlp = layers.mlp("mlp", hidden, ffn, options.activation(), options.gated(), bias);
        List<long[]> shapes = gatherShapes(column, row, mlp);

        Reference reference = comm.rank() == 0 ? new Reference() : null;
        Outputs first = null;
        int[] drift = new int[4];
        try (Tensor x = input("input", batch, hidden); Tensor xRow = input("row_input", batch, ffn)) {
            for (int i = 0; i < options.repeat(); i++) {
                Outputs out = new Outputs();
                out.column = runLayer(() -> column.forward(x), false);
                out.gathered = runLayer(() -> gathered.forward(x), true);
                out.row = runLayer(() -> row.forward(xRow), true);
                out.mlp = runLayer(() -> mlp.forward(x), true);
                if (first == null) {
                    first = out;
                } else if (comm.rank() == 0) {
                    drift[0] += Arrays.equals(first.column.rank0, out.column.rank0) ? 0 : 1;
                    drift[1] += Arrays.equals(first.gathered.rank0, out.gathered.rank0) ? 0 : 1;
                    drift[2] += Arrays.equals(first.row.rank0, out.row.rank0) ? 0 : 1;
                    drift[3] += Arrays.equals(first.mlp.rank0, out.mlp.rank0) ? 0 : 1;
                }
            }
        } finally {
            mlp.close();
            column.close();
            gathered.close();
            row.close();
        }

        List<CheckResult> checks = new ArrayList<>();
        if (comm.rank() == 0) {
            checks.add(check("column-parallel", "concat_r(X·W[r]ᵀ + b[r]) == X·Wᵀ + b", first.column,
                    reference.column(), false, "each rank computes its own output columns", drift[0]));
            checks.add(check("column-parallel, gather_output", "all_gather_r(Y_r) == X·Wᵀ + b on every rank",
                    first.gathered, reference.column(), true, null, drift[1]));
            checks.add(check("row-parallel", "Σ_r X_r·W[:,r]ᵀ + b == X·Wᵀ + b on every rank", first.row,
                    reference.row(), true, null, drift[2]));
            String form = options.gated() ? "gate,up → " + options.activation() + "(gate)·up → down"
                    : "up → " + options.activation() + " → down";
            checks.add(check("mlp (" + form + ")", "one all_reduce; the same output on every rank", first.mlp,
                    reference.mlp(), true, null, drift[3]));
        }
        boolean passed = checks.stream().allMatch(CheckResult::passed);
        boolean agreed = agreeOnVerdict(passed);
        String compute = backend.describe() + (weightDType == DType.F32 ? ""
                : "; weights in " + weightDType + ", GEMM inputs rounded to it, F32 accumulation");
        return new VerifyResult(options, comm.worldSize(), compute, comm.describe(), shapes, checks,
                verificationTraffic.summaries(), LinkTraffic.since(comm.links(), linksBefore), agreed);
    }

    /** What one layer produced: its forward's traffic, and the outputs gathered to rank 0 for checking. */
    private static final class LayerOutput {
        List<CommStats.Summary> traffic;
        float[] rank0;
        boolean identical = true;
    }

    private static final class Outputs {
        LayerOutput column;
        LayerOutput gathered;
        LayerOutput row;
        LayerOutput mlp;
    }

    private interface Forward {
        Tensor run();
    }

    /** @param replicated whether every rank should hold the whole output (else: its column shard) */
    private LayerOutput runLayer(Forward forward, boolean replicated) {
        LayerOutput out = new LayerOutput();
        CommStats.Snapshot before = comm.stats().snapshot();
        try (Tensor y = forward.run()) {
            backend.synchronize();
            out.traffic = comm.stats().since(before).summaries();
            if (replicated) {
                collectReplicated(y, out);
            } else {
                out.rank0 = collectColumnShards(y);
            }
        }
        return out;
    }

    /** Column shards [batch, ffn_r] from every rank, side by side into [batch, ffn] on rank 0. */
    private float[] collectColumnShards(Tensor y) {
        Partition cols = new Partition(options.ffn(), comm.worldSize());
        long[] counts = new long[comm.worldSize()];
        for (int r = 0; r < counts.length; r++) {
            counts[r] = (long) options.batch() * cols.count(r);
        }
        float[] all = gatherForVerification(y, counts);
        if (comm.rank() != 0) {
            return null;
        }
        int batch = options.batch();
        int ffn = options.ffn();
        float[] full = new float[batch * ffn];
        int start = 0;
        for (int r = 0; r < counts.length; r++) {
            int width = cols.intCount(r);
            for (int i = 0; i < batch; i++) {
                System.arraycopy(all, start + i * width, full, i * ffn + cols.intOffset(r), width);
            }
            start += (int) counts[r];
        }
        return full;
    }

    /** Every rank's copy of a replicated output, compared bitwise on rank 0. */
    private void collectReplicated(Tensor y, LayerOutput out) {
        long n = y.numel();
        long[] counts = new long[comm.worldSize()];
        Arrays.fill(counts, n);
        float[] all = gatherForVerification(y, counts);
        if (comm.rank() != 0) {
            return;
        }
        out.rank0 = Arrays.copyOfRange(all, 0, (int) n);
        for (int r = 1; r < counts.length; r++) {
            float[] other = Arrays.copyOfRange(all, (int) (r * n), (int) ((r + 1) * n));
            // Bitwise: floatToRawIntBits, so -0.0 vs 0.0 or differing NaNs count as different.
            for (int i = 0; i < n; i++) {
                if (Float.floatToRawIntBits(other[i]) != Float.floatToRawIntBits(out.rank0[i])) {
                    out.identical = false;
                    break;
                }
            }
        }
    }

    private float[] gatherForVerification(Tensor y, long[] counts) {
        long total = Arrays.stream(counts).sum();
        try (Tensor local = backend.allocate(Shape.of(y.numel()), DType.F32);
             Tensor all = backend.allocate(Shape.of(total), DType.F32)) {
            backend.copy(y.view(Shape.of(y.numel())), local);
            collective(() -> comm.allGather(local, all, counts));
            return backend.copyToHost(all);
        }
    }

    /** Shard shapes of every rank's weights, gathered so rank 0 can print them (verification traffic). */
    private List<long[]> gatherShapes(ColumnParallelLinear column, RowParallelLinear row, ParallelMlp mlp) {
        long[] mine = {column.weight().rows(), column.weight().cols(), row.weight().rows(), row.weight().cols(),
                mlp.upWeight().rows(), mlp.upWeight().cols(), mlp.downWeight().rows(), mlp.downWeight().cols()};
        float[] asFloats = new float[mine.length];
        for (int i = 0; i < mine.length; i++) {
            asFloats[i] = mine[i];
        }
        try (Tensor local = backend.allocate(Shape.of(mine.length), DType.F32);
             Tensor all = backend.allocate(Shape.of((long) mine.length * comm.worldSize()), DType.F32)) {
            backend.copyFromHost(asFloats, local);
            collective(() -> comm.allGather(local, all));
            float[] values = backend.copyToHost(all);
            List<long[]> out = new ArrayList<>();
            for (int r = 0; r < comm.worldSize(); r++) {
                long[] shape = new long[mine.length];
                for (int i = 0; i < mine.length; i++) {
                    shape[i] = (long) values[r * mine.length + i];
                }
                out.add(shape);
            }
            return out;
        }
    }

    /** Every rank exits with rank 0's verdict: one broadcast of pass/fail. */
    private boolean agreeOnVerdict(boolean passedOnRank0) {
        boolean[] agreed = new boolean[1];
        collective(() -> agreed[0] = Exchange.agree(comm, backend, passedOnRank0, 0));
        return agreed[0];
    }

    /** Runs a verification-only collective and records it apart from the layers' traffic. */
    private void collective(Runnable call) {
        CommStats.Snapshot before = comm.stats().snapshot();
        call.run();
        verificationTraffic = verificationTraffic.plus(comm.stats().since(before));
    }

    private CheckResult check(String name, String claim, LayerOutput out, Bounded reference, boolean replicated,
                              String whyNone, int drift) {
        Comparison c = Comparison.of(name, out.rank0, reference);
        return new CheckResult(name, claim, c, replicated, out.identical, out.traffic,
                out.traffic.isEmpty() ? whyNone : null, drift);
    }

    private Tensor input(String name, int rows, int cols) {
        Tensor x = backend.allocate(Shape.of(rows, cols), DType.F32);
        try (Tensor host = Tensor.allocateHost(Shape.of(rows, cols), DType.F32)) {
            weights.fillRows(name, cols, 0, 1f, host);
            backend.copyFromHost(host.toFloatArray(), x);
        }
        return x;
    }

    /** The float64 sequential computation of every check, from the full (unsharded) seeded tensors. */
    private final class Reference {
        private Bounded column;
        private Bounded row;
        private Bounded mlp;

        Bounded column() {
            if (column == null) {
                column = Float64Reference.linear(full("input", options.batch(), options.hidden()), options.batch(),
                        options.hidden(), SeededLayers.fullWeight(weights, "column", options.hidden(), options.ffn()),
                        options.ffn(), bias("column", options.hidden(), options.ffn()), weightDType);
            }
            return column;
        }

        Bounded row() {
            if (row == null) {
                row = Float64Reference.linear(full("row_input", options.batch(), options.ffn()), options.batch(),
                        options.ffn(), SeededLayers.fullWeight(weights, "row", options.ffn(), options.hidden()),
                        options.hidden(), bias("row", options.ffn(), options.hidden()), weightDType);
            }
            return row;
        }

        Bounded mlp() {
            if (mlp == null) {
                int b = options.batch();
                int h = options.hidden();
                int f = options.ffn();
                boolean gated = options.gated();
                var w = new Float64Reference.MlpWeights(h, f,
                        SeededLayers.fullWeight(weights, "mlp.up_proj", h, f), bias("mlp.up_proj", h, f),
                        gated ? SeededLayers.fullWeight(weights, "mlp.gate_proj", h, f) : null,
                        gated ? bias("mlp.gate_proj", h, f) : null,
                        SeededLayers.fullWeight(weights, "mlp.down_proj", f, h), bias("mlp.down_proj", f, h));
                mlp = Float64Reference.mlp(full("input", b, h), b, options.activation(), w, weightDType);
            }
            return mlp;
        }

        private Bounded full(String name, int rows, int cols) {
            return Bounded.exact(weights.full(name, rows, cols, 1f));
        }

        private double[] bias(String name, int in, int out) {
            return options.bias() ? SeededLayers.fullBias(weights, name, in, out) : null;
        }
    }
}
