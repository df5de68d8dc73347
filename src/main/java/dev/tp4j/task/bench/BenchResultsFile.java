package dev.tp4j.task.bench;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tp4j.BadInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Reads back what {@code tp4j bench --json FILE} wrote, so runs at other tp can be drawn together. */
public final class BenchResultsFile {
    private static final ObjectMapper JSON = new ObjectMapper();

    private BenchResultsFile() {
    }

    public static List<BenchResult> read(Path file) {
        JsonNode root;
        try {
            root = JSON.readTree(Files.readString(file));
        } catch (NoSuchFileException e) {
            throw new BadInputException(file + ": file not found");
        } catch (JsonProcessingException e) {
            throw new BadInputException(file + ": not JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new BadInputException(file + ": cannot be read: " + e.getMessage());
        }
        if (root == null || !root.isObject() || !"bench".equals(root.path("task").asText())
                || !root.path("results").isArray()) {
            throw new BadInputException(file + ": not the output of tp4j bench --json (no \"task\": \"bench\" with \"results\")");
        }
        List<BenchResult> results = new ArrayList<>();
        int index = 0;
        for (JsonNode r : root.get("results")) {
            try {
                results.add(BenchResult.fromJson(r));
            } catch (IllegalArgumentException e) {
                throw new BadInputException(file + ": results[" + index + "]: " + e.getMessage());
            }
            index++;
        }
        return results;
    }
}
