package dev.tp4j.task.bench;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One measured figure: what ran ({@code kind}: gemm, collective, mlp; {@code op}), at which tp and
 * dtype, on how many bytes or which shape, its timing quantiles, and the figures derived from them
 * (GFLOP/s, algbw, busbw, ratios, communication time) in {@code derived}. Its JSON is one object with
 * the derived figures as keys of their own, after the timings ({@code "gflops": 12.5}).
 *
 * @param bytes   the collective's size S; null for a result that is not about a size (absent from the JSON)
 * @param shape   the GEMM or MLP shape; null for a collective (absent from the JSON)
 * @param derived in the order the benchmark gave them, which is the order of their JSON keys
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record BenchResult(String kind, String op, int tp, String dtype, Long bytes, String shape,
                          double medianMs, double p10Ms, double p90Ms,
                          @JsonAnyGetter Map<String, Double> derived) {

    public BenchResult {
        derived = Collections.unmodifiableMap(new LinkedHashMap<>(derived));
    }

    /** A figure derived from the timings, named as its JSON key: {@code gflops}, {@code busbw_gbps}, … */
    public record Figure(String name, double value) {
    }

    public static BenchResult of(String kind, String op, int tp, String dtype, Long bytes, String shape, Samples s,
                                 Figure... derived) {
        Map<String, Double> figures = new LinkedHashMap<>();
        for (Figure f : derived) {
            figures.put(f.name(), f.value());
        }
        return new BenchResult(kind, op, tp, dtype, bytes, shape, s.medianMs(), s.p10Ms(), s.p90Ms(), figures);
    }
}
