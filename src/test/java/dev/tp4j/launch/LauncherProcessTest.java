package dev.tp4j.launch;

import static dev.tp4j.launch.ProcessTestSupport.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The launcher as a process of its own ({@link TestLauncherMain}): what happens when it is signalled. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class LauncherProcessTest {

    private final List<ProcessHandle> workers = new ArrayList<>();

    @TempDir
    Path tmp;

    @AfterEach
    void cleanUp() {
        workers.forEach(ProcessHandle::destroyForcibly);
        ProcessTestSupport.killDescendants();
    }

    /** Starts a launcher of {@code nproc} sleeping workers and waits until they all said ready. */
    private Process startLauncher(int nproc, Path stderr) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(Launcher.currentJava().toString(), "-XX:+UseSerialGC",
                "-cp", ProcessTestSupport.classpath(), TestLauncherMain.class.getName(),
                Integer.toString(nproc), "ready", "sleep", "60000");
        pb.environment().remove(Launcher.ENV_JOB_TOKEN);
        pb.redirectError(stderr.toFile());
        Process launcher = pb.start();
        BufferedReader out = new BufferedReader(new InputStreamReader(launcher.getInputStream(), StandardCharsets.UTF_8));
        Pattern ready = Pattern.compile("\\[(\\d+)\\] ready pid=(\\d+)");
        while (workers.size() < nproc) {
            String line = out.readLine();
            if (line == null) {
                throw new AssertionError("launcher ended early: " + Files.readString(stderr));
            }
            Matcher m = ready.matcher(line);
            if (m.matches()) {
                workers.add(ProcessHandle.of(Long.parseLong(m.group(2))).orElseThrow());
            }
        }
        for (ProcessHandle w : workers) {
            assertEquals(launcher.pid(), w.parent().orElseThrow().pid(), "the workers are the launcher's children");
        }
        return launcher;
    }

    private boolean workersGone() {
        return workers.stream().noneMatch(ProcessTestSupport::alive);
    }

    @Test
    void workersStopByThemselvesWhenTheLauncherIsKilled() throws Exception {
        Process launcher = startLauncher(2, tmp.resolve("err"));
        launcher.destroyForcibly(); // SIGKILL: no shutdown hook runs, only the workers' watchdogs can help
        assertTrue(launcher.waitFor(10, TimeUnit.SECONDS));
        long t0 = System.nanoTime();
        assertTrue(await(Duration.ofSeconds(10), this::workersGone), "workers outlived their launcher: " + workers);
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertTrue(ms < 5000, "the watchdog took " + ms + " ms");
    }

    /**
     * Issue 14, fault 2: SIGTERM while the launcher is still starting hundreds of workers stops the starting
     * and every worker started so far, promptly (it took 76–107 s with 1000 JVMs). The workers are a
     * shell script standing in for java, so that the test starts processes, not JVMs.
     */
    @Test
    void sigtermWhileStartingWorkersStopsEverythingPromptly() throws Exception {
        Path started = tmp.resolve("started");
        Path fake = LauncherTest.fakeJava(tmp, started, "exec sleep 60\n");
        int n = 1000;
        ProcessBuilder pb = new ProcessBuilder(Launcher.currentJava().toString(), "-XX:+UseSerialGC",
                "-Dtp4j.test.java=" + fake, "-cp", ProcessTestSupport.classpath(), TestLauncherMain.class.getName(),
                Integer.toString(n), "unused");
        pb.environment().remove(Launcher.ENV_JOB_TOKEN);
        pb.redirectErrorStream(true);
        pb.redirectOutput(tmp.resolve("out").toFile());
        Process launcher = pb.start();
        // Some started and more to come (1000 take minutes to start on a loaded 2-core machine).
        assertTrue(await(Duration.ofSeconds(60), () -> startedCount(started) >= 50), "50 workers did not start");
        launcher.destroy(); // SIGTERM while it is starting the others
        long t0 = System.nanoTime();
        assertTrue(launcher.waitFor(30, TimeUnit.SECONDS), "the launcher did not end");
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        List<String> lines = Files.readAllLines(started);
        for (String line : lines) {
            workers.add(ProcessHandle.of(Long.parseLong(line.split(" ")[1])).orElse(null));
        }
        workers.removeIf(Objects::isNull);
        assertEquals(143, launcher.exitValue(), Files.readString(tmp.resolve("out")));
        assertTrue(workersGone(), "workers outlived their launcher");
        assertTrue(ms < 8_000, "stopping " + lines.size() + " started workers took " + ms + " ms");
    }

    private static long startedCount(Path log) {
        try (var lines = Files.lines(log)) {
            return lines.count();
        } catch (java.io.IOException e) {
            return 0; // not written yet
        }
    }

    @Test
    void sigtermToTheLauncherStopsTheWorkers() throws Exception {
        Path err = tmp.resolve("err");
        Process launcher = startLauncher(2, err);
        launcher.destroy(); // SIGTERM, as a scheduler or Ctrl-C (SIGINT) would send it: the shutdown hook runs
        assertTrue(launcher.waitFor(20, TimeUnit.SECONDS));
        assertEquals(143, launcher.exitValue());
        assertTrue(workersGone(), "workers outlived their launcher: " + workers);
        assertTrue(Files.readString(err).contains("tp4j: interrupted; stopping 2 workers"), Files.readString(err));
    }
}
