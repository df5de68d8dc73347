package dev.tp4j.e2e;

import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A worker killed (SIGKILL) in the middle of a long {@code verify --repeat}: the launcher must stop
 * the others and exit non-zero, naming what happened, and leave no process behind, neither over
 * shared memory (what {@code auto} picks on one host) nor over the TCP ring. No shared memory file
 * stays in {@code /dev/shm} either: it was unlinked once every rank had mapped it.
 */
class LostWorkerIT {

    @AfterEach
    void noStragglers() {
        ProcessHandle.current().descendants().forEach(ProcessHandle::destroyForcibly);
    }

    @ParameterizedTest(name = "TP4J_TRANSPORT={0}")
    @ValueSource(strings = {"auto", "tcp"})
    void aKilledWorkerEndsTheJobQuicklyAndCompletely(String transport, @TempDir Path dir) throws Exception {
        Path log = dir.resolve("out.txt");
        ProcessBuilder pb = new ProcessBuilder(Tp4jCommand.ROOT.resolve("bin/tp4j").toString(), "launch",
                "--nproc-per-node", "3", "verify", "--hidden", "64", "--ffn", "192", "--repeat", "1000000")
                .directory(Tp4jCommand.ROOT.toFile()).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("TP4J_TRANSPORT", transport);
        Process launcher = pb.start();
        List<ProcessHandle> workers = awaitWorkers(launcher, 3, Duration.ofSeconds(60));
        // Let the ranks get into their collectives before one dies.
        Thread.sleep(1500);
        ProcessHandle victim = workers.get(1);
        long killedAt = System.nanoTime();
        victim.destroyForcibly();
        boolean ended = launcher.waitFor(30, TimeUnit.SECONDS);
        double seconds = (System.nanoTime() - killedAt) / 1e9;
        String out = Files.readString(log);
        assertTrue(ended, "the launcher did not exit within 30 s of a lost worker:\n" + out);
        assertNotEquals(0, launcher.exitValue(), out);
        assertTrue(seconds < 15, "took " + seconds + " s to stop\n" + out);
        assertTrue(out.contains("killed by signal 9") || out.contains("lost"), out);
        for (ProcessHandle w : workers) {
            assertTrue(w.onExit().isDone() || !w.isAlive(), "worker " + w.pid() + " left behind\n" + out);
        }
        System.out.printf("TP4J_TRANSPORT=%s: the job ended %.2f s after rank 1 was killed%n", transport, seconds);
        Path shm = Path.of("/dev/shm");
        if (Files.isDirectory(shm)) {
            try (var files = Files.list(shm)) {
                List<String> left = files.map(f -> f.getFileName().toString())
                        .filter(f -> workers.stream().anyMatch(w -> f.startsWith("tp4j-" + w.pid() + "-")))
                        .collect(Collectors.toList());
                assertTrue(left.isEmpty(), "left in /dev/shm: " + left);
            }
        }
    }

    /** The launcher's worker JVMs, once {@code n} of them run. */
    private static List<ProcessHandle> awaitWorkers(Process launcher, int n, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            List<ProcessHandle> workers = launcher.descendants()
                    .filter(h -> h.info().arguments().map(a -> List.of(a).contains("verify")).orElse(false))
                    .filter(h -> h.parent().map(p -> p.info().arguments()
                            .map(a -> List.of(a).contains("launch")).orElse(false)).orElse(false))
                    .collect(Collectors.toList());
            if (workers.size() >= n) {
                return workers;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("fewer than " + n + " workers started");
    }
}
