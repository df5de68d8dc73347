package dev.tp4j.comm.tcp;

import dev.tp4j.tensor.Partition;

/**
 * Each rank's chunk of a buffer (offset and count, by the {@link Partition} rule) in arrays reused by
 * every collective, so the ring loops read plain ints and no layout object is made per call.
 */
final class ChunkLayout {
    private final int[] offsets;
    private final int[] counts;

    ChunkLayout(int parts) {
        offsets = new int[parts];
        counts = new int[parts];
    }

    /** Lays out {@code size} elements over the parts; returns this. */
    ChunkLayout split(int size) {
        Partition partition = new Partition(size, counts.length); // does not escape: scalar-replaced once hot
        for (int r = 0; r < counts.length; r++) {
            offsets[r] = partition.intOffset(r);
            counts[r] = partition.intCount(r);
        }
        return this;
    }

    int offset(int part) {
        return offsets[part];
    }

    int count(int part) {
        return counts[part];
    }

    /** The first chunk is never smaller than another (the first {@code size % parts} take one more). */
    int largest() {
        return counts[0];
    }
}
