package dev.tp4j.launch;

import dev.tp4j.runtime.BackendChoice;
import static dev.tp4j.launch.ProcessTestSupport.await;
import static dev.tp4j.launch.ProcessTestSupport.liveDescendants;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.BadInputException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The launcher in this JVM, its workers ({@link TestWorker}) as real processes. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class LauncherTest {

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    @AfterEach
    void nothingLeftBehind() {
        List<ProcessHandle> left = liveDescendants();
        ProcessTestSupport.killDescendants();
        assertEquals(List.of(), left, "processes left behind");
    }

    private static Map<String, String> cleanEnvironment() {
        Map<String, String> env = new HashMap<>(System.getenv());
        env.remove(Launcher.ENV_JOB_TOKEN);
        env.remove(Launcher.ENV_OPENBLAS_THREADS);
        env.remove(BackendChoice.ENV);
        return env;
    }

    private Launcher.Builder launcher(int nproc, String... steps) {
        return Launcher.builder()
                .nprocPerNode(nproc)
                .command(TestWorker.class.getName(), Arrays.asList(steps))
                .classpath(ProcessTestSupport.classpath())
                .environment(cleanEnvironment())
                .grace(Duration.ofSeconds(2))
                .output(out, err);
    }

    private String stdout() {
        return out.toString(StandardCharsets.UTF_8);
    }

    private String stderr() {
        return err.toString(StandardCharsets.UTF_8);
    }

    /** rank → (variable → value) from the workers' {@code env} output. */
    private static Map<Integer, Map<String, String>> envByRank(String output) {
        Map<Integer, Map<String, String>> m = new HashMap<>();
        Matcher x = Pattern.compile("(?m)^\\[(\\d+)\\] ([\\w.]+)=(.*)$").matcher(output);
        while (x.find()) {
            m.computeIfAbsent(Integer.parseInt(x.group(1)), k -> new HashMap<>()).put(x.group(2), x.group(3));
        }
        return m;
    }

    @Test
    void everyRankGetsTheWorkerEnvironment() throws Exception {
        int status = launcher(3, "env")
                .jvmOptions(List.of("-Dtp4j.test.marker=yes"))
                .extraEnvironment(Map.of(BackendChoice.ENV, "cpu"))
                .build().run();
        assertEquals(0, status, stderr());

        Map<Integer, Map<String, String>> env = envByRank(stdout());
        assertEquals(3, env.size(), stdout());
        String token = env.get(0).get("TP4J_JOB_TOKEN");
        assertTrue(token.matches("[0-9a-f]{64}"), token);
        String port = env.get(0).get("MASTER_PORT");
        assertTrue(Integer.parseInt(port) > 0, port);
        String blas = Integer.toString(Math.max(1, Runtime.getRuntime().availableProcessors() / 3));
        for (int r = 0; r < 3; r++) {
            Map<String, String> e = env.get(r);
            assertEquals(Integer.toString(r), e.get("RANK"));
            assertEquals("3", e.get("WORLD_SIZE"));
            assertEquals(Integer.toString(r), e.get("LOCAL_RANK"));
            assertEquals("3", e.get("LOCAL_WORLD_SIZE"));
            assertEquals("127.0.0.1", e.get("MASTER_ADDR"));
            assertEquals(port, e.get("MASTER_PORT"));
            assertEquals(token, e.get("TP4J_JOB_TOKEN"), "one token per job");
            assertEquals(Long.toString(ProcessHandle.current().pid()), e.get("TP4J_LAUNCHER_PID"));
            assertEquals(blas, e.get("OPENBLAS_NUM_THREADS"));
            assertEquals("cpu", e.get("TP4J_BACKEND"));
            assertEquals("yes", e.get("prop.tp4j.test.marker"), "JVM options reach the workers");
        }

        out.reset();
        assertEquals(0, launcher(1, "env").build().run());
        String second = envByRank(stdout()).get(0).get("TP4J_JOB_TOKEN");
        assertTrue(second.matches("[0-9a-f]{64}"), second);
        assertNotEquals(token, second, "a new token per job");
    }

    @Test
    void secondNodeNumbersItsRanksAfterTheFirstAndKeepsTheGivenToken() throws Exception {
        Map<String, String> env = cleanEnvironment();
        env.put(Launcher.ENV_JOB_TOKEN, "sharedsecret");
        env.put(Launcher.ENV_OPENBLAS_THREADS, "7");
        int status = launcher(2, "env").environment(env)
                .nodes(2, 1).masterAddr("10.1.2.3").masterPort(29555)
                .build().run();
        assertEquals(0, status, stderr());
        Map<Integer, Map<String, String>> byRank = envByRank(stdout());
        assertEquals(List.of(2, 3), byRank.keySet().stream().sorted().collect(Collectors.toList()), stdout());
        for (int r = 2; r < 4; r++) {
            Map<String, String> e = byRank.get(r);
            assertEquals(Integer.toString(r), e.get("RANK"));
            assertEquals("4", e.get("WORLD_SIZE"));
            assertEquals(Integer.toString(r - 2), e.get("LOCAL_RANK"));
            assertEquals("2", e.get("LOCAL_WORLD_SIZE"));
            assertEquals("10.1.2.3", e.get("MASTER_ADDR"));
            assertEquals("29555", e.get("MASTER_PORT"));
            assertEquals("sharedsecret", e.get("TP4J_JOB_TOKEN"));
            assertEquals("7", e.get("OPENBLAS_NUM_THREADS"), "a value the user set is kept");
        }
    }

    @Test
    void linesArePrefixedAndNeverTorn() throws Exception {
        // stdout and stderr into one stream: lines of different workers and streams must still be whole
        ByteArrayOutputStream both = new ByteArrayOutputStream();
        int lines = 300;
        int status = launcher(3, "lines", Integer.toString(lines), "200").output(both, both).build().run();
        assertEquals(0, status);
        Pattern outLine = Pattern.compile("\\[(\\d)\\] rank (\\d) line (\\d+) x{200}");
        Pattern errLine = Pattern.compile("\\[(\\d)\\] rank (\\d) err (\\d+)");
        int[] outCount = new int[3];
        int[] errCount = new int[3];
        for (String line : both.toString(StandardCharsets.UTF_8).split("\n", -1)) {
            if (line.isEmpty()) {
                continue;
            }
            Matcher o = outLine.matcher(line);
            Matcher e = errLine.matcher(line);
            if (o.matches() && o.group(1).equals(o.group(2))) {
                outCount[Integer.parseInt(o.group(1))]++;
            } else if (e.matches() && e.group(1).equals(e.group(2))) {
                errCount[Integer.parseInt(e.group(1))]++;
            } else {
                throw new AssertionError("torn or unprefixed line: " + line);
            }
        }
        assertEquals(List.of(lines, lines, lines), Arrays.stream(outCount).boxed().collect(Collectors.toList()));
        assertEquals(List.of(lines / 10, lines / 10, lines / 10),
                Arrays.stream(errCount).boxed().collect(Collectors.toList()));
    }

    @Test
    void aFailingWorkerStopsTheOthersAndItsStatusIsTheLaunchers() throws Exception {
        long t0 = System.nanoTime();
        int status = launcher(3, "ready", "exit-if-rank", "1", "3", "300", "sleep", "60000").build().run();
        assertEquals(3, status);
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(20), "the sleeping ranks were stopped");
        assertTrue(stderr().contains("[1] rank 1 fails on purpose\n"), stderr());
        List<String> ours = stderr().lines().filter(l -> l.startsWith("tp4j: ")).collect(Collectors.toList());
        assertEquals(List.of("tp4j: rank 1 exited with status 3; stopping the other 2 ranks"), ours);
        assertEquals(List.of(), liveDescendants());
    }

    @Test
    void aWorkerKilledBySignal9IsReportedAndTheOthersStopped() throws Exception {
        ExecutorService ex = Executors.newSingleThreadExecutor();
        try {
            Launcher l = launcher(3, "ready", "sleep", "60000").build();
            Future<Integer> run = ex.submit(l::run);
            Pattern ready = Pattern.compile("(?m)^\\[(\\d)\\] ready pid=(\\d+)$");
            assertTrue(await(Duration.ofSeconds(30), () -> ready.matcher(stdout()).results().count() == 3), stdout());
            long pid = ready.matcher(stdout()).results().filter(m -> m.group(1).equals("2"))
                    .mapToLong(m -> Long.parseLong(m.group(2))).findFirst().orElseThrow();
            ProcessHandle victim = ProcessHandle.current().descendants().filter(h -> h.pid() == pid)
                    .findFirst().orElseThrow(() -> new AssertionError("rank 2 is not among the launcher's descendants"));
            assertEquals(3, liveDescendants().size());
            assertTrue(victim.destroyForcibly());

            assertEquals(137, run.get(30, TimeUnit.SECONDS));
            assertTrue(stderr().contains("tp4j: rank 2 exited with status 137 (killed by signal 9); stopping the other 2 ranks\n"),
                    stderr());
            assertEquals(List.of(), liveDescendants());
        } finally {
            ex.shutdownNow();
        }
    }

    /**
     * Issue 14, fault 2: the launcher used to start every worker before it looked at any, so a failure
     * while hundreds were starting went unseen for minutes. Workers here are a shell script standing in
     * for java (rank 0 fails at once, the others sleep), so starting 300 is cheap and quick.
     */
    @Test
    void aWorkerThatFailsWhileOthersAreStartingStopsTheStarting(@TempDir Path tmp) throws Exception {
        Path started = tmp.resolve("started");
        Path java = fakeJava(tmp, started, "if [ \"$RANK\" = 0 ]; then echo 'rank 0 fails on purpose' >&2; exit 3; fi\n"
                + "exec sleep 60\n");
        int n = 300;
        int status = launcher(n).java(java).build().run();
        assertEquals(3, status, stderr());
        Matcher m = Pattern.compile("(?m)^tp4j: rank 0 exited with status 3(; stopping the other (?:rank|\\d+ ranks) and|;) "
                + "starting no more \\((\\d+) of 300 were started\\)$").matcher(stderr());
        assertTrue(m.find(), stderr());
        assertTrue(Integer.parseInt(m.group(2)) < n, m.group());
        assertTrue(Files.readAllLines(started).size() <= Integer.parseInt(m.group(2)));
        assertEquals(List.of(), liveDescendants());
    }

    /** A stand-in for java: logs "RANK PID" to {@code log}, then runs {@code body} (sh). */
    static Path fakeJava(Path dir, Path log, String body) throws IOException {
        Path java = dir.resolve("fake-java");
        Files.writeString(java, "#!/bin/sh\necho \"$RANK $$\" >> '" + log + "'\n" + body);
        assertTrue(java.toFile().setExecutable(true));
        return java;
    }

    @Test
    void anExplicitPortInUseFailsBeforeAnythingStarts() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            int port = taken.getLocalPort();
            BadInputException e = assertThrows(BadInputException.class,
                    () -> launcher(2, "env").masterPort(port).build().run());
            assertEquals("--master-port " + port + " is already in use on 127.0.0.1", e.getMessage());
        }
        assertEquals("", stdout());
        assertEquals(List.of(), liveDescendants());
    }

    @Test
    void aBadConfigurationNamesTheFlag() {
        assertFlag("--nproc-per-node", () -> launcher(0).build());
        assertFlag("--nnodes", () -> launcher(1).nodes(0, 0).build());
        assertFlag("--node-rank", () -> launcher(1).nodes(2, 2).masterAddr("h").build());
        assertFlag("--node-rank", () -> launcher(1).nodes(2, -1).masterAddr("h").build());
        assertFlag("--master-port", () -> launcher(1).masterPort(65536).build());
        assertFlag("--master-addr", () -> launcher(1).nodes(2, 0).build());
        // several nodes need a shared secret: refused before anything starts
        assertFlag(Launcher.ENV_JOB_TOKEN, () -> launcher(1).nodes(2, 1).masterAddr("h").masterPort(29500).build().run());
    }

    private static void assertFlag(String flag, org.junit.jupiter.api.function.Executable ex) {
        BadInputException e = assertThrows(BadInputException.class, ex);
        assertTrue(e.getMessage().contains(flag), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
    }

    @Test
    void statusDescriptionNamesTheSignal() {
        assertEquals("status 3", Launcher.describeStatus(3));
        assertEquals("status 137 (killed by signal 9)", Launcher.describeStatus(137));
        assertEquals("status 143 (killed by signal 15)", Launcher.describeStatus(143));
        assertEquals("status 128", Launcher.describeStatus(128));
    }
}
