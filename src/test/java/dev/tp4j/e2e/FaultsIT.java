package dev.tp4j.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Faults and strangers through real processes: what users see when a job goes wrong. */
class FaultsIT {

    @AfterEach
    void noStragglers() {
        ProcessHandle.current().descendants().forEach(ProcessHandle::destroyForcibly);
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static Process worker(Path log, int rank, int world, int port, String token, String... args) throws IOException {
        return worker(log, rank, world, port, token, Map.of(), args);
    }

    private static Process worker(Path log, int rank, int world, int port, String token, Map<String, String> extra,
                                  String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Tp4jCommand.ROOT.resolve("bin/tp4j").toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(Tp4jCommand.ROOT.toFile())
                .redirectErrorStream(true).redirectOutput(log.toFile());
        Map<String, String> env = pb.environment();
        env.put("RANK", "" + rank);
        env.put("WORLD_SIZE", "" + world);
        env.put("LOCAL_RANK", "" + rank);
        env.put("LOCAL_WORLD_SIZE", "" + world);
        env.put("MASTER_ADDR", "127.0.0.1");
        env.put("MASTER_PORT", "" + port);
        env.put("TP4J_JOB_TOKEN", token);
        env.putAll(extra);
        return pb.start();
    }

    @Test
    void aRankThatNeverShowsUpIsNamedWhenTheRendezvousTimesOut(@TempDir Path dir) throws Exception {
        // Two ranks declared, only rank 0 started: it must give up after --timeout, naming rank 1.
        Path log = dir.resolve("rank0.txt");
        long start = System.nanoTime();
        Process p = worker(log, 0, 2, freePort(), "t0ken", "verify", "--hidden", "32", "--ffn", "64", "--timeout", "3");
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "rank 0 hung");
        double seconds = (System.nanoTime() - start) / 1e9;
        String out = Files.readString(log);
        assertEquals(1, p.exitValue(), out);
        assertTrue(out.contains("rank 1"), out);
        assertTrue(seconds < 30, "took " + seconds + " s");
        // The failure is one line; on a machine without a usable GPU, rank 0 also printed the one-line
        // notice of --backend auto falling back to CPU ranks when it started.
        long lines = out.strip().lines().filter(l -> !l.startsWith("tp4j: no usable CUDA GPU")).count();
        assertEquals(1, lines, "one line, no stack trace:\n" + out);
    }

    @Test
    void aRankKilledDuringRendezvousEndsTheJob(@TempDir Path dir) throws Exception {
        // Rank 1 is killed in its rendezvous, before rank 0 has even started: rank 0 must not wait forever for it.
        int port = freePort();
        Path log1 = dir.resolve("rank1.txt");
        // Stand where rank 0's store will be, so that rank 1 is seen reaching for it: then it is in its rendezvous.
        try (ServerSocket storePort = new ServerSocket(port, 1, InetAddress.getByName("127.0.0.1"))) {
            Process r1 = worker(log1, 1, 2, port, "t0ken", "verify", "--hidden", "32", "--ffn", "64", "--timeout", "5");
            storePort.setSoTimeout(60_000);
            Socket knock;
            try {
                knock = storePort.accept();
            } catch (SocketTimeoutException e) {
                throw new AssertionError("rank 1 never reached for the store within 60 s:\n" + Files.readString(log1), e);
            }
            try (knock) {
                r1.destroyForcibly().waitFor();
            }
        }
        Path log0 = dir.resolve("rank0.txt");
        Process r0 = worker(log0, 0, 2, port, "t0ken", "verify", "--hidden", "32", "--ffn", "64", "--timeout", "5");
        assertTrue(r0.waitFor(60, TimeUnit.SECONDS), "rank 0 hung");
        assertEquals(1, r0.exitValue(), Files.readString(log0));
        assertTrue(Files.readString(log0).contains("rank 1"), Files.readString(log0));
    }

