package dev.tp4j.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The kit's token check accepts the fixture's own tokens and refuses one token off, as a process would. */
class ExpectedTokensTest {
    private static final Path EXPECTED = Path.of("src/test/resources/models/llama/expected.json");

    private static int run(Path report) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), ExpectedTokens.class.getName(), EXPECTED.toString(),
                report.toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        p.waitFor(60, TimeUnit.SECONDS);
        return p.exitValue();
    }

    @Test
    void theFixturesTokensPassAndOthersFail(@TempDir Path dir) throws Exception {
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        var expected = json.readTree(EXPECTED.toFile());
        var report = json.createObjectNode();
        report.set("prompt_ids", expected.get("prompt_ids"));
        report.set("tokens", expected.get("greedy_tokens").deepCopy());
        Path good = dir.resolve("good.json");
        json.writeValue(good.toFile(), report);
        assertEquals(0, run(good));

        var tokens = (com.fasterxml.jackson.databind.node.ArrayNode) report.get("tokens");
        tokens.set(tokens.size() - 1, tokens.get(tokens.size() - 1).asInt() + 1);
        Path bad = dir.resolve("bad.json");
        json.writeValue(bad.toFile(), report);
        assertEquals(1, run(bad));
    }
}
