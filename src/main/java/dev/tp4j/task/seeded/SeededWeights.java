package dev.tp4j.task.seeded;

import dev.tp4j.tensor.Tensor;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Seed-addressed initialisation: element {@code (i, j)} of the matrix called {@code name} is a pure
 * function of {@code (seed, name, i, j)}, so each rank fills exactly its slice of the same full matrix
 * a single process would fill. tp changes the sharding and nothing else.
 *
 * <p>Values are uniform in {@code [-bound, bound)}; with {@code bound = 1/√fan_in} this is the range
 * PyTorch's {@code nn.Linear} draws its weights and biases from.
 */
public final class SeededWeights {
    private final long seed;

    public SeededWeights(long seed) {
        this.seed = seed;
    }

    /** nn.Linear's bound for a layer with {@code fanIn} inputs. */
    public static float linearBound(long fanIn) {
        return (float) (1.0 / Math.sqrt(Math.max(1, fanIn)));
    }

    /** Element {@code index} (row-major) of the tensor {@code name}, uniform in [-bound, bound). */
    public float value(String name, long index, float bound) {
        long z = seed * 0x9E3779B97F4A7C15L + nameHash(name);
        z += (index + 1) * 0xBF58476D1CE4E5B9L;
        z = mix(z);
        // 24 random bits → a float in [0, 1) exactly representable, then scaled to [-bound, bound).
        float unit = (z >>> 40) * 0x1.0p-24f;
        return (2f * unit - 1f) * bound;
    }

    /** Fills {@code dst [count, cols]} with rows {@code [firstRow, firstRow + count)} of {@code name [*, cols]}. */
    public void fillRows(String name, long cols, long firstRow, float bound, Tensor dst) {
        fillBlock(name, cols, firstRow, 0, bound, dst);
    }

    /**
     * Fills {@code dst [rows, count]} with columns {@code [firstCol, firstCol + count)} of
     * {@code name [rows, cols]}.
     */
    public void fillColumns(String name, long cols, long firstCol, float bound, Tensor dst) {
        fillBlock(name, cols, 0, firstCol, bound, dst);
    }

    /** A 1-D slice {@code [first, first + dst.numel())} of the vector {@code name}. */
    public void fillSlice(String name, long first, float bound, Tensor dst) {
        FloatBuffer out = dst.floatBuffer();
        int n = Math.toIntExact(dst.numel());
        for (int i = 0; i < n; i++) {
            out.put(i, value(name, first + i, bound));
        }
    }

    /** The whole {@code [rows, cols]} matrix in float64 (exactly the float values), for references. */
    public double[] full(String name, long rows, long cols, float bound) {
        double[] out = new double[Math.toIntExact(Math.multiplyExact(rows, cols))];
        for (int i = 0; i < out.length; i++) {
            out[i] = value(name, i, bound);
        }
        return out;
    }

    private void fillBlock(String name, long cols, long firstRow, long firstCol, float bound, Tensor dst) {
        FloatBuffer out = dst.floatBuffer();
        int rows = dst.rows();
        int width = dst.cols();
        int stride = dst.rowStride();
        for (int i = 0; i < rows; i++) {
            long base = (firstRow + i) * cols + firstCol;
            for (int j = 0; j < width; j++) {
                out.put(i * stride + j, value(name, base + j, bound));
            }
        }
    }

    private static long nameHash(String name) {
        long h = 0xCBF29CE484222325L;
        for (byte b : name.getBytes(StandardCharsets.UTF_8)) {
            h = (h ^ (b & 0xff)) * 0x100000001B3L;
        }
        return mix(h);
    }

    /** SplitMix64's finaliser: every input bit affects every output bit. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
