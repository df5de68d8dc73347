package dev.tp4j.task.bench;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.tp4j.BadInputException;
import dev.tp4j.report.ReportJson;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Reads back what {@code tp4j bench --json FILE} wrote, so runs at other tp can be drawn together. */
public final class BenchResultsFile {
    /** The JSON keys of {@link BenchResult}'s own components; every other number is a derived figure. */
    private static final Set<String> FIELDS =
            Set.of("kind", "op", "tp", "dtype", "bytes", "shape", "median_ms", "p10_ms", "p90_ms");

    private BenchResultsFile() {
    }

    public static List<BenchResult> read(Path file) {
        JsonNode root;
        try {
            root = ReportJson.parse(Files.readString(file));
        } catch (NoSuchFileException e) {
            throw new BadInputException(file + ": file not found");
        } catch (JsonProcessingException e) {
            throw new BadInputException(file + ": not JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new BadInputException(file + ": cannot be read: " + e.getMessage());
        }
        if (root == null || !root.isObject() || !BenchReport.TASK.equals(root.path("task").asText())
                || !root.path("results").isArray()) {
            throw new BadInputException(file + ": not the output of tp4j bench --json (no \"task\": \"bench\" with \"results\")");
        }
        List<BenchResult> results = new ArrayList<>();
        int index = 0;
        for (JsonNode r : root.get("results")) {
            try {
                results.add(result(r));
            } catch (IllegalArgumentException e) {
                throw new BadInputException(file + ": results[" + index + "]: " + e.getMessage());
            }
            index++;
        }
        return results;
    }

    /** The result one object of {@code "results"} describes; its derived figures keep the file's order. */
    private static BenchResult result(JsonNode o) {
        Map<String, Double> derived = new LinkedHashMap<>();
        o.fields().forEachRemaining(e -> {
            if (!FIELDS.contains(e.getKey()) && e.getValue().isNumber()) {
                derived.put(e.getKey(), e.getValue().asDouble());
            }
        });
        return new BenchResult(text(o, "kind"), text(o, "op"), number(o, "tp").intValue(), text(o, "dtype"),
                o.has("bytes") ? o.get("bytes").asLong() : null, o.has("shape") ? o.get("shape").asText() : null,
                number(o, "median_ms"), number(o, "p10_ms"), number(o, "p90_ms"), derived);
    }

    private static String text(JsonNode o, String field) {
        if (!o.hasNonNull(field) || !o.get(field).isTextual()) {
            throw new IllegalArgumentException("result without a text field '" + field + "'");
        }
        return o.get(field).asText();
    }

    private static Double number(JsonNode o, String field) {
        if (!o.hasNonNull(field) || !o.get(field).isNumber()) {
            throw new IllegalArgumentException("result without a number field '" + field + "'");
        }
        return o.get(field).asDouble();
    }
}
