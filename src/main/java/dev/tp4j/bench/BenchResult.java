package dev.tp4j.bench;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One measured figure: what ran ({@code kind}: gemm, collective, mlp; {@code op}), at which tp and
 * dtype, on how many bytes or which shape, its timing quantiles, and the figures derived from them
 * (GFLOP/s, algbw, busbw, ratios, communication time) in {@code derived}.
 */
public record BenchResult(String kind, String op, int tp, String dtype, long bytes, String shape,
                          double medianMs, double p10Ms, double p90Ms, Map<String, Double> derived) {

    public static BenchResult of(String kind, String op, int tp, String dtype, long bytes, String shape, Samples s,
                                 Map<String, Double> derived) {
        return new BenchResult(kind, op, tp, dtype, bytes, shape, s.medianMs(), s.p10Ms(), s.p90Ms(),
                new LinkedHashMap<>(derived));
    }

    /** The JSON object of this result (one per line of the report). */
    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("kind", kind);
        m.put("op", op);
        m.put("tp", tp);
        m.put("dtype", dtype);
        if (bytes >= 0) {
            m.put("bytes", bytes);
        }
        if (shape != null) {
            m.put("shape", shape);
        }
        m.put("median_ms", medianMs);
        m.put("p10_ms", p10Ms);
        m.put("p90_ms", p90Ms);
        m.putAll(derived);
        return m;
    }
}
