package dev.tp4j.docker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The container entry point's decisions (docker/entrypoint.sh): GPU count from CUDA_VISIBLE_DEVICES and
 * NVIDIA_VISIBLE_DEVICES, the CPU fallback and its notice, argument pass-through, the multi-node
 * variables and signal delivery. The cases live in docker/test-entrypoint.sh (bash, no Docker needed);
 * this test runs it so that {@code ./mvnw verify} fails when one of them does.
 */
class EntrypointScriptTest {

    @Test
    void entrypointDecisions() throws IOException, InterruptedException {
        Path script = Path.of("docker", "test-entrypoint.sh").toAbsolutePath();
        assertTrue(Files.isRegularFile(script), "missing " + script);
        Process p = new ProcessBuilder("bash", script.toString()).redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "test-entrypoint.sh did not finish:\n" + out);
        assertEquals(0, p.exitValue(), "test-entrypoint.sh failed:\n" + out);
        assertTrue(out.contains(" checks passed"), out);
    }
}
