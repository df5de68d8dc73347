package dev.tp4j.task.verify;

import dev.tp4j.comm.TrafficReport;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Renders a {@link VerifyResult}: the human report rank 0 prints, and the same facts for {@code --json}. */
public final class VerifyReport {
    private VerifyReport() {
    }

    public static void print(VerifyResult r, PrintStream out) {
        VerifyOptions o = r.options();
        out.printf(Locale.ROOT, "tp4j verify: %d %s, batch %d, hidden %d, ffn %d, activation %s%s%s, seed %d%s%n",
                r.worldSize(), r.worldSize() == 1 ? "rank" : "ranks", o.batch(), o.hidden(), o.ffn(), o.activation(),
                o.gated() ? " (gated)" : "", o.bias() ? ", with bias" : ", no bias", o.seed(),
                o.repeat() > 1 ? ", " + o.repeat() + " repeats" : "");
        out.println("  compute: " + r.backend());
        out.println("  collectives: " + r.communicator());
        out.println();

        out.println("Shards held by each rank (W is [out, in] as nn.Linear stores it)");
        out.printf(Locale.ROOT, "  %-5s %-16s %-16s %-16s %-16s%n", "rank", "column W[r]", "row W[:,r]", "mlp up W[r]",
                "mlp down W[:,r]");
        for (int rank = 0; rank < r.shardShapes().size(); rank++) {
            long[] s = r.shardShapes().get(rank);
            out.printf(Locale.ROOT, "  %-5d %-16s %-16s %-16s %-16s%n", rank, dims(s[0], s[1]), dims(s[2], s[3]),
                    dims(s[4], s[5]), dims(s[6], s[7]));
        }
        out.println();

        out.println("Checks against the float64 sequential reference (bound: forward error bound of fp32 with this reduction length)");
        out.printf(Locale.ROOT, "  %-38s %-10s %-10s %-6s %s%n", "layer", "max |Δ|", "bound", "result", "what it shows");
        for (CheckResult c : r.checks()) {
            String result = c.passed() ? "ok" : "FAIL";
            String claim = c.claim();
            if (c.replicated() && !c.identical()) {
                claim += "  [ranks disagree bitwise]";
            }
            if (c.driftRepeats() > 0) {
                claim += "  [drift in " + c.driftRepeats() + " repeats]";
            }
            out.printf(Locale.ROOT, "  %-38s %-10s %-10s %-6s %s%n", c.name(), sci(c.comparison().maxAbsDiff()),
                    sci(c.comparison().maxBound()), result, claim);
        }
        out.println();

        out.println("Communication per forward (this rank's view; bytes = payload of the collective)");
        out.printf(Locale.ROOT, "  %-38s %s%n", "layer", "collectives");
        for (CheckResult c : r.checks()) {
            out.printf(Locale.ROOT, "  %-38s %s%n", c.name(),
                    c.traffic().isEmpty() ? "none — " + c.whyNoTraffic() : TrafficReport.text(c.traffic()));
        }
        out.printf(Locale.ROOT, "  %-38s %s%n", "(verification, not part of the model)",
                r.verificationTraffic().isEmpty() ? "none" : TrafficReport.text(r.verificationTraffic()));
        out.println();
        long failed = r.checks().stream().filter(c -> !c.passed()).count();
        if (r.passed()) {
            out.printf(Locale.ROOT, "verify: all %d checks passed on %d %s%s%n", r.checks().size(), r.worldSize(),
                    r.worldSize() == 1 ? "rank" : "ranks",
                    o.repeat() > 1 ? ", bitwise stable over " + o.repeat() + " repeats" : "");
        } else {
            out.printf(Locale.ROOT, "verify: %d of %d checks FAILED%n", failed, r.checks().size());
        }
    }

    /** The same facts as the report, as plain maps and lists for Jackson. */
    public static Map<String, Object> toJson(VerifyResult r) {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("task", "verify");
        root.put("passed", r.passed());
        root.put("world_size", r.worldSize());
        root.put("options", Map.of("batch", r.options().batch(), "hidden", r.options().hidden(), "ffn",
                r.options().ffn(), "seed", r.options().seed(), "activation", r.options().activation().cliName(),
                "gated", r.options().gated(), "bias", r.options().bias(), "repeat", r.options().repeat()));
        root.put("backend", r.backend());
        root.put("communicator", r.communicator());
        List<Object> shards = new ArrayList<>();
        for (int rank = 0; rank < r.shardShapes().size(); rank++) {
            long[] s = r.shardShapes().get(rank);
            shards.add(Map.of("rank", rank, "column_weight", List.of(s[0], s[1]), "row_weight", List.of(s[2], s[3]),
                    "mlp_up_weight", List.of(s[4], s[5]), "mlp_down_weight", List.of(s[6], s[7])));
        }
        root.put("shards", shards);
        List<Object> checks = new ArrayList<>();
        for (CheckResult c : r.checks()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("layer", c.name());
            m.put("claim", c.claim());
            m.put("passed", c.passed());
            m.put("max_abs_diff", c.comparison().maxAbsDiff());
            m.put("max_bound", c.comparison().maxBound());
            m.put("worst_diff_over_bound", c.comparison().worstRatio());
            m.put("elements", c.comparison().elements());
            m.put("identical_on_all_ranks", !c.replicated() || c.identical());
            m.put("drift_repeats", c.driftRepeats());
            m.put("collectives", TrafficReport.json(c.traffic()));
            if (c.traffic().isEmpty()) {
                m.put("no_collectives_because", c.whyNoTraffic());
            }
            checks.add(m);
        }
        root.put("checks", checks);
        root.put("verification_collectives", TrafficReport.json(r.verificationTraffic()));
        return root;
    }

    private static String dims(long rows, long cols) {
        return "[" + rows + ", " + cols + "]";
    }

    private static String sci(double v) {
        return String.format(Locale.ROOT, "%.2e", v);
    }
}
