package dev.tp4j.testutil;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs one task per rank, each on its own thread, as the ranks of a job would run in their own
 * processes; waits a bounded time so a hung collective fails the test instead of hanging it.
 */
public final class RankThreads {
    private RankThreads() {
    }

    @FunctionalInterface
    public interface RankTask<T> {
        T run(int rank) throws Exception;
    }

    /** What one rank's task returned or threw, and how long it ran. */
    public record Outcome<T>(int rank, T value, Throwable error, long nanos) {
        public boolean failed() {
            return error != null;
        }

        public String message() {
            return error == null ? null : error.getMessage();
        }
    }

    public static <T> List<Outcome<T>> outcomes(int ranks, Duration limit, RankTask<T> task) throws InterruptedException {
        List<Outcome<T>> outcomes = new ArrayList<>();
        for (int r = 0; r < ranks; r++) {
            outcomes.add(null);
        }
        List<Thread> threads = new ArrayList<>();
        for (int r = 0; r < ranks; r++) {
            int rank = r;
            Thread t = new Thread(() -> {
                long start = System.nanoTime();
                try {
                    T value = task.run(rank);
                    set(outcomes, rank, new Outcome<>(rank, value, null, System.nanoTime() - start));
                } catch (Throwable e) {
                    set(outcomes, rank, new Outcome<>(rank, null, e, System.nanoTime() - start));
                }
            }, "test-rank-" + r);
            t.setDaemon(true);
            threads.add(t);
            t.start();
        }
        long deadline = System.nanoTime() + limit.toNanos();
        for (int r = 0; r < ranks; r++) {
            Thread t = threads.get(r);
            t.join(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
            if (t.isAlive()) {
                throw new AssertionError("rank " + r + " did not finish within " + limit.toMillis() + " ms");
            }
        }
        synchronized (outcomes) {
            return new ArrayList<>(outcomes);
        }
    }

    /** Every rank's result; fails with every rank's error if any rank failed. */
    public static <T> List<T> run(int ranks, Duration limit, RankTask<T> task) throws InterruptedException {
        return valuesOf(outcomes(ranks, limit, task));
    }

    /** The values, in rank order; fails with every rank's error if any rank failed. */
    public static <T> List<T> valuesOf(List<Outcome<T>> outcomes) {
        AssertionError failure = null;
        List<T> values = new ArrayList<>();
        for (Outcome<T> o : outcomes) {
            if (o.failed()) {
                if (failure == null) {
                    failure = new AssertionError("rank " + o.rank() + " failed: " + o.error(), o.error());
                } else {
                    failure.addSuppressed(new AssertionError("rank " + o.rank() + " failed: " + o.error(), o.error()));
                }
            }
            values.add(o.value());
        }
        if (failure != null) {
            throw failure;
        }
        return values;
    }

    private static <T> void set(List<Outcome<T>> outcomes, int rank, Outcome<T> outcome) {
        synchronized (outcomes) {
            outcomes.set(rank, outcome);
        }
    }
}
