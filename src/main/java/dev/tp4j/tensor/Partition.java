package dev.tp4j.tensor;

/**
 * How a size is split over tp ranks: the first {@code size % tp} ranks take one more element
 * (row, column, collective chunk). The one rule used by the loader, the layers, the collectives and
 * verification, so a shard always means the same slice everywhere.
 */
public record Partition(long size, int parts) {

    public Partition {
        if (size < 0) {
            throw new IllegalArgumentException("size must be >= 0, got " + size);
        }
        if (parts < 1) {
            throw new IllegalArgumentException("parts must be >= 1, got " + parts);
        }
    }

    /** Number of elements part {@code r} holds. */
    public long count(int r) {
        checkPart(r);
        return count(size, parts, r);
    }

    /** Index of the first element part {@code r} holds. */
    public long offset(int r) {
        checkPart(r);
        return offset(size, parts, r);
    }

    /**
     * {@link #count(int)} without a Partition object, for hot loops that must not allocate whatever the
     * JIT decides (arguments unchecked: {@code size >= 0}, {@code 0 <= r < parts}).
     */
    public static long count(long size, int parts, int r) {
        return size / parts + (r < size % parts ? 1 : 0);
    }

    /** {@link #offset(int)} without a Partition object (arguments unchecked, as {@link #count(long, int, int)}). */
    public static long offset(long size, int parts, int r) {
        long base = size / parts;
        long extra = size % parts;
        return r * base + Math.min(r, extra);
    }

    public int intCount(int r) {
        return Math.toIntExact(count(r));
    }

    public int intOffset(int r) {
        return Math.toIntExact(offset(r));
    }

    public boolean isEven() {
        return size % parts == 0;
    }

    private void checkPart(int r) {
        if (r < 0 || r >= parts) {
            throw new IndexOutOfBoundsException("part " + r + " of " + parts);
        }
    }
}
