package dev.tp4j.task.mlp;

import dev.tp4j.checkpoint.LinearTensors;
import dev.tp4j.comm.TrafficReport;
import dev.tp4j.tensor.Shape;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Renders an {@link MlpResult}: the report rank 0 prints, and the same facts for {@code --json}. */
public final class MlpReport {
    private MlpReport() {
    }

    public static void print(MlpResult r, PrintStream out) {
        MlpOptions o = r.options();
        out.printf(Locale.ROOT, "tp4j mlp: %d %s, %s%s, %d tokens, hidden %d, ffn %d%n", r.worldSize(),
                r.worldSize() == 1 ? "rank" : "ranks", o.activation(), r.layout().isGated() ? " (gated)" : "",
                r.tokens(), r.layout().hidden(), r.layout().ffn());
        out.println("  compute: " + r.backend());
        out.println("  collectives: " + r.communicator());
        out.println("  checkpoint: " + o.checkpoint());
        for (LinearTensors l : r.layout().layers()) {
            out.printf(Locale.ROOT, "    %-40s %-16s %s%s%n", l.weightName(), l.weight().shape(), l.weight().dtype(),
                    l.hasBias() ? "  + bias " + l.bias().shape() : "  (no bias)");
        }
        out.println("  input: " + o.input() + " " + quoted(o.inputName()) + " " + r.inputShape());
        out.println();

        out.println("Shards read by each rank (only its own bytes of the checkpoint)");
        out.printf(Locale.ROOT, "  %-5s %-20s %-20s %-12s %-12s %s%n", "rank", r.layout().isGated() ? "up, gate W[r]" : "up W[r]",
                "down W[:,r]", "shard", "read", "time");
        for (MlpResult.RankLoad l : r.loads()) {
            out.printf(Locale.ROOT, "  %-5d %-20s %-20s %-12s %-12s %.3f s%n", l.rank(),
                    Shape.of(l.upRows(), r.layout().hidden()), Shape.of(r.layout().hidden(), l.downColumns()),
                    TrafficReport.bytes(l.shardBytes()), TrafficReport.bytes(l.bytesRead()), l.loadNanos() / 1e9);
        }
        out.println();

        out.printf(Locale.ROOT, "Forward: %.3f ms; collectives: %s%n", r.forwardNanos() / 1e6,
                r.forwardTraffic().isEmpty() ? "none — one rank holds the whole MLP" : TrafficReport.text(r.forwardTraffic()));
        out.printf(Locale.ROOT, "  (for this report, not part of the model: %s)%n",
                r.reportTraffic().isEmpty() ? "none" : TrafficReport.text(r.reportTraffic()));
        if (r.verification() != null) {
            var c = r.verification();
            out.printf(Locale.ROOT, "Verify against the float64 sequential MLP of the full checkpoint: max |Δ| %.2e, "
                    + "bound %.2e (fp32, reduction lengths %d and %d): %s%n", c.maxAbsDiff(), c.maxBound(),
                    r.layout().hidden(), r.layout().ffn(), c.passed() ? "ok" : "FAIL");
        }
        if (r.outputWritten()) {
            out.println("Output: " + o.output() + " " + quoted(o.outputName()) + " " + r.inputShape() + " F32");
        } else {
            out.println("Output: not written (the result does not match the reference)");
        }
    }

    public static Map<String, Object> toJson(MlpResult r) {
        MlpOptions o = r.options();
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("task", "mlp");
        root.put("passed", r.passed());
        root.put("world_size", r.worldSize());
        root.put("backend", r.backend());
        root.put("communicator", r.communicator());
        root.put("checkpoint", o.checkpoint().toString());
        List<Object> layers = new ArrayList<>();
        for (LinearTensors l : r.layout().layers()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("prefix", l.prefix());
            m.put("weight_shape", dims(l.weight().shape()));
            m.put("dtype", l.weight().dtype().toString());
            m.put("bias", l.hasBias());
            layers.add(m);
        }
        root.put("layers", layers);
        root.put("activation", o.activation().cliName());
        root.put("gated", r.layout().isGated());
        root.put("hidden", r.layout().hidden());
        root.put("ffn", r.layout().ffn());
        root.put("input", Map.of("file", o.input().toString(), "name", o.inputName(), "shape", dims(r.inputShape())));
        root.put("tokens", r.tokens());
        List<Object> shards = new ArrayList<>();
        for (MlpResult.RankLoad l : r.loads()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("rank", l.rank());
            m.put("up_weight", List.of(l.upRows(), r.layout().hidden()));
            m.put("down_weight", List.of(r.layout().hidden(), l.downColumns()));
            m.put("shard_bytes", l.shardBytes());
            m.put("bytes_read", l.bytesRead());
            m.put("load_seconds", l.loadNanos() / 1e9);
            shards.add(m);
        }
        root.put("shards", shards);
        root.put("forward_ms", r.forwardNanos() / 1e6);
        root.put("collectives", TrafficReport.json(r.forwardTraffic()));
        root.put("report_collectives", TrafficReport.json(r.reportTraffic()));
        if (r.verification() != null) {
            var c = r.verification();
            Map<String, Object> v = new LinkedHashMap<>();
            v.put("passed", c.passed());
            v.put("max_abs_diff", c.maxAbsDiff());
            v.put("max_bound", c.maxBound());
            v.put("worst_diff_over_bound", c.worstRatio());
            v.put("elements", c.elements());
            root.put("verify", v);
        }
        root.put("output", r.outputWritten() ? Map.of("file", o.output().toString(), "name", o.outputName()) : null);
        return root;
    }

    private static List<Long> dims(Shape s) {
        List<Long> d = new ArrayList<>();
        for (long x : s.toArray()) {
            d.add(x);
        }
        return d;
    }

    private static String quoted(String name) {
        return dev.tp4j.io.MessageText.quoted(name);
    }
}
