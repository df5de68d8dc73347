package dev.tp4j.task.bench;

import java.io.PrintStream;
import java.util.Locale;
import java.util.Map;

/** The human form of a {@link BenchReport}: the terminal table of {@code tp4j bench}. */
public final class BenchReportText {
    private BenchReportText() {
    }

    public static void print(BenchReport report, PrintStream out) {
        out.println(report.header());
        out.println();
        if (has(report, "gemm")) { // --collectives-only measures neither GEMMs nor the MLP
            printGemms(report, out);
            out.println();
        }
        out.println("Collectives (S as in nccl-tests; busbw = algbw x 2(n-1)/n for all_reduce, (n-1)/n for all_gather/reduce_scatter)");
        out.printf(Locale.ROOT, "  %-15s %10s %10s %10s %10s %12s %12s%n", "op", "size", "median ms", "p10 ms", "p90 ms",
                "algbw GB/s", "busbw GB/s");
        for (BenchResult r : report.results()) {
            if (r.kind().equals("collective")) {
                out.printf(Locale.ROOT, "  %-15s %10s %10.3f %10.3f %10.3f %12.3f %12.3f%n", r.op(), size(r.bytes()),
                        r.medianMs(), r.p10Ms(), r.p90Ms(), r.derived().get("algbw_gbps"), r.derived().get("busbw_gbps"));
            }
        }
        if (!has(report, "mlp")) {
            return;
        }
        out.println();
        out.println("Megatron MLP forward (column -> activation -> row, one all_reduce)");
        for (BenchResult r : report.results()) {
            if (r.kind().equals("mlp")) {
                Map<String, Double> d = r.derived();
                out.printf(Locale.ROOT, "  tp %d, %s, %s: median %.3f ms (p10 %.3f, p90 %.3f), %.1f GFLOP/s, "
                                + "all_reduce %.3f ms (%.0f%%)%n", r.tp(), r.shape(), r.op(), r.medianMs(), r.p10Ms(),
                        r.p90Ms(), d.get("gflops"), d.get("comm_ms"), 100 * d.get("comm_fraction"));
            }
        }
    }

    private static void printGemms(BenchReport report, PrintStream out) {
        out.println("Local GEMM (this rank's up-projection shard, m x n x k)");
        out.printf(Locale.ROOT, "  %-18s %-18s %10s %10s %10s %10s %s%n", "op", "shape", "median ms", "p10 ms", "p90 ms",
                "GFLOP/s", "");
        for (BenchResult r : report.results()) {
            if (r.kind().equals("gemm")) {
                Double fraction = r.derived().get("fraction_of_raw");
                out.printf(Locale.ROOT, "  %-18s %-18s %10.3f %10.3f %10.3f %10.1f %s%n", r.op(), r.shape(), r.medianMs(),
                        r.p10Ms(), r.p90Ms(), r.derived().get("gflops"),
                        fraction == null ? "" : String.format(Locale.ROOT, "%.1f%% of raw", 100 * fraction));
            }
        }
    }

    private static boolean has(BenchReport report, String kind) {
        return report.results().stream().anyMatch(r -> r.kind().equals(kind));
    }

    static String size(long bytes) {
        if (bytes >= (1L << 30) && bytes % (1L << 30) == 0) {
            return (bytes >> 30) + " GiB";
        }
        if (bytes >= (1L << 20) && bytes % (1L << 20) == 0) {
            return (bytes >> 20) + " MiB";
        }
        if (bytes >= 1024 && bytes % 1024 == 0) {
            return (bytes >> 10) + " KiB";
        }
        return bytes + " B";
    }
}
