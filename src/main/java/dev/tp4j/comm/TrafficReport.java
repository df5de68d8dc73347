package dev.tp4j.comm;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** How reports show the collectives a piece of work ran: one line for people, a list for {@code --json}. */
public final class TrafficReport {
    private TrafficReport() {
    }

    /** {@code "1 all_reduce, 1.0 MiB, 0.52 ms"}, comma-joined per op. */
    public static String text(List<CommStats.Summary> traffic) {
        StringBuilder sb = new StringBuilder();
        for (CommStats.Summary s : traffic) {
            if (sb.length() > 0) {
                sb.append(", ");
            }
            sb.append(String.format(Locale.ROOT, "%d %s, %s, %.2f ms", s.count(), s.op().label(), bytes(s.payloadBytes()),
                    s.nanos() / 1e6));
        }
        return sb.toString();
    }

    public static List<Object> json(List<CommStats.Summary> traffic) {
        List<Object> out = new ArrayList<>();
        for (CommStats.Summary s : traffic) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("op", s.op().label());
            m.put("count", s.count());
            m.put("bytes", s.payloadBytes());
            m.put("sent_bytes", s.sentBytes());
            m.put("time_ms", s.nanos() / 1e6);
            out.add(m);
        }
        return out;
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
