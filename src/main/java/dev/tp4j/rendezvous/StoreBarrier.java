package dev.tp4j.rendezvous;

import dev.tp4j.CommunicationException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A barrier through the rendezvous store, for moments when the collectives cannot be used (start-up,
 * shutdown). Each name may be used once per job. When it times out it names the ranks that never
 * arrived, which is what a person debugging a hung job needs.
 */
public final class StoreBarrier {
    private StoreBarrier() {
    }

    public static void await(RendezvousStore store, String name, int rank, int worldSize, Duration timeout) {
        String prefix = "tp4j/barrier/" + name;
        store.set(RendezvousStore.rankKey(prefix, rank), "arrived");
        if (store.add(prefix + "/count", 1) == worldSize) {
            store.set(prefix + "/open", "1");
        }
        try {
            store.get(prefix + "/open", timeout);
        } catch (StoreTimeoutException e) {
            throw new CommunicationException("barrier '" + name + "' timed out after " + Durations.describe(timeout)
                    + ": " + missing(store, prefix, worldSize) + " did not arrive");
        }
    }

    private static String missing(RendezvousStore store, String prefix, int worldSize) {
        List<Integer> absent = new ArrayList<>();
        for (int r = 0; r < worldSize; r++) {
            if (!store.contains(RendezvousStore.rankKey(prefix, r))) {
                absent.add(r);
            }
        }
        if (absent.isEmpty()) {
            return "some rank";
        }
        StringBuilder s = new StringBuilder(absent.size() == 1 ? "rank " : "ranks ");
        for (int i = 0; i < absent.size(); i++) {
            s.append(i == 0 ? "" : ", ").append(absent.get(i));
        }
        return s.toString();
    }
}
