package dev.tp4j.reference;

/**
 * Activations {@code [rows, cols]} in float64 with two bounds on the float32 computation's error
 * {@code Δ = computed − value}: per element {@code |Δ_i| ≤ bound_i} (as in {@link Bounded}), and per row and
 * block of {@code cols / blocks} consecutive columns (an attention head, or the whole row)
 * {@code ‖Δ_block‖₂ ≤ norm[row·blocks + block]}. Both hold at once; each operation derives each from
 * whichever of its inputs' bounds gives the tighter result.
 *
 * <p>Why both: an elementwise bound pushed through a projection becomes {@code Σ_t bound_t·|w_jt|} (every
 * error taking the worst sign for every output at once), which for a k-wide random layer is about √k/2 times
 * what {@code ‖W‖₂·‖Δ‖₂} allows, and the factor compounds layer after layer; the 2-norm goes through a
 * projection with the spectral norm. Elementwise operations (SwiGLU's product, the attention's scores) are
 * where the elementwise bounds are the sharper.
 */
public record BoundedRows(int rows, int cols, int blocks, double[] value, double[] bound, double[] norm) {

    public BoundedRows {
        if (blocks <= 0 || cols % blocks != 0 || value.length != rows * cols || bound.length != value.length
                || norm.length != rows * blocks) {
            throw new IllegalArgumentException("BoundedRows: " + rows + " × " + cols + " in " + blocks + " blocks, "
                    + value.length + " values, " + bound.length + " bounds, " + norm.length + " norms");
        }
    }

    /** Exact values (an embedding's rows): every bound zero. */
    public static BoundedRows exact(int rows, int cols, double[] value) {
        return new BoundedRows(rows, cols, 1, value, new double[value.length], new double[rows]);
    }

    public int blockWidth() {
        return cols / blocks;
    }

    /** A bound on the 2-norm of row {@code r}'s whole error vector: {@code √Σ_b norm²}, or {@code ‖bound_row‖₂}. */
    public double rowNorm(int r) {
        double s = 0;
        for (int b = 0; b < blocks; b++) {
            double n = norm[r * blocks + b];
            s += n * n;
        }
        return Math.min(Math.sqrt(s), elementNorm(r * cols, cols));
    }

    /** The same activations with their error norms given per {@code newBlocks} blocks of each row. */
    public BoundedRows withBlocks(int newBlocks) {
        if (newBlocks == blocks) {
            return this;
        }
        if (cols % newBlocks != 0) {
            throw new IllegalArgumentException(cols + " columns do not split into " + newBlocks + " blocks");
        }
        int width = cols / newBlocks;
        double[] out = new double[rows * newBlocks];
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < newBlocks; b++) {
                int from = r * cols + b * width;
                // The new block lies within the old blocks it overlaps: their norms, combined, bound it too.
                int firstOld = b * width / blockWidth();
                int lastOld = ((b + 1) * width - 1) / blockWidth();
                double s = 0;
                for (int o = firstOld; o <= lastOld; o++) {
                    double n = norm[r * blocks + o];
                    s += n * n;
                }
                out[r * newBlocks + b] = Math.min(Math.sqrt(s), elementNorm(from, width));
            }
        }
        return new BoundedRows(rows, cols, newBlocks, value, bound, out);
    }

    /** The elementwise view: values and bounds. */
    public Bounded toBounded() {
        return new Bounded(value, bound);
    }

    /** {@code ‖bound[from, from + count)‖₂}. */
    double elementNorm(int from, int count) {
        double s = 0;
        for (int i = from; i < from + count; i++) {
            s += bound[i] * bound[i];
        }
        return Math.sqrt(s);
    }

    /**
     * Makes the two bounds consistent in place: each element's bound is at most its block's norm bound
     * ({@code |Δ_i| ≤ ‖Δ_block‖₂}), each block's norm bound at most the 2-norm of its elements' bounds; a NaN
     * bound becomes infinite.
     */
    BoundedRows tightened() {
        // A bound that overflowed into NaN (∞·0) is no bound at all: infinity, never NaN.
        for (int i = 0; i < bound.length; i++) {
            if (Double.isNaN(bound[i])) {
                bound[i] = Double.POSITIVE_INFINITY;
            }
        }
        for (int i = 0; i < norm.length; i++) {
            if (Double.isNaN(norm[i])) {
                norm[i] = Double.POSITIVE_INFINITY;
            }
        }
        int width = blockWidth();
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < blocks; b++) {
                int from = r * cols + b * width;
                double n = Math.min(norm[r * blocks + b], elementNorm(from, width));
                norm[r * blocks + b] = n;
                for (int i = from; i < from + width; i++) {
                    bound[i] = Math.min(bound[i], n);
                }
            }
        }
        return this;
    }
}
