package dev.tp4j.task.generate;

import dev.tp4j.comm.TrafficReport;
import java.io.PrintStream;
import java.util.Locale;
import java.util.stream.Collectors;

/** The human form of a {@link GenerateReport}: what rank 0 prints after the streamed tokens. */
public final class GenerateReportText {
    private GenerateReportText() {
    }

    public static void print(GenerateReport r, PrintStream out) {
        out.printf(Locale.ROOT, "tp4j generate: %d %s, %s%n", r.worldSize(), r.worldSize() == 1 ? "rank" : "ranks",
                r.architecture());
        out.println("  model: " + r.model());
        out.println("  compute: " + r.backend());
        out.println("  collectives: " + r.communicator());
        out.printf(Locale.ROOT, "  prompt: %d tokens; generated %d%s%n", r.promptIds().size(), r.tokens().size(),
                r.stoppedAtEos() ? " (stopped at EOS)" : "");
        out.println();
        out.println("Each rank holds only its shard");
        out.printf(Locale.ROOT, "  %-5s %-12s %-12s %-12s %s%n", "rank", "weights", "read", "kv cache", "load");
        for (GenerateReport.Rank k : r.ranks()) {
            out.printf(Locale.ROOT, "  %-5d %-12s %-12s %-12s %.3f s%n", k.rank(), TrafficReport.bytes(k.weightBytes()),
                    TrafficReport.bytes(k.storedBytes()), TrafficReport.bytes(k.cacheBytes()), k.loadSeconds());
        }
        out.println();
        out.printf(Locale.ROOT, "Load %.3f s; prefill %.2f ms; decode %.2f ms/token over %d steps (%.1f tokens/s)%n",
                r.loadSeconds(), r.prefillMs(), r.decodeMsPerToken(), r.decodeSteps(), r.tokensPerSecond());
        GenerateReport.StepSpread spread = r.decodeStepMs();
        if (spread != null) {
            out.printf(Locale.ROOT, "  decode steps: median %.2f ms, p90 %.2f ms, slowest %.2f ms%n", spread.median(),
                    spread.p90(), spread.max());
        }
        if (r.decodeBoundMs() != null) {
            out.printf(Locale.ROOT, "  decode bound: %.2f ms/token (each rank reads every weight but the embedding "
                    + "table, and its KV cache, once per token: %s); decode is %.2fx the bound%s%n", r.decodeBoundMs(),
                    r.ranks().stream().map(k -> String.format(Locale.ROOT, "%s at %.1f GB/s",
                            TrafficReport.bytes(k.decodeBytesPerToken()), k.memoryGigabytesPerSecond()))
                            .collect(Collectors.joining(", ")), r.decodeMsPerToken() / r.decodeBoundMs(),
                    spread == null ? "" : String.format(Locale.ROOT, " (the median step %.2fx)",
                            spread.median() / r.decodeBoundMs()));
        }
        out.println("Collectives per decode step: " + (r.collectivesPerDecodeStep().isEmpty() ? "none"
                : r.collectivesPerDecodeStep().stream()
                .map(c -> String.format(Locale.ROOT, "%s %s, %s", fmt(c.count()), c.op(), TrafficReport.bytes((long) c.bytes())))
                .collect(Collectors.joining("; "))));
        if (r.verify() != null) {
            GenerateReport.Verification v = r.verify();
            out.printf(Locale.ROOT, "Verify the prompt's logits against the float64 sequential model: max |Δ| %.2e "
                    + "(%.1e of the largest logit, %.2f), bound %.2e, worst |Δ|/bound %.3g: %s%n", v.maxAbsDiff(),
                    v.maxAbsDiff() / v.maxAbsLogit(), v.maxAbsLogit(), v.maxBound(), v.worstDiffOverBound(),
                    v.passed() ? "ok" : "FAIL");
            if (!v.boundInformative()) {
                out.println("  note: the rigorous float32 bound is larger than the logits themselves at this depth and "
                        + "width, so this check cannot catch an error here; read max |Δ| against the logits' scale");
            }
        }
        if (r.logitsFile() != null) {
            out.println("Logits of the prompt: " + r.logitsFile());
        }
        if (r.profile() != null) {
            printProfile(r.profile(), r.prefillMs(), r.decodeMsPerToken(), out);
        }
    }

    /** One rank's profile: its prefill and decode step, by operation, against its own step times. */
    public static void printProfile(GenerateReport.Profile p, double prefillMs, double stepMs, PrintStream out) {
        out.printf(Locale.ROOT, "Profile of rank %d (collectives include waiting for the other ranks)%n", p.rank());
        out.printf(Locale.ROOT, "  %-30s %10s %10s %7s   %10s %10s %7s%n", "op", "calls", "prefill ms", "share",
                "calls", "step ms", "share");
        java.util.LinkedHashMap<String, GenerateReport.ProfileLine[]> rows = new java.util.LinkedHashMap<>();
        for (GenerateReport.ProfileLine l : p.prefill()) {
            rows.computeIfAbsent(l.op(), k -> new GenerateReport.ProfileLine[2])[0] = l;
        }
        for (GenerateReport.ProfileLine l : p.decodeStep()) {
            rows.computeIfAbsent(l.op(), k -> new GenerateReport.ProfileLine[2])[1] = l;
        }
        // The rest of the step last, after every timed call.
        GenerateReport.ProfileLine[] outside = rows.remove(GenerateReport.ProfileLine.OUTSIDE);
        if (outside != null) {
            rows.put(GenerateReport.ProfileLine.OUTSIDE, outside);
        }
        rows.forEach((op, pair) -> out.printf(Locale.ROOT, "  %-30s %s   %s%n", op, cells(pair[0], prefillMs),
                cells(pair[1], stepMs)));
    }

    private static String cells(GenerateReport.ProfileLine l, double total) {
        if (l == null) {
            return String.format(Locale.ROOT, "%10s %10s %7s", "", "", "");
        }
        String calls = l.op().equals(GenerateReport.ProfileLine.OUTSIDE) ? "" : fmt(l.calls());
        return String.format(Locale.ROOT, "%10s %10.2f %6.1f%%", calls, l.ms(), total > 0 ? 100 * l.ms() / total : 0);
    }

    private static String fmt(double count) {
        return count == Math.rint(count) ? Long.toString((long) count) : String.format(Locale.ROOT, "%.2f", count);
    }
}
