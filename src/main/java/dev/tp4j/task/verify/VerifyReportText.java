package dev.tp4j.task.verify;

import dev.tp4j.comm.LinkTraffic;
import dev.tp4j.comm.TrafficReport;
import dev.tp4j.tensor.Shape;
import java.io.PrintStream;
import java.util.List;
import java.util.Locale;

/** The human form of a {@link VerifyReport}: what rank 0 prints. */
public final class VerifyReportText {
    private VerifyReportText() {
    }

    public static void print(VerifyReport r, PrintStream out) {
        VerifyReport.Options o = r.options();
        out.printf(Locale.ROOT, "tp4j verify: %d %s, batch %d, hidden %d, ffn %d, activation %s%s%s, seed %d%s%n",
                r.worldSize(), ranks(r.worldSize()), o.batch(), o.hidden(), o.ffn(), o.activation(),
                o.gated() ? " (gated)" : "", o.bias() ? ", with bias" : ", no bias", o.seed(),
                o.repeat() > 1 ? ", " + o.repeat() + " repeats" : "");
        out.println("  compute: " + r.backend());
        out.println("  collectives: " + r.communicator());
        out.println();

        out.println("Shards held by each rank (W is [out, in] as nn.Linear stores it)");
        out.printf(Locale.ROOT, "  %-5s %-16s %-16s %-16s %-16s%n", "rank", "column W[r]", "row W[:,r]", "mlp up W[r]",
                "mlp down W[:,r]");
        for (VerifyReport.Shard s : r.shards()) {
            out.printf(Locale.ROOT, "  %-5d %-16s %-16s %-16s %-16s%n", s.rank(), dims(s.columnWeight()),
                    dims(s.rowWeight()), dims(s.mlpUpWeight()), dims(s.mlpDownWeight()));
        }
        out.println();

        out.println("Checks against the float64 sequential reference (bound: forward error bound of fp32 with this reduction length)");
        out.printf(Locale.ROOT, "  %-38s %-10s %-10s %-6s %s%n", "layer", "max |Δ|", "bound", "result", "what it shows");
        for (VerifyReport.Check c : r.checks()) {
            String claim = c.claim();
            if (!c.identicalOnAllRanks()) {
                claim += "  [ranks disagree bitwise]";
            }
            if (c.driftRepeats() > 0) {
                claim += "  [drift in " + c.driftRepeats() + " repeats]";
            }
            out.printf(Locale.ROOT, "  %-38s %-10s %-10s %-6s %s%n", c.layer(), sci(c.maxAbsDiff()), sci(c.maxBound()),
                    c.passed() ? "ok" : "FAIL", claim);
        }
        out.println();

        out.println("Communication per forward (this rank's view; bytes = payload of the collective)");
        out.printf(Locale.ROOT, "  %-38s %s%n", "layer", "collectives");
        for (VerifyReport.Check c : r.checks()) {
            out.printf(Locale.ROOT, "  %-38s %s%n", c.layer(),
                    c.collectives().isEmpty() ? "none — " + c.noCollectivesBecause() : TrafficReport.text(c.collectives()));
        }
        out.printf(Locale.ROOT, "  %-38s %s%n", "(verification, not part of the model)",
                r.verificationCollectives().isEmpty() ? "none" : TrafficReport.text(r.verificationCollectives()));
        out.println();
        if (r.links().size() > 1) {
            // A transport of several links (shared memory inside a node, TCP between nodes): what crossed each.
            out.println("Bytes rank 0 sent per link (whole run)");
            for (LinkTraffic l : r.links()) {
                out.printf(Locale.ROOT, "  %-38s %s in %d collectives%n", l.link(), TrafficReport.bytes(l.sentBytes()),
                        l.collectives());
            }
            out.println();
        }
        long failed = r.checks().stream().filter(c -> !c.passed()).count();
        if (r.passed()) {
            out.printf(Locale.ROOT, "verify: all %d checks passed on %d %s%s%n", r.checks().size(), r.worldSize(),
                    ranks(r.worldSize()), o.repeat() > 1 ? ", bitwise stable over " + o.repeat() + " repeats" : "");
        } else {
            out.printf(Locale.ROOT, "verify: %d of %d checks FAILED%n", failed, r.checks().size());
        }
    }

    private static String ranks(int worldSize) {
        return worldSize == 1 ? "rank" : "ranks";
    }

    /** {@code [rows, cols]}, as a {@link Shape} prints. */
    private static String dims(List<Long> dims) {
        return Shape.of(dims.stream().mapToLong(Long::longValue).toArray()).toString();
    }

    private static String sci(double v) {
        return String.format(Locale.ROOT, "%.2e", v);
    }
}
