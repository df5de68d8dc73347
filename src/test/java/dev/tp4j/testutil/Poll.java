package dev.tp4j.testutil;

import java.time.Duration;

/**
 * Waits for state a test can observe (a line in a log, a key in a store, a thread blocked in a call)
 * instead of sleeping and hoping it has come: polls until it holds, and fails with what it waited for
 * when the deadline passes, so a slow machine makes the test fail loudly rather than pass vacuously.
 */
public final class Poll {
    private static final long FIRST_PAUSE_MILLIS = 2;
    private static final long MAX_PAUSE_MILLIS = 50;

    private Poll() {
    }

    @FunctionalInterface
    public interface Condition {
        boolean holds() throws Exception;
    }

    /** A value once it is there; null until then. */
    @FunctionalInterface
    public interface Probe<T> {
        T get() throws Exception;
    }

    /** Returns once {@code condition} holds; fails naming {@code state} if it does not within {@code limit}. */
    public static void until(String state, Duration limit, Condition condition) throws Exception {
        until(state, limit, condition, () -> null);
    }

    /** As {@link #until(String, Duration, Condition)}; on failure the message ends with {@code diagnosis} (a log, say). */
    public static void until(String state, Duration limit, Condition condition, Probe<String> diagnosis) throws Exception {
        valueOf(state, limit, () -> condition.holds() ? Boolean.TRUE : null, diagnosis);
    }

    /** The first non-null value of {@code probe}; fails naming {@code state} if none comes within {@code limit}. */
    public static <T> T valueOf(String state, Duration limit, Probe<T> probe, Probe<String> diagnosis) throws Exception {
        long deadline = System.nanoTime() + limit.toNanos();
        long pause = FIRST_PAUSE_MILLIS;
        while (true) {
            T value = probe.get();
            if (value != null) {
                return value;
            }
            if (System.nanoTime() - deadline > 0) {
                String more = diagnosis.get();
                throw new AssertionError("waited " + limit.toMillis() + " ms in vain for " + state
                        + (more == null || more.isEmpty() ? "" : ":\n" + more));
            }
            Thread.sleep(pause);
            pause = Math.min(MAX_PAUSE_MILLIS, pause * 2);
        }
    }
}
