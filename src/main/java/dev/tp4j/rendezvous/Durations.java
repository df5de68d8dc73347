package dev.tp4j.rendezvous;

import java.time.Duration;

/** Durations as people read them in error messages: "30s", "1.5s", "250ms". */
public final class Durations {
    private Durations() {
    }

    public static String describe(Duration d) {
        long ms = d.toMillis();
        if (ms < 1000) {
            return ms + "ms";
        }
        if (ms % 1000 == 0) {
            return (ms / 1000) + "s";
        }
        return String.format(java.util.Locale.ROOT, "%.1fs", ms / 1000.0);
    }
}
