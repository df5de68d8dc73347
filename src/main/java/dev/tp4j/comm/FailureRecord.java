package dev.tp4j.comm;

import dev.tp4j.rendezvous.RendezvousStore;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * The first diagnosis of a group's failure, kept in the rendezvous store under {@code KEYPREFIX/failure}.
 * A rank that sees a peer vanish may only be seeing a neighbour that gave up after the real loss; the first
 * diagnosis recorded wins, so every rank of the group reports the same cause. Written before a rank closes
 * its links, so a rank that fails because they closed finds it.
 */
public final class FailureRecord {
    private final RendezvousStore store;
    private final String key;

    public FailureRecord(RendezvousStore store, String keyPrefix) {
        this.store = store;
        this.key = keyPrefix + "/failure";
    }

    /** Records {@code message} unless a diagnosis is there already; the first one (ours if we are first), or null
     *  if the store cannot be reached. */
    public String record(String message) {
        try {
            byte[] first = store.setIfAbsent(key, message.getBytes(StandardCharsets.UTF_8));
            return new String(first, StandardCharsets.UTF_8);
        } catch (RuntimeException storeGone) {
            return null; // the store's host (rank 0) may be the rank that was lost, or the network to it
        }
    }

    /** The diagnosis recorded so far, waiting up to {@code wait} for one; null if none came or the store is gone. */
    public String recorded(Duration wait) {
        try {
            return store.getString(key, wait);
        } catch (RuntimeException storeGone) {
            return null;
        }
    }
}
