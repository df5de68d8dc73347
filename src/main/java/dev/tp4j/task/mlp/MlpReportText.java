package dev.tp4j.task.mlp;

import dev.tp4j.comm.TrafficReport;
import dev.tp4j.io.MessageText;
import dev.tp4j.tensor.Shape;
import java.io.PrintStream;
import java.util.List;
import java.util.Locale;

/** The human form of an {@link MlpReport}: what rank 0 prints. */
public final class MlpReportText {
    private MlpReportText() {
    }

    public static void print(MlpReport r, PrintStream out) {
        out.printf(Locale.ROOT, "tp4j mlp: %d %s, %s%s, %d tokens, hidden %d, ffn %d%n", r.worldSize(),
                r.worldSize() == 1 ? "rank" : "ranks", r.activation(), r.gated() ? " (gated)" : "", r.tokens(),
                r.hidden(), r.ffn());
        out.println("  compute: " + r.backend());
        out.println("  collectives: " + r.communicator());
        out.println("  checkpoint: " + r.checkpoint());
        for (MlpReport.Layer l : r.layers()) {
            out.printf(Locale.ROOT, "    %-40s %-16s %s%s%n", l.weightName(), dims(l.weightShape()), l.dtype(),
                    l.bias() ? "  + bias " + dims(l.biasShape()) : "  (no bias)");
        }
        MlpReport.Input in = r.input();
        out.println("  input: " + in.file() + " " + MessageText.quoted(in.name()) + " " + dims(in.shape()));
        out.println();

        out.println("Shards read by each rank (only its own bytes of the checkpoint)");
        out.printf(Locale.ROOT, "  %-5s %-20s %-20s %-12s %-12s %s%n", "rank", r.gated() ? "up, gate W[r]" : "up W[r]",
                "down W[:,r]", "shard", "read", "time");
        for (MlpReport.Shard s : r.shards()) {
            out.printf(Locale.ROOT, "  %-5d %-20s %-20s %-12s %-12s %.3f s%n", s.rank(), dims(s.upWeight()),
                    dims(s.downWeight()), TrafficReport.bytes(s.shardBytes()), TrafficReport.bytes(s.bytesRead()),
                    s.loadSeconds());
        }
        out.println();

        out.printf(Locale.ROOT, "Forward: %.3f ms; collectives: %s%n", r.forwardMs(),
                r.collectives().isEmpty() ? "none — one rank holds the whole MLP" : TrafficReport.text(r.collectives()));
        out.printf(Locale.ROOT, "  (for this report, not part of the model: %s)%n",
                r.reportCollectives().isEmpty() ? "none" : TrafficReport.text(r.reportCollectives()));
        if (r.verify() != null) {
            MlpReport.Verification v = r.verify();
            if (v.nonFinite() > 0) {
                out.printf(Locale.ROOT, "Verify against the float64 sequential MLP of the full checkpoint: FAIL: %d of "
                        + "%d values are NaN or infinite (the input or the weights hold NaN or Inf)%n", v.nonFinite(),
                        v.elements());
            } else {
                out.printf(Locale.ROOT, "Verify against the float64 sequential MLP of the full checkpoint: max |Δ| %.2e, "
                        + "bound %.2e (fp32, reduction lengths %d and %d): %s%n", v.maxAbsDiff(), v.maxBound(),
                        r.hidden(), r.ffn(), v.passed() ? "ok" : "FAIL");
            }
        }
        MlpReport.Output o = r.output();
        if (o != null) {
            out.println("Output: " + o.file() + " " + MessageText.quoted(o.name()) + " " + dims(o.shape()) + " "
                    + o.dtype());
        } else {
            out.println("Output: not written (the result does not match the reference)");
        }
    }

    /** {@code [d0, d1, …]}, as a {@link Shape} prints. */
    private static String dims(List<Long> dims) {
        return Shape.of(dims.stream().mapToLong(Long::longValue).toArray()).toString();
    }
}
