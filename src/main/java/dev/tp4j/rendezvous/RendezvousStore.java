package dev.tp4j.rendezvous;

import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * The job's small shared key-value store, hosted by rank 0, through which ranks find each other and
 * agree (addresses, counters, barriers). Values are bytes; counters are decimal text.
 *
 * <p>Keys that end in {@code /rank/N} stand for rank N: when a {@link #get} on such a key times out, the
 * error says that rank N did not show up.
 */
public interface RendezvousStore extends AutoCloseable {

    void set(String key, byte[] value);

    /**
     * Blocks until {@code key} exists and returns its value; throws {@link StoreTimeoutException}
     * (naming the key, and the rank it stands for) after {@code timeout}.
     */
    byte[] get(String key, Duration timeout);

    /** Adds {@code delta} to the counter at {@code key} (absent counts as 0) and returns the new value. */
    long add(String key, long delta);

    /** Stores {@code value} unless the key exists; returns the value the key holds afterwards. */
    byte[] setIfAbsent(String key, byte[] value);

    boolean contains(String key);

    @Override
    void close();

    default void set(String key, String value) {
        set(key, value.getBytes(StandardCharsets.UTF_8));
    }

    default String getString(String key, Duration timeout) {
        return new String(get(key, timeout), StandardCharsets.UTF_8);
    }

    /** The conventional key for something rank {@code rank} publishes under {@code prefix}. */
    static String rankKey(String prefix, int rank) {
        return prefix + "/rank/" + rank;
    }
}
