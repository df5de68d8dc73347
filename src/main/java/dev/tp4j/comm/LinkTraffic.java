package dev.tp4j.comm;

import java.util.ArrayList;
import java.util.List;

/**
 * What one {@link Link} carried over a piece of work, as reports show it: how many of that link's own
 * collectives ran and the bytes this rank sent on it (for the hierarchical transport: shared memory
 * inside the node, TCP between nodes).
 */
public record LinkTraffic(String link, long collectives, long sentBytes) {

    /** Each link's totals now, to subtract later ({@link #since}). */
    public static List<CommStats.Snapshot> snapshot(List<Link> links) {
        List<CommStats.Snapshot> out = new ArrayList<>(links.size());
        for (Link l : links) {
            out.add(l.stats().snapshot());
        }
        return out;
    }

    /** Per link, what ran after {@code before} (from {@link #snapshot} of the same links) was taken. */
    public static List<LinkTraffic> since(List<Link> links, List<CommStats.Snapshot> before) {
        List<LinkTraffic> out = new ArrayList<>(links.size());
        for (int i = 0; i < links.size(); i++) {
            CommStats.Snapshot ran = links.get(i).stats().since(before.get(i));
            long sent = 0;
            for (CommStats.Summary s : ran.summaries()) {
                sent += s.sentBytes();
            }
            out.add(new LinkTraffic(links.get(i).name(), ran.count(), sent));
        }
        return List.copyOf(out);
    }
}
