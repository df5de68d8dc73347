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
        // Partition's static form: no object per call. (A `new Partition` here relied on escape analysis,
        // which the JIT does not always apply: TcpRingSteadyStateTest then saw 24 bytes per split.)
        if (size < 0) {
            throw new IllegalArgumentException("size must be >= 0, got " + size);
        }
        int parts = counts.length;
        for (int r = 0; r < parts; r++) {
            offsets[r] = (int) Partition.offset(size, parts, r);
            counts[r] = (int) Partition.count(size, parts, r);
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
