package dev.tp4j.launch;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;

/** Helpers for tests that start real processes. */
public final class ProcessTestSupport {

    private ProcessTestSupport() {
    }

    /**
     * The test classpath, for child JVMs. Surefire may run the tests from a manifest-only jar; it then
     * publishes the real classpath as {@code surefire.test.class.path}.
     */
    public static String classpath() {
        String cp = System.getProperty("surefire.test.class.path");
        return cp != null && !cp.isBlank() ? cp : System.getProperty("java.class.path");
    }

    /** Live processes below this JVM (zombies do not count). */
    public static List<ProcessHandle> liveDescendants() {
        return ProcessHandle.current().descendants().filter(ProcessTestSupport::alive).collect(Collectors.toList());
    }

    /** Alive and not a zombie (a zombie's pid is still there until its parent reaps it). */
    public static boolean alive(ProcessHandle h) {
        if (!h.isAlive()) {
            return false;
        }
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(h.pid()), "stat"));
            int close = stat.lastIndexOf(')');
            return close < 0 || stat.length() <= close + 2 || stat.charAt(close + 2) != 'Z';
        } catch (IOException e) {
            return h.isAlive();
        }
    }

    /** Polls {@code condition} every 20 ms; false if it did not hold within {@code timeout}. */
    public static boolean await(Duration timeout, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(20);
        }
        return true;
    }

    /** Kills (SIGKILL) whatever is still running below this JVM, so one failed test does not leak into the next. */
    public static void killDescendants() {
        ProcessHandle.current().descendants().forEach(ProcessHandle::destroyForcibly);
    }
}
