package dev.tp4j.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;

/** JavaCPP's host-memory limits as tp4j sets them (issue 12: they followed the heap size). */
class NativeMemoryLimitsTest {

    @Test
    void maxBytesIsTheMachinesMemoryAndTheResidentSetIsNotChecked() {
        Properties p = new Properties();
        NativeMemoryLimits.apply(p, 128L << 30);
        assertEquals(Long.toString(128L << 30), p.getProperty("org.bytedeco.javacpp.maxBytes"));
        assertEquals("0", p.getProperty("org.bytedeco.javacpp.maxPhysicalBytes"));
    }

    @Test
    void limitsGivenOnTheCommandLineAreKept() {
        Properties p = new Properties();
        p.setProperty("org.bytedeco.javacpp.maxbytes", "8g");
        p.setProperty("org.bytedeco.javacpp.maxPhysicalBytes", "16g");
        NativeMemoryLimits.apply(p, 128L << 30);
        assertEquals(null, p.getProperty("org.bytedeco.javacpp.maxBytes"));
        assertEquals("16g", p.getProperty("org.bytedeco.javacpp.maxPhysicalBytes"));
    }

    @Test
    void anUnknownMemorySizeLeavesJavacppsDefault() {
        Properties p = new Properties();
        NativeMemoryLimits.apply(p, 0);
        assertEquals(null, p.getProperty("org.bytedeco.javacpp.maxBytes"));
    }

    /** In a fresh JVM with a small heap: configure() first, and JavaCPP's limits are tp4j's, not the heap's. */
    @Test
    void javacppTakesTheLimitsWhenConfiguredFirst() throws IOException, InterruptedException {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(List.of(java.toString(), "-Xmx64m", "-cp", System.getProperty("java.class.path"),
                Probe.class.getName())).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        String[] f = out.lines().reduce((a, b) -> b).orElse("").split(" ");
        long memory = NativeMemoryLimits.availableMemory();
        assertEquals(memory, Long.parseLong(f[0]), "maxBytes, not the 64 MiB heap: " + out);
        assertEquals(0, Long.parseLong(f[1]), "maxPhysicalBytes: " + out);
        assertTrue(memory > 64L << 20, "physical memory " + memory);
    }

    /** What the probe JVM runs: tp4j's start-up order, then JavaCPP's view of its limits. */
    public static final class Probe {
        public static void main(String[] args) {
            NativeMemoryLimits.configure();
            System.out.println(Pointer.maxBytes() + " " + Pointer.maxPhysicalBytes());
        }
    }
}
