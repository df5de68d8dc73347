package dev.tp4j.task.bench;

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

    /** The result a {@code --json} object describes: the inverse of {@link #toJson()}. */
    public static BenchResult fromJson(com.fasterxml.jackson.databind.JsonNode o) {
        Map<String, Double> derived = new LinkedHashMap<>();
        o.fields().forEachRemaining(e -> {
            if (!FIELDS.contains(e.getKey()) && e.getValue().isNumber()) {
                derived.put(e.getKey(), e.getValue().asDouble());
            }
        });
        return new BenchResult(text(o, "kind"), text(o, "op"), number(o, "tp").intValue(), text(o, "dtype"),
                o.has("bytes") ? o.get("bytes").asLong() : -1, o.has("shape") ? o.get("shape").asText() : null,
                number(o, "median_ms"), number(o, "p10_ms"), number(o, "p90_ms"), derived);
    }

    private static final java.util.Set<String> FIELDS =
            java.util.Set.of("kind", "op", "tp", "dtype", "bytes", "shape", "median_ms", "p10_ms", "p90_ms");

    private static String text(com.fasterxml.jackson.databind.JsonNode o, String field) {
        if (!o.hasNonNull(field) || !o.get(field).isTextual()) {
            throw new IllegalArgumentException("result without a text field '" + field + "'");
        }
        return o.get(field).asText();
    }

    private static Double number(com.fasterxml.jackson.databind.JsonNode o, String field) {
        if (!o.hasNonNull(field) || !o.get(field).isNumber()) {
            throw new IllegalArgumentException("result without a number field '" + field + "'");
        }
        return o.get(field).asDouble();
    }
}
