package dev.tp4j.testutil;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.tp4j.report.ReportJson;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/** A report's two forms as tests read them: the printed text, and the JSON's keys in file order. */
public final class ReportText {
    private ReportText() {
    }

    /** What {@code print} writes, as a string. */
    public static String printed(Consumer<PrintStream> print) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        print.accept(new PrintStream(bytes, true, StandardCharsets.UTF_8));
        return bytes.toString(StandardCharsets.UTF_8);
    }

    public static JsonNode parse(String json) {
        try {
            return ReportJson.parse(json);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The keys of a JSON object in the order the file has them. */
    public static List<String> keys(JsonNode object) {
        List<String> keys = new ArrayList<>();
        object.fieldNames().forEachRemaining(keys::add);
        return keys;
    }

    /** The one line of {@code text} that contains {@code marker}; fails when none or several do. */
    public static String lineWith(String text, String marker) {
        List<String> lines = text.lines().filter(l -> l.contains(marker)).toList();
        if (lines.size() != 1) {
            throw new AssertionError(lines.size() + " lines contain '" + marker + "' in\n" + text);
        }
        return lines.get(0);
    }
}
