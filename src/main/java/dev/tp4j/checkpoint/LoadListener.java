package dev.tp4j.checkpoint;

import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;

/**
 * Hears how a rank's shard load advances: a progress bar on a terminal, a line per tensor elsewhere.
 * Byte counts are of the checkpoint's stored bytes (before conversion to the compute dtype).
 */
public interface LoadListener {

    /** Before the first read: how many stored bytes this rank is about to read. */
    default void started(long totalBytes) {
    }

    /** {@code bytes} more stored bytes were read (a block of one tensor). */
    default void advanced(long bytes) {
    }

    /** A tensor's shard is in memory: its name, the shard's shape, the stored dtype, bytes and time. */
    default void tensorLoaded(String name, Shape shard, DType stored, long bytes, long nanos) {
    }

    /**
     * A shard holds {@code count} NaN or infinite values, the first at element {@code first} of the shard:
     * every output that reads them will be NaN, whatever the computation does.
     */
    default void nonFinite(String name, long count, long first) {
    }

    /** After the last read (also when loading failed). */
    default void finished() {
    }

    LoadListener NONE = new LoadListener() {
    };
}