    /**
     * Without a launcher to stop the others, the survivors must notice a killed rank themselves: over
     * shared memory by its pid, over TCP by its sockets. Well before the 60 s timeout, naming the rank.
     */
    @ParameterizedTest(name = "TP4J_TRANSPORT={0}")
    @ValueSource(strings = {"shm", "tcp"})
    void aRankKilledMidCollectiveIsNamedBySurvivorsWithoutALauncher(String transport, @TempDir Path dir) throws Exception {
        int port = freePort();
        Process[] ranks = new Process[3];
        Path[] logs = new Path[3];
        for (int r = 0; r < 3; r++) {
            logs[r] = dir.resolve("rank" + r + ".txt");
            ranks[r] = worker(logs[r], r, 3, port, "t0ken", Map.of("TP4J_TRANSPORT", transport), "verify", "--hidden", "64",
                    "--ffn", "192", "--repeat", "1000000", "--timeout", "60");
        }
        // Once the ranks have set up their collectives, all they do is run them, a million times over.
        JobProbe.awaitCollectivesSetUp(port, "t0ken", 3, Duration.ofSeconds(60), () -> read(logs));
        assertTrue(ranks[0].isAlive() && ranks[2].isAlive(), Files.readString(logs[0]) + Files.readString(logs[2]));
        long killedAt = System.nanoTime();
        ranks[1].destroyForcibly();
        for (int r : new int[] {0, 2}) {
            assertTrue(ranks[r].waitFor(30, TimeUnit.SECONDS), "rank " + r + " hung after rank 1 was killed");
            double seconds = (System.nanoTime() - killedAt) / 1e9;
            String out = Files.readString(logs[r]);
            assertEquals(1, ranks[r].exitValue(), out);
            assertTrue(out.contains("rank 1 lost"), out);
            assertTrue(seconds < 10, "rank " + r + " took " + seconds + " s\n" + out);
            System.out.printf("TP4J_TRANSPORT=%s: rank %d exited %.2f s after rank 1 was killed: %s%n", transport, r, seconds,
                    out.strip().lines().reduce((a, b) -> b).orElse(""));
        }
    }

    private static String read(Path[] logs) throws IOException {
        StringBuilder all = new StringBuilder();
        for (Path log : logs) {
            all.append(log.getFileName()).append(":\n").append(Files.readString(log));
        }
        return all.toString();
    }

    @Test
    void strangersAtTheStorePortAreRefusedAndTheJobStillFinishes(@TempDir Path dir) throws Exception {
        int port = freePort();
        Path log = dir.resolve("job.txt");
        Process job = new ProcessBuilder(Tp4jCommand.ROOT.resolve("bin/tp4j").toString(), "launch", "--nproc-per-node",
                "2", "--master-port", "" + port, "verify", "--hidden", "48", "--ffn", "96", "--repeat", "300")
                .directory(Tp4jCommand.ROOT.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        List<Socket> silent = new ArrayList<>();
        int attempts = 0;
        for (int i = 0; i < 200 && job.isAlive() && attempts < 6; i++) {
            try {
                Socket s = new Socket();
                s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                switch (attempts % 3) {
                    case 0 -> silent.add(s);                                    // connects and says nothing
                    case 1 -> {                                                 // garbage instead of a proof
                        OutputStream o = s.getOutputStream();
                        o.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                        o.write(new byte[4096]);
                        o.flush();
                        s.close();
                    }
                    default -> s.close();                                       // connects and leaves
                }
                attempts++;
            } catch (IOException notYetListening) {
                Thread.sleep(50);
            }
        }
        assertTrue(job.waitFor(120, TimeUnit.SECONDS), "the job hung with strangers around:\n" + Files.readString(log));
        for (Socket s : silent) {
            s.close();
        }
        String out = Files.readString(log);
        assertTrue(attempts > 0, "never reached the store port");
        assertEquals(0, job.exitValue(), out);
        assertTrue(out.contains("verify: all 4 checks passed on 2 ranks, bitwise stable over 300 repeats"), out);
        assertTrue(out.contains("refused a connection"), "strangers are logged:\n" + out);
    }

    @Test
    void twoJobsOnOneMachineAtOnceDoNotInterfere(@TempDir Path dir) throws Exception {
        Process[] jobs = new Process[2];
        Path[] logs = {dir.resolve("a.txt"), dir.resolve("b.txt")};
        for (int i = 0; i < 2; i++) {
            jobs[i] = new ProcessBuilder(Tp4jCommand.ROOT.resolve("bin/tp4j").toString(), "launch", "--nproc-per-node",
                    "2", "verify", "--hidden", "40", "--ffn", "" + (80 + i), "--repeat", "20")
                    .directory(Tp4jCommand.ROOT.toFile()).redirectErrorStream(true).redirectOutput(logs[i].toFile()).start();
        }
        for (int i = 0; i < 2; i++) {
            assertTrue(jobs[i].waitFor(120, TimeUnit.SECONDS), "job " + i + " hung");
            String out = Files.readString(logs[i]);
            assertEquals(0, jobs[i].exitValue(), out);
            assertTrue(out.contains("ffn " + (80 + i)), out);
            assertTrue(out.contains("all 4 checks passed on 2 ranks"), out);
        }
    }

    @Test
    void anExplicitPortAlreadyInUseIsBadInput() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            Tp4jCommand.Result r = Tp4jCommand.run("launch", "--nproc-per-node", "2", "--master-port",
                    "" + taken.getLocalPort(), "verify");
            assertEquals(2, r.status(), r::all);
            assertTrue(r.err().contains("" + taken.getLocalPort()), r::all);
            assertEquals(1, r.err().strip().lines().count(), r::all);
        }
    }
}
