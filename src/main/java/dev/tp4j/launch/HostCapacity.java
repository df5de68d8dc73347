package dev.tp4j.launch;

import dev.tp4j.BadInputException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.OptionalLong;

/**
 * Whether this host can hold the workers {@code launch} is asked to start, checked before the first one
 * starts. A thousand worker JVMs on a two-core machine do not fail: they start for minutes, swap, and time
 * out one by one. Like Open MPI, which refuses more processes than slots unless {@code --oversubscribe} is
 * given, the launcher refuses (exit 2, naming the limit and the numbers) a count beyond
 *
 * <ul>
 *   <li>{@value #CPU_RANKS_PER_CORE} CPU ranks per core. Open MPI's one per core would refuse the demo (4 ranks)
 *       on the 2-core machines it is meant for; ranks that mostly wait in collectives share a core well, up
 *       to a few, while beyond that they only time-slice and the rendezvous times out under the load.
 *   <li>the memory the host or its container has available, at {@value #WORKER_MIB} MiB per worker JVM: the
 *       resident size measured for a {@code verify} rank (JVM, classes, OpenBLAS buffers); a checkpoint's
 *       shards come on top of it, so this is the least a worker needs, not a promise that it fits.
 * </ul>
 *
 * <p>Available memory is the smallest of {@code MemAvailable} in /proc/meminfo and, for each cgroup limit
 * above this process (v2 {@code memory.max}, v1 {@code memory.limit_in_bytes}), that limit less its usage:
 * in a container, the host's free memory is not what the workers may use.
 */
public final class HostCapacity {

    static final int CPU_RANKS_PER_CORE = 4;
    static final long WORKER_MIB = 200;
    /** cgroup v1 writes "no limit" as a huge number (2^63 rounded down to a page), never as "max". */
    private static final long V1_UNLIMITED = 1L << 60;

    private final int cores;
    private final OptionalLong availableBytes;
    private final String memorySource;

    HostCapacity(int cores, OptionalLong availableBytes, String memorySource) {
        this.cores = cores;
        this.availableBytes = availableBytes;
        this.memorySource = memorySource;
    }

    /** This host as the launcher's JVM sees it (its cores are container-aware already). */
    public static HostCapacity ofThisHost() {
        return read(Runtime.getRuntime().availableProcessors(), Path.of("/"));
    }

    /** Reads /proc and /sys/fs/cgroup under {@code root} (a test gives a directory of its own). */
    static HostCapacity read(int cores, Path root) {
        long best = Long.MAX_VALUE;
        String source = null;
        OptionalLong meminfo = memAvailable(root.resolve("proc/meminfo"));
        if (meminfo.isPresent()) {
            best = meminfo.getAsLong();
            source = "MemAvailable";
        }
        for (String line : lines(root.resolve("proc/self/cgroup"))) {
            String[] f = line.split(":", 3);
            if (f.length != 3) {
                continue;
            }
            boolean v2 = f[0].equals("0") && f[1].isEmpty();
            boolean v1 = List.of(f[1].split(",")).contains("memory");
            if (!v1 && !v2) {
                continue;
            }
            Path mount = v2 ? root.resolve("sys/fs/cgroup") : root.resolve("sys/fs/cgroup/memory");
            String limitFile = v2 ? "memory.max" : "memory.limit_in_bytes";
            String usageFile = v2 ? "memory.current" : "memory.usage_in_bytes";
            // Every level from this process's cgroup up to the mount limits it; in a container whose cgroup
            // is not namespaced the path does not exist below the mount, and the mount's own files count.
            Path dir = mount.resolve(f[2].replaceFirst("^/+", ""));
            while (dir.startsWith(mount)) {
                OptionalLong limit = number(dir.resolve(limitFile));
                OptionalLong usage = number(dir.resolve(usageFile));
                if (limit.isPresent() && limit.getAsLong() < V1_UNLIMITED) {
                    long left = Math.max(0, limit.getAsLong() - usage.orElse(0));
                    if (left < best) {
                        best = left;
                        source = "the cgroup limit " + mib(limit.getAsLong()) + " less " + mib(usage.orElse(0))
                                + " in use (" + "/" + root.relativize(dir.resolve(limitFile)) + ")";
                    }
                }
                if (dir.equals(mount)) {
                    break;
                }
                dir = dir.getParent();
            }
        }
        return new HostCapacity(cores, best == Long.MAX_VALUE ? OptionalLong.empty() : OptionalLong.of(best), source);
    }

    /**
     * Refuses {@code workers} on this host (exit 2 naming the limit and the numbers) when they are more CPU
     * ranks than {@value #CPU_RANKS_PER_CORE} per core or need more memory than is available.
     */
    public void check(int workers, boolean cpuRanks) {
        String howToForce = "; use fewer, or --oversubscribe to start them anyway";
        if (cpuRanks && (long) workers > (long) cores * CPU_RANKS_PER_CORE) {
            throw new BadInputException("--nproc-per-node " + workers + ": " + workers + " CPU ranks on "
                    + cores + (cores == 1 ? " core" : " cores") + " is more than " + CPU_RANKS_PER_CORE
                    + " per core (" + (long) cores * CPU_RANKS_PER_CORE + " at most)" + howToForce);
        }
        if (availableBytes.isPresent()) {
            long need = workers * WORKER_MIB << 20;
            if (need > availableBytes.getAsLong()) {
                throw new BadInputException("--nproc-per-node " + workers + ": " + workers + " worker JVMs need "
                        + "at least " + mib(need) + " (" + WORKER_MIB + " MiB each) but " + mib(availableBytes.getAsLong())
                        + " is available (" + memorySource + ")" + howToForce);
            }
        }
    }

    int cores() {
        return cores;
    }

    OptionalLong availableBytes() {
        return availableBytes;
    }

    private static OptionalLong memAvailable(Path meminfo) {
        for (String line : lines(meminfo)) {
            if (line.startsWith("MemAvailable:")) {
                String[] f = line.substring("MemAvailable:".length()).trim().split("\\s+");
                try {
                    return OptionalLong.of(Long.parseLong(f[0]) * 1024); // always in kB
                } catch (NumberFormatException e) {
                    return OptionalLong.empty();
                }
            }
        }
        return OptionalLong.empty();
    }

    /** A file holding one number; empty when it is missing, unreadable or "max" (cgroup v2: no limit). */
    private static OptionalLong number(Path file) {
        List<String> lines = lines(file);
        if (lines.isEmpty()) {
            return OptionalLong.empty();
        }
        try {
            return OptionalLong.of(Long.parseLong(lines.get(0).trim()));
        } catch (NumberFormatException e) {
            return OptionalLong.empty();
        }
    }

    private static List<String> lines(Path file) {
        try {
            return Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException | SecurityException e) {
            return List.of(); // not Linux, or no such cgroup file: that limit is unknown, not zero
        }
    }

    private static String mib(long bytes) {
        double gib = bytes / (double) (1L << 30);
        return gib >= 1 ? String.format(Locale.ROOT, "%.1f GiB", gib) : (bytes >> 20) + " MiB";
    }
}
