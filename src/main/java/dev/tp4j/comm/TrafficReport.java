package dev.tp4j.comm;

import java.util.List;
import java.util.Locale;

/** How reports show collectives to people; their JSON is the {@link CollectiveTraffic} records themselves. */
public final class TrafficReport {
    private TrafficReport() {
    }

    /** {@code "1 all_reduce, 1.0 MiB, 0.52 ms"}, comma-joined per op. */
    public static String text(List<CollectiveTraffic> traffic) {
        StringBuilder sb = new StringBuilder();
        for (CollectiveTraffic t : traffic) {
            if (sb.length() > 0) {
                sb.append(", ");
            }
            sb.append(String.format(Locale.ROOT, "%d %s, %s, %.2f ms", t.count(), t.op(), bytes(t.bytes()), t.timeMs()));
        }
        return sb.toString();
    }

    /** Bytes in B, KiB, MiB or GiB with one decimal. */
    public static String bytes(long n) {
        if (n < 1024) {
            return n + " B";
        }
        if (n < 1024 * 1024) {
            return String.format(Locale.ROOT, "%.1f KiB", n / 1024.0);
        }
        if (n < 1024L * 1024 * 1024) {
            return String.format(Locale.ROOT, "%.1f MiB", n / (1024.0 * 1024));
        }
        return String.format(Locale.ROOT, "%.2f GiB", n / (1024.0 * 1024 * 1024));
    }
}
