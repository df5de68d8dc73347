package dev.tp4j.task.bench;

/** Warm-up, then timed runs of one operation. */
final class Timer {
    private Timer() {
    }

    static Samples time(BenchOptions o, Runnable op) {
        return time(o.warmup(), o.iterations(), op, null);
    }

    /** @param beforeEach untimed work before every run (a barrier, so ranks start together), or null */
    static Samples time(int warmup, int iterations, Runnable op, Runnable beforeEach) {
        for (int i = 0; i < warmup; i++) {
            if (beforeEach != null) {
                beforeEach.run();
            }
            op.run();
        }
        long[] nanos = new long[iterations];
        for (int i = 0; i < iterations; i++) {
            if (beforeEach != null) {
                beforeEach.run();
            }
            long t0 = System.nanoTime();
            op.run();
            nanos[i] = System.nanoTime() - t0;
        }
        return new Samples(nanos);
    }
}
