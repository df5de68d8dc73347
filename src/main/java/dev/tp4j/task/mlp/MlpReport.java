package dev.tp4j.task.mlp;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.tp4j.checkpoint.LinearTensors;
import dev.tp4j.comm.CollectiveTraffic;
import dev.tp4j.report.Report;
import dev.tp4j.reference.Comparison;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;
import java.util.ArrayList;
import java.util.List;

/**
 * What {@code tp4j mlp} reports: rank 0 prints it ({@link MlpReportText}) and {@code --json} writes it
 * ({@link dev.tp4j.report.ReportJson}), both from one instance of this record.
 *
 * @param passed            rank 0's verdict; true without {@code --verify}
 * @param checkpoint        the checkpoint file
 * @param tokens            rows of the input: the product of its leading dimensions
 * @param forwardMs         the forward on rank 0, from the common start
 * @param collectives       what the forward ran (this rank's view): the MLP's one all_reduce
 * @param reportCollectives what was run only to build this report (gathering the ranks' load figures)
 * @param verify            the comparison with the float64 sequential MLP; absent without {@code --verify}
 * @param output            null when nothing was written (the result failed verification)
 */
public record MlpReport(boolean passed, int worldSize, String backend, String communicator, String checkpoint,
                        List<Layer> layers, String activation, boolean gated, int hidden, int ffn, Input input,
                        int tokens, List<Shard> shards, double forwardMs, List<CollectiveTraffic> collectives,
                        List<CollectiveTraffic> reportCollectives,
                        @JsonInclude(JsonInclude.Include.NON_NULL) Verification verify, Output output)
        implements Report {

    @Override
    public String task() {
        return "mlp";
    }

    /**
     * One linear layer of the checkpoint's MLP: up, gate (when gated), down.
     *
     * @param prefix     the name before {@code .weight} / {@code .bias}
     * @param dtype      as the checkpoint stores the weight
     * @param bias       whether the checkpoint has {@code PREFIX.bias}
     * @param weightName the weight tensor's name in the checkpoint
     * @param biasShape  absent without a bias
     */
    public record Layer(String prefix, List<Long> weightShape, String dtype, boolean bias, String weightName,
                        @JsonInclude(JsonInclude.Include.NON_NULL) List<Long> biasShape) {
    }

    /** The tensor the MLP ran on. */
    public record Input(String file, String name, List<Long> shape) {
    }

    /**
     * One rank's shard and what loading it cost.
     *
     * @param upWeight   the rows of up (and gate) it holds, {@code [ffn/tp, hidden]}
     * @param downWeight the columns of down it holds, {@code [hidden, ffn/tp]}
     * @param shardBytes the stored bytes of its shard
     * @param bytesRead  the bytes it read from the checkpoint (its shard alone when loading is right)
     */
    public record Shard(int rank, List<Long> upWeight, List<Long> downWeight, long shardBytes, long bytesRead,
                        double loadSeconds) {
    }

    /** The parallel result against the float64 sequential one: passed when every |Δ| is within its bound. */
    public record Verification(boolean passed, double maxAbsDiff, double maxBound, double worstDiffOverBound,
                               int elements, int nonFinite) {
    }

    /** The file rank 0 wrote: the output tensor, shaped as the input. */
    public record Output(String file, String name, List<Long> shape, String dtype) {
    }

    public static MlpReport of(MlpResult r) {
        MlpOptions o = r.options();
        int hidden = r.layout().hidden();
        List<Layer> layers = new ArrayList<>();
        for (LinearTensors l : r.layout().layers()) {
            layers.add(new Layer(l.prefix(), dims(l.weight().shape()), l.weight().dtype().toString(), l.hasBias(),
                    l.weightName(), l.hasBias() ? dims(l.bias().shape()) : null));
        }
        List<Shard> shards = new ArrayList<>();
        for (MlpResult.RankLoad l : r.loads()) {
            shards.add(new Shard(l.rank(), List.of(l.upRows(), (long) hidden), List.of((long) hidden, l.downColumns()),
                    l.shardBytes(), l.bytesRead(), l.loadNanos() / 1e9));
        }
        Comparison c = r.verification();
        Verification verify = c == null ? null
                : new Verification(c.passed(), c.maxAbsDiff(), c.maxBound(), c.worstRatio(), c.elements(), c.nonFinite());
        // MlpRun writes the F32 host result in the input's shape.
        Output output = r.outputWritten()
                ? new Output(o.output().toString(), o.outputName(), dims(r.inputShape()), DType.F32.toString()) : null;
        return new MlpReport(r.passed(), r.worldSize(), r.backend(), r.communicator(), o.checkpoint().toString(),
                List.copyOf(layers), o.activation().cliName(), r.layout().isGated(), hidden, r.layout().ffn(),
                new Input(o.input().toString(), o.inputName(), dims(r.inputShape())), r.tokens(), List.copyOf(shards),
                r.forwardNanos() / 1e6, CollectiveTraffic.allOf(r.forwardTraffic()),
                CollectiveTraffic.allOf(r.reportTraffic()), verify, output);
    }

    private static List<Long> dims(Shape s) {
        List<Long> d = new ArrayList<>();
        for (long x : s.toArray()) {
            d.add(x);
        }
        return List.copyOf(d);
    }
}
