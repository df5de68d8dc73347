package dev.tp4j.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 14, fault 5: an output on a full disk failed with "tp4j: UncheckedIOException: ...". The disk is a
 * 1 MiB tmpfs mounted in a mount namespace of the test's own ({@code unshare -Urm}: no root needed where
 * user namespaces are enabled, and the mount goes away with the process), the output 2 MiB.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class DiskFullIT {
    private static final int HIDDEN = 8;
    private static final long TOKENS = 65536;

    @TempDir
    Path dir;

    private static boolean unshareWorks() {
        try {
            Process p = new ProcessBuilder("unshare", "-Urm", "true").redirectErrorStream(true).start();
            return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    @Test
    void anOutputOnAFullDiskIsOneLineNamingTheFileAndLeavesNothing() throws Exception {
        Assumptions.assumeTrue(unshareWorks(), "unshare -Urm (user and mount namespaces) is not available here");
        LargeOutputMlp.write(dir, HIDDEN, TOKENS);
        Path full = Files.createDirectory(dir.resolve("full"));
        Path out = full.resolve("out.safetensors");
        String script = "mount -t tmpfs -o size=1m tmpfs \"$1\" || exit 99; shift; \"$@\"; rc=$?; "
                + "echo \"left: $(ls -A " + full + ")\"; exit $rc";
        Path log = dir.resolve("log");
        Process p = new ProcessBuilder(List.of("unshare", "-Urm", "sh", "-c", script, "sh", full.toString(),
                Tp4jCommand.ROOT.resolve("bin/tp4j").toString(), "mlp",
                "--checkpoint", dir.resolve("ck.safetensors").toString(), "--up", "mlp.up", "--down", "mlp.down",
                "--activation", "relu", "--input", dir.resolve("in.safetensors").toString(), "--output", out.toString()))
                .directory(Tp4jCommand.ROOT.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        assertTrue(p.waitFor(100, TimeUnit.SECONDS), "tp4j did not finish");
        String output = Files.readString(log);
        Assumptions.assumeTrue(p.exitValue() != 99, "cannot mount a tmpfs in a user namespace here: " + output);
        assertEquals(1, p.exitValue(), output);
        List<String> ours = output.lines().filter(l -> l.startsWith("tp4j: ") && !l.contains("CUDA")).toList();
        assertEquals(List.of("tp4j: " + out + ": cannot write: no space left on device"), ours, output);
        assertTrue(output.contains("left: \n") || output.endsWith("left: "), "the temporary stayed: " + output);
    }
}
