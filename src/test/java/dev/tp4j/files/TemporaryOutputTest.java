package dev.tp4j.files;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 14, fault 3: an interrupted write left a hidden {@code .NAME.<hex>.tmp} that no later run removed.
 * Stale temporaries of dead writers go; a live writer's, a stranger's and other targets' stay.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class TemporaryOutputTest {

    @TempDir
    Path dir;

    private Process liveWriter;

    @AfterEach
    void stopTheLiveWriter() {
        if (liveWriter != null) {
            liveWriter.destroyForcibly();
        }
    }

    /** The host-and-namespace part of this JVM's temporary names, read off one it made. */
    private String where(Path target) throws IOException {
        try (TemporaryOutput t = TemporaryOutput.beside(target)) {
            Matcher m = Pattern.compile("\\.out\\.safetensors\\.([0-9a-f]{8})-" + ProcessHandle.current().pid()
                    + "\\.[0-9a-f]+\\.tmp").matcher(t.path().getFileName().toString());
            assertTrue(m.matches(), t.path().toString());
            return m.group(1);
        }
    }

    private static long deadPid() throws Exception {
        Process p = new ProcessBuilder("true").start();
        assertTrue(p.waitFor(10, TimeUnit.SECONDS));
        return p.pid();
    }

    private Path touch(String name) throws IOException {
        return Files.write(dir.resolve(name), new byte[] {1, 2, 3});
    }

    @Test
    void staleTemporariesOfDeadWritersAreRemovedAndNothingElse() throws Exception {
        Path target = dir.resolve("out.safetensors");
        String where = where(target);
        liveWriter = new ProcessBuilder("sleep", "60").start();
        long dead = deadPid();

        Path ofDeadWriter = touch(".out.safetensors." + where + "-" + dead + ".1f2e3d.tmp");
        Path ofLiveWriter = touch(".out.safetensors." + where + "-" + liveWriter.pid() + ".4c5b6a.tmp");
        // the pid is alive, but its process started after the file was last written: a reused pid
        Path ofReusedPid = touch(".out.safetensors." + where + "-" + liveWriter.pid() + ".777.tmp");
        Files.setLastModifiedTime(ofReusedPid, FileTime.from(Instant.now().minusSeconds(3600)));
        Path ofAnotherHost = touch(".out.safetensors.0badc0de-" + dead + ".1f2e3d.tmp");
        Path ofAnotherTarget = touch(".other.safetensors." + where + "-" + dead + ".1f2e3d.tmp");
        Path oldStyle = touch(".out.safetensors.5d2c1b0a9f8e7d6c.tmp"); // no writer named: cannot be judged
        Path lookalike = touch(".out.safetensors." + where + "-" + dead + ".1f2e3d.tmp.keep");

        List<Path> removed = TemporaryOutput.removeStale(target);

        assertEquals(List.of(ofDeadWriter, ofReusedPid).stream().sorted().toList(), removed.stream().sorted().toList());
        assertFalse(Files.exists(ofDeadWriter));
        assertFalse(Files.exists(ofReusedPid));
        for (Path kept : List.of(ofLiveWriter, ofAnotherHost, ofAnotherTarget, oldStyle, lookalike)) {
            assertTrue(Files.exists(kept), kept + " was removed");
        }
    }

    @Test
    void aNewWriterRemovesTheStaleOnesAndKeepsTheOtherLiveWritersFile() throws Exception {
        Path target = dir.resolve("out.safetensors");
        String where = where(target);
        liveWriter = new ProcessBuilder("sleep", "60").start();
        Path stale = touch(".out.safetensors." + where + "-" + deadPid() + ".abc.tmp");
        Path concurrent = touch(".out.safetensors." + where + "-" + liveWriter.pid() + ".def.tmp");
        try (TemporaryOutput t = TemporaryOutput.beside(target)) {
            assertFalse(Files.exists(stale));
            assertTrue(Files.exists(concurrent), "a live writer's temporary was removed");
            Files.writeString(t.path(), "whole");
            t.commit();
        }
        assertEquals("whole", Files.readString(target));
        assertTrue(Files.exists(concurrent));
    }

    @Test
    void anUncommittedTemporaryIsRemovedOnClose() throws Exception {
        Path target = dir.resolve("out.safetensors");
        Path path;
        try (TemporaryOutput t = TemporaryOutput.beside(target)) {
            path = t.path();
            Files.writeString(path, "half");
            assertTrue(Files.exists(path));
        }
        assertFalse(Files.exists(path));
        assertFalse(Files.exists(target));
        try (var files = Files.list(dir)) {
            assertEquals(List.of(), files.toList());
        }
    }
}
