package dev.tp4j.report;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.tp4j.files.OutputWriteException;
import dev.tp4j.files.TemporaryOutput;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The one JSON mapping of reports ({@code --json FILE}): record components become snake_case keys
 * ({@code maxAbsDiff} → {@code max_abs_diff}) in the order the record declares them, so the same
 * report gives the same bytes in every run and on every machine.
 */
public final class ReportJson {
    private static final JsonMapper MAPPER = JsonMapper.builder()
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            // Declaration order is the documented order; alphabetical would scatter related keys.
            .disable(MapperFeature.SORT_PROPERTIES_ALPHABETICALLY)
            .enable(SerializationFeature.INDENT_OUTPUT)
            // "\n" rather than the platform's line separator: the same bytes on every machine.
            .defaultPrettyPrinter(new DefaultPrettyPrinter().withObjectIndenter(new DefaultIndenter("  ", "\n")))
            .build();

    private ReportJson() {
    }

    /** The JSON text of {@code report}, exactly as {@link #write} puts it in a file. */
    public static String text(Report report) {
        try {
            return MAPPER.writeValueAsString(report);
        } catch (JsonProcessingException e) {
            // A report is made of records, lists, strings and numbers: failing to map one is a bug.
            throw new IllegalStateException("cannot map the " + report.task() + " report to JSON", e);
        }
    }

    /** Writes {@code report} to a temporary file beside {@code file}, then renames it over {@code file}. */
    public static void write(Path file, Report report) {
        byte[] json = text(report).getBytes(StandardCharsets.UTF_8);
        try (TemporaryOutput tmp = TemporaryOutput.beside(file)) {
            Files.write(tmp.path(), json);
            tmp.commit();
        } catch (IOException e) {
            throw new OutputWriteException(file, e);
        }
    }

    /** Parses a report written earlier (or anything else: the caller checks what it got). */
    public static JsonNode parse(String json) throws JsonProcessingException {
        return MAPPER.readTree(json);
    }
}
