package dev.tp4j.launch;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.BadInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issue 14, fault 2: a worker count the host cannot hold is refused before anything starts. */
class HostCapacityTest {

    private static final long GIB = 1L << 30;

    @TempDir
    Path root;

    private void write(String path, String text) throws IOException {
        Path p = root.resolve(path);
        Files.createDirectories(p.getParent());
        Files.writeString(p, text);
    }

    @Test
    void aThousandCpuRanksOnTwoCoresAreRefusedNamingTheLimit() {
        HostCapacity host = new HostCapacity(2, OptionalLong.of(64 * GIB), "MemAvailable");
        BadInputException e = assertThrows(BadInputException.class, () -> host.check(1000, true));
        assertEquals("--nproc-per-node 1000: 1000 CPU ranks on 2 cores is more than 4 per core (8 at most); "
                + "use fewer, or --oversubscribe to start them anyway", e.getMessage());
        // the demo's 4 ranks, and the tests' 5, fit on 2 cores; 8 is the most
        assertDoesNotThrow(() -> host.check(4, true));
        assertDoesNotThrow(() -> host.check(8, true));
        assertThrows(BadInputException.class, () -> host.check(9, true));
        assertDoesNotThrow(() -> host.check(9, false), "GPU ranks are one per device, not per core");
    }

    @Test
    void moreWorkersThanTheAvailableMemoryHoldsAreRefused() {
        HostCapacity host = new HostCapacity(64, OptionalLong.of(GIB), "MemAvailable");
        assertDoesNotThrow(() -> host.check(5, true)); // 5 × 200 MiB = 1000 MiB
        BadInputException e = assertThrows(BadInputException.class, () -> host.check(6, false));
        assertEquals("--nproc-per-node 6: 6 worker JVMs need at least 1.2 GiB (200 MiB each) but 1.0 GiB is "
                + "available (MemAvailable); use fewer, or --oversubscribe to start them anyway", e.getMessage());
    }

    @Test
    void theContainersCgroupLimitCountsWhenItIsBelowTheHostsMemory() throws IOException {
        write("proc/meminfo", "MemTotal:       65000000 kB\nMemFree:         1000000 kB\nMemAvailable:   60000000 kB\n");
        write("proc/self/cgroup", "0::/job/worker\n");
        write("sys/fs/cgroup/job/memory.max", "2147483648\n");     // 2 GiB on the job's cgroup
        write("sys/fs/cgroup/job/memory.current", "1073741824\n");  // 1 GiB of it used
        write("sys/fs/cgroup/job/worker/memory.max", "max\n");     // no limit of its own
        write("sys/fs/cgroup/job/worker/memory.current", "0\n");
        HostCapacity host = HostCapacity.read(16, root);
        assertEquals(OptionalLong.of(GIB), host.availableBytes());
        BadInputException e = assertThrows(BadInputException.class, () -> host.check(8, true));
        assertTrue(e.getMessage().contains("1.0 GiB is available (the cgroup limit 2.0 GiB less 1.0 GiB in use "
                + "(/sys/fs/cgroup/job/memory.max))"), e.getMessage());
    }

    @Test
    void cgroupV1LimitsAreReadAndItsUnlimitedValueIsNoLimit() throws IOException {
        write("proc/meminfo", "MemAvailable:   4194304 kB\n"); // 4 GiB
        write("proc/self/cgroup", "12:pids:/x\n4:memory:/docker/abc\n1:name=systemd:/x\n");
        write("sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes", "9223372036854771712\n");
        write("sys/fs/cgroup/memory/docker/abc/memory.usage_in_bytes", "5000\n");
        assertEquals(OptionalLong.of(4 * GIB), HostCapacity.read(4, root).availableBytes());

        write("sys/fs/cgroup/memory/docker/memory.limit_in_bytes", "1073741824\n");
        write("sys/fs/cgroup/memory/docker/memory.usage_in_bytes", "0\n");
        assertEquals(OptionalLong.of(GIB), HostCapacity.read(4, root).availableBytes());
    }

    @Test
    void withNothingToReadOnlyTheCoresCount() {
        HostCapacity host = HostCapacity.read(1, root.resolve("nothing"));
        assertEquals(OptionalLong.empty(), host.availableBytes());
        assertDoesNotThrow(() -> host.check(4, true));
        assertThrows(BadInputException.class, () -> host.check(5, true));
    }

    @Test
    void thisHostIsReadable() {
        HostCapacity host = HostCapacity.ofThisHost();
        assertEquals(Runtime.getRuntime().availableProcessors(), host.cores());
        assertTrue(host.availableBytes().isEmpty() || host.availableBytes().getAsLong() > 0);
    }
}
