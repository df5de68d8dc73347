package dev.tp4j.e2e;

import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.io.SafetensorsWriter;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import dev.tp4j.testutil.FreePort;
import dev.tp4j.testutil.Poll;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
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
        // The store's port and the job's token are ours to choose, so the test can watch the rendezvous.
        int port = FreePort.pick();
        String token = "lost-worker-it";
        ProcessBuilder pb = new ProcessBuilder(Tp4jCommand.ROOT.resolve("bin/tp4j").toString(), "launch",
                "--nproc-per-node", "3", "--master-port", "" + port, "verify", "--hidden", "64", "--ffn", "192",
                "--repeat", "1000000")
                .directory(Tp4jCommand.ROOT.toFile()).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("TP4J_TRANSPORT", transport);
        pb.environment().put("TP4J_JOB_TOKEN", token);
        Process launcher = pb.start();
        List<ProcessHandle> workers = awaitWorkers(launcher, "verify", 3, Duration.ofSeconds(60), log);
        // Let the ranks get into their collectives before one dies: once they have set them up, all they
        // do is run them, a million times over.
        JobProbe.awaitCollectivesSetUp(port, token, 3, Duration.ofSeconds(60), () -> read(log));
        ProcessHandle victim = workers.get(1);
        long killedAt = System.nanoTime();
        assertTrue(victim.destroyForcibly(), "SIGKILL to " + victim.pid() + " " + victim.info());
        victim.onExit().get(10, TimeUnit.SECONDS);
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

    /**
     * A worker killed while the ranks load their shards of a checkpoint (4.5 GiB, sparse, so the test
     * costs no disk): the other rank is stopped before it ever reaches a collective, the launcher exits
     * non-zero naming the lost rank, and nothing is left running.
     */
    @Test
    void aWorkerKilledWhileLoadingACheckpointEndsTheJob(@TempDir Path dir) throws Exception {
        int hidden = 16384;
        int ffn = 24576; // each weight 1.5 GiB of F32; a rank of two reads 2.25 GiB
        Path checkpoint = sparseMlpCheckpoint(dir.resolve("big.safetensors"), hidden, ffn);
        Path input = dir.resolve("in.safetensors");
        new SafetensorsWriter().add("input", Tensor.allocateHost(Shape.of(1, hidden), DType.F32)).write(input);
        Path log = dir.resolve("out.txt");
        Process launcher = new ProcessBuilder(Tp4jCommand.ROOT.resolve("bin/tp4j").toString(), "launch",
                "--nproc-per-node", "2", "mlp", "--checkpoint", checkpoint.toString(), "--up", "mlp.up_proj",
                "--gate", "mlp.gate_proj", "--down", "mlp.down_proj", "--activation", "silu",
                "--input", input.toString(), "--output", dir.resolve("out.safetensors").toString())
                .directory(Tp4jCommand.ROOT.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        List<ProcessHandle> workers = awaitWorkers(launcher, "mlp", 2, Duration.ofSeconds(60), log);
        // Rank 0 reports each tensor as it lands: after the first of three, both ranks are mid-load.
        Poll.until("rank 0 to report its first tensor loaded", Duration.ofSeconds(60), () -> {
            assertTrue(launcher.isAlive(), () -> "ended before loading:\n" + read(log));
            return Files.readString(log).contains("[0] loaded mlp.up_proj.weight");
        }, () -> read(log));
        String before = Files.readString(log);
        assertTrue(!before.contains("down_proj.weight"), "still loading when the worker is killed:\n" + before);
        ProcessHandle victim = workers.get(1);
        long killedAt = System.nanoTime();
        assertTrue(victim.destroyForcibly(), "SIGKILL to " + victim.pid() + " " + victim.info());
        victim.onExit().get(10, TimeUnit.SECONDS);
        boolean ended = launcher.waitFor(30, TimeUnit.SECONDS);
        double seconds = (System.nanoTime() - killedAt) / 1e9;
        String out = read(log);
        assertTrue(ended, "the launcher did not exit within 30 s of a lost worker:\n" + out);
        assertNotEquals(0, launcher.exitValue(), out);
        assertTrue(seconds < 10, "took " + seconds + " s to stop\n" + out);
        assertTrue(out.contains("killed by signal 9"), out);
        assertTrue(!out.contains("tp4j mlp:"), "no report from a failed job\n" + out);
        assertTrue(!Files.exists(dir.resolve("out.safetensors")), "no output from a failed job");
        for (ProcessHandle w : workers) {
            w.onExit().get(5, TimeUnit.SECONDS);
        }
    }

    /** A safetensors MLP whose data section is a hole: the header is real, the weights read as zeros. */
    private static Path sparseMlpCheckpoint(Path file, int hidden, int ffn) throws Exception {
        long bytes = 4L * hidden * ffn;
        String header = String.format(java.util.Locale.ROOT, "{\"mlp.up_proj.weight\":{\"dtype\":\"F32\",\"shape\":[%d,%d],"
                + "\"data_offsets\":[0,%d]},\"mlp.gate_proj.weight\":{\"dtype\":\"F32\",\"shape\":[%d,%d],"
                + "\"data_offsets\":[%d,%d]},\"mlp.down_proj.weight\":{\"dtype\":\"F32\",\"shape\":[%d,%d],"
                + "\"data_offsets\":[%d,%d]}}", ffn, hidden, bytes, ffn, hidden, bytes, 2 * bytes, hidden, ffn,
                2 * bytes, 3 * bytes);
        while (header.length() % 8 != 0) {
            header += " ";
        }
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length());
            f.write(prefix.array());
            f.write(header.getBytes(StandardCharsets.US_ASCII));
            f.setLength(8 + header.length() + 3 * bytes);
        }
        return file;
    }

    private static String read(Path log) {
        try {
            return Files.readString(log);
        } catch (java.io.IOException e) {
            return "(unreadable: " + e + ")";
        }
    }

    /** The launcher's worker JVMs running {@code task}, once {@code n} of them run. */
    private static List<ProcessHandle> awaitWorkers(Process launcher, String task, int n, Duration timeout, Path log)
            throws Exception {
        return Poll.valueOf(n + " workers running " + task, timeout, () -> {
            List<ProcessHandle> workers = launcher.descendants()
                    // A worker is a JVM (not a helper process of the launcher's process spawning) running the task.
                    .filter(h -> h.info().command().map(c -> c.endsWith("/java")).orElse(false))
                    .filter(h -> h.info().arguments().map(a -> List.of(a).contains(task)).orElse(false))
                    .filter(h -> h.parent().map(p -> p.info().arguments()
                            .map(a -> List.of(a).contains("launch")).orElse(false)).orElse(false))
                    .collect(Collectors.toList());
            return workers.size() >= n ? workers : null;
        }, () -> read(log));
    }
}
