package dev.tp4j.report;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReportJsonTest {

    /** A report with the shapes reports are made of: a camelCase component, a nested record, a list. */
    record Sample(int worldSize, Part firstPart, List<Long> weightShape) implements Report {
        @Override
        public String task() {
            return "sample";
        }
    }

    record Part(String name, double maxAbsDiff) {
    }

    @Test
    void keysAreSnakeCaseInDeclarationOrderAfterTheTask() {
        assertEquals("""
                {
                  "task" : "sample",
                  "world_size" : 2,
                  "first_part" : {
                    "name" : "up",
                    "max_abs_diff" : 1.5E-7
                  },
                  "weight_shape" : [ 3, 4 ]
                }""", ReportJson.text(new Sample(2, new Part("up", 1.5e-7), List.of(3L, 4L))));
    }

    @Test
    void aFileHoldsExactlyTheTextAndNoTemporaryFileStays(@TempDir Path dir) throws Exception {
        Sample report = new Sample(1, new Part("down", 0), List.of(5L));
        Path file = Files.writeString(dir.resolve("r.json"), "an earlier run's file, longer than the new one ".repeat(20));
        ReportJson.write(file, report);
        assertEquals(ReportJson.text(report), Files.readString(file, StandardCharsets.UTF_8));
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(file), files.toList(), "the temporary file was renamed over the target");
        }
    }
}
