package dev.tp4j.launch;

import dev.tp4j.runtime.WorkerEnvironment;
import java.time.Duration;
import java.util.Optional;

/**
 * In a worker started by {@link Launcher}: a daemon thread that checks every {@link #PERIOD} that the
 * launcher ({@value #ENV}) is still there, and stops this worker with status 1 and one line on stderr when
 * it is not. So a launcher killed with SIGKILL (which runs no shutdown hook) leaves no orphaned workers.
 *
 * <p>The launcher is gone when its process is no longer alive (the handle also compares start times, so a
 * reused pid does not count) or when this worker was re-parented away from it (which happens the moment
 * the launcher dies, even while it is a zombie). Stopping runs the shutdown hooks ({@code System.exit(1)})
 * with {@code Runtime.halt(1)} as a fallback if they do not finish within {@link #HALT_AFTER}.
 */
public final class LauncherWatchdog {

    public static final String ENV = "TP4J_LAUNCHER_PID";
    public static final Duration PERIOD = Duration.ofMillis(500);
    public static final Duration HALT_AFTER = Duration.ofSeconds(3);

    private static Thread started;

    private LauncherWatchdog() {
    }

    /**
     * Starts the watchdog when {@value #ENV} names a process (once per JVM); empty when this process was
     * not started by a tp4j launcher.
     */
    public static synchronized Optional<Thread> startIfLaunched() {
        if (started != null) {
            return Optional.of(started);
        }
        String v = System.getenv(ENV);
        if (v == null || v.isBlank()) {
            return Optional.empty();
        }
        long pid;
        try {
            pid = Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new WorkerEnvironment.BadEnvironmentException(ENV + "='" + v + "' is not a process id");
        }
        started = start(pid, PERIOD);
        return Optional.of(started);
    }

    static Thread start(long launcherPid, Duration period) {
        Optional<ProcessHandle> launcher = ProcessHandle.of(launcherPid);
        boolean childOfLauncher = parentPid() == launcherPid;
        Thread t = new Thread(() -> watch(launcherPid, launcher, childOfLauncher, period), "tp4j-launcher-watchdog");
        t.setDaemon(true);
        t.start();
        return t;
    }

    private static void watch(long pid, Optional<ProcessHandle> launcher, boolean childOfLauncher,
                              Duration period) {
        while (true) {
            boolean gone = launcher.isEmpty() || !launcher.get().isAlive()
                    || (childOfLauncher && parentPid() != pid);
            if (gone) {
                stop(pid);
                return;
            }
            try {
                Thread.sleep(period.toMillis());
            } catch (InterruptedException e) {
                return; // asked to stop watching
            }
        }
    }

    private static long parentPid() {
        return ProcessHandle.current().parent().map(ProcessHandle::pid).orElse(-1L);
    }

    private static void stop(long pid) {
        String rank = System.getenv("RANK");
        System.err.println("tp4j: the launcher (pid " + pid + ") is gone; "
                + (rank == null ? "this worker" : "rank " + rank) + " stops");
        System.err.flush();
        Thread halt = new Thread(() -> {
            try {
                Thread.sleep(HALT_AFTER.toMillis());
            } catch (InterruptedException ignored) {
                // halt now
            }
            Runtime.getRuntime().halt(1);
        }, "tp4j-watchdog-halt");
        halt.setDaemon(true);
        halt.start();
        System.exit(1);
    }
}
