package dev.tp4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.backend.cuda.CudaAvailability;
import dev.tp4j.launch.Launcher;
import dev.tp4j.launch.ProcessTestSupport;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@code tp4j launch} refuses bad usage once, in the launcher, before any worker starts. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class LaunchCommandTest {

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    @AfterEach
    void noWorkerStarted() {
        List<ProcessHandle> left = ProcessTestSupport.liveDescendants();
        ProcessTestSupport.killDescendants();
        assertEquals(List.of(), left);
    }

    private int run(String... args) {
        out.getBuffer().setLength(0);
        err.getBuffer().setLength(0);
        return Main.execute(Main.commandLine(new PrintWriter(out), new PrintWriter(err)), args);
    }

    /** Exit 2 and exactly one line {@code tp4j: ...} that contains every one of {@code words}. */
    private void assertUsageError(String[] args, String... words) {
        assertEquals(2, run(args), String.join(" ", args) + ": " + err);
        String e = err.toString();
        assertEquals(1, e.lines().count(), "one line: " + e);
        assertTrue(e.startsWith("tp4j: "), e);
        for (String w : words) {
            assertTrue(e.contains(w), "'" + w + "' in " + e);
        }
        assertFalse(e.contains("Usage"), e);
        assertEquals("", out.toString());
    }

    private static String[] a(String... args) {
        return args;
    }

    /** Without a usable GPU, --backend cuda and --transport nccl are refused in one line saying what is missing. */
    @Test
    void cudaWithoutAUsableGpuIsRefusedNamingWhy() {
        CudaAvailability here = CudaAvailability.get();
        Assumptions.assumeFalse(here.usable(), "a CUDA device is usable on this machine");
        assertUsageError(a("launch", "--nproc-per-node", "2", "--backend", "cuda", "verify"), "--backend cuda", here.reason());
        assertUsageError(a("launch", "--nproc-per-node", "1", "--backend", "cpu", "--transport", "nccl", "verify"),
                "--transport nccl", "the ranks run on CPU");
        assertUsageError(a("launch", "--transport", "mpi", "verify"), "--transport", "mpi");
    }

    @Test
    void sharedMemoryAcrossNodesIsRefusedBeforeAnyWorkerStarts() {
        assertUsageError(a("launch", "--nnodes", "2", "--node-rank", "0", "--master-addr", "127.0.0.1",
                "--transport", "shm", "--backend", "cpu", "--nproc-per-node", "1", "verify"), "--transport shm", "2 nodes");
    }

    @Test
    void theReplacedCommOptionPointsToTransport() {
        assertUsageError(a("launch", "--comm", "tcp", "verify"), "--comm was replaced by --transport", "--transport tcp");
    }

    @Test
    void badLaunchOptionsAreNamed() {
        assertUsageError(a("launch", "--nproc-per-node", "0", "verify"), "--nproc-per-node", "0");
        assertUsageError(a("launch", "--nproc-per-node", "-3", "verify"), "--nproc-per-node");
        assertUsageError(a("launch", "--nproc-per-node", "many", "verify"), "--nproc-per-node", "many");
        assertUsageError(a("launch", "--bogus", "verify"), "--bogus");
        assertUsageError(a("launch", "--nnodes", "0", "verify"), "--nnodes");
        assertUsageError(a("launch", "--nnodes", "2", "--node-rank", "2", "--master-addr", "h", "verify"), "--node-rank", "2");
        assertUsageError(a("launch", "--nnodes", "2", "--node-rank", "-1", "--master-addr", "h", "verify"), "--node-rank");
        assertUsageError(a("launch", "--nnodes", "2", "verify"), "--master-addr");
        assertUsageError(a("launch", "--master-port", "0", "verify"), "--master-port", "0");
        assertUsageError(a("launch", "--master-port", "65536", "verify"), "--master-port", "65536");
        assertUsageError(a("launch", "--backend", "gpu", "verify"), "--backend", "gpu");
        assertUsageError(a("launch", "--nproc-per-node", "2"), "TASK");
    }

    /** Issue 14, fault 2: 1000 CPU ranks ran for minutes on a 2-core host; now exit 2 before any starts. */
    @Test
    void moreRanksThanTheHostCanHoldAreRefusedUnlessOversubscribed() {
        int cores = Runtime.getRuntime().availableProcessors();
        Assumptions.assumeTrue(cores < 250, "a host with 250 cores holds 1000 CPU ranks");
        assertUsageError(a("launch", "--nproc-per-node", "1000", "--backend", "cpu", "verify"),
                "--nproc-per-node 1000: 1000 CPU ranks on " + cores, "per core", "--oversubscribe");
    }

    @Test
    void badTaskOptionsFailOnceInTheLauncher() {
        assertUsageError(a("launch", "--nproc-per-node", "2", "verify", "--bogus"), "verify", "--bogus");
        assertUsageError(a("launch", "verify", "--nproc-per-node", "2"), "--nproc-per-node", "before verify");
        assertUsageError(a("launch", "nosuchtask"), "nosuchtask", "verify");
        assertUsageError(a("launch", "launch", "verify"), "unknown task 'launch'");
    }

    @Test
    void aPortInUseIsRefusedBeforeAnyWorkerStarts() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            int port = taken.getLocalPort();
            assertUsageError(a("launch", "--nproc-per-node", "2", "--master-port", Integer.toString(port), "verify"),
                    "--master-port " + port, "in use");
        }
    }

    @Test
    void taskHelpIsPrintedByTheLauncherWithoutWorkers() {
        assertEquals(0, run("launch", "--nproc-per-node", "3", "verify", "--help"));
        assertTrue(out.toString().startsWith("Usage: tp4j verify"), out.toString());
        assertEquals("", err.toString());
    }

    @Test
    void aRealProcessPrintsOneLineAndExitsTwo() throws Exception {
        Process p = new ProcessBuilder(Launcher.currentJava().toString(), "-XX:+UseSerialGC",
                "-cp", ProcessTestSupport.classpath(), Main.class.getName(),
                "launch", "--nproc-per-node", "0", "verify").start();
        p.getOutputStream().close();
        String stdout = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String stderr = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(20, TimeUnit.SECONDS));
        assertEquals(2, p.exitValue(), stderr);
        assertEquals("tp4j: --nproc-per-node must be at least 1, got 0\n", stderr);
        assertEquals("", stdout);
    }
}
