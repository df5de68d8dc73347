package dev.tp4j.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.io.BFloat16;
import dev.tp4j.io.Float16;
import dev.tp4j.reference.BoundedRows;
import dev.tp4j.reference.Float64DecoderOps;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * What every {@link Backend} with {@link Backend#hasDecoderOps()} promises for the decoder-model operations,
 * checked against each implementation (a subclass says how to open one): each result against its float64
 * value, within the bound that {@link Float64DecoderOps} derives for the float32 recipe the operation
 * follows (the same bounds {@code generate --verify} relies on), on exact inputs. The embedding is a copy:
 * exact. Inputs come from the host and results go back through {@link Backend#copyFromHost} and
 * {@link Backend#copyToHost}, so the same checks run on device tensors.
 *
 * <p>Each case is built to catch a plausible kernel mistake: output rows filled with garbage first (a
 * skipped write of zeros), rows of the KV cache beyond the visible positions set to 10³⁰ (a read past the
 * causal limit), heads wider than a GPU block's threads, more positions than one chunk of them, grouped
 * kv heads, column windows, a position far from 0 (the angle's rounding), and an eps large enough to matter.
 */
public abstract class DecoderOpsContract {
    private static final double U = 0x1.0p-24;

    protected Backend backend;

    /** The backend under test; may skip (an assumption) saying why it cannot be opened here. */
    protected abstract Backend open();

    @BeforeEach
    void openBackend() {
        backend = open();
    }

    @AfterEach
    void closeBackend() {
        if (backend != null) {
            backend.close();
        }
    }

    @Test
    void itHasTheDecoderOps() {
        assertTrue(backend.hasDecoderOps(), backend.describe());
    }

    /** Every row of the block is copied exactly (in each dtype the backend keeps tables in); other ids give zeros. */
    @Test
    void embeddingCopiesTheBlocksRowsAndZeroesTheRest() {
        int rows = 7;
        int hidden = 37;
        long firstId = 1000;
        int[] ids = {1000, 999, 1006, 1007, 1003, 0, 1000, 1005};
        float[] table = random(new Random(11), rows * hidden, 3);
        for (DType dtype : backend.weightDTypes()) {
            float[] held = roundedTo(dtype, table);
            try (Tensor t = backend.adoptWeight(Tensor.hostOf(Shape.of(rows, hidden), table.clone()), dtype);
                 Tensor out = put(filled(ids.length * hidden, 42f), ids.length, hidden)) {
                backend.embedding(t, ids, firstId, out);
                float[] got = backend.copyToHost(out);
                for (int i = 0; i < ids.length; i++) {
                    long row = ids[i] - firstId;
                    float[] want = row >= 0 && row < rows ? Arrays.copyOfRange(held, (int) row * hidden, (int) (row + 1) * hidden)
                            : new float[hidden];
                    assertEquals(Arrays.toString(want), Arrays.toString(Arrays.copyOfRange(got, i * hidden, (i + 1) * hidden)),
                            dtype + ": id " + ids[i]);
                }
            }
        }
    }

    @ParameterizedTest(name = "{0} rows of {1}, eps {2}, in place {3}")
    @CsvSource({"1, 8, 1e-5, false", "5, 300, 1e-5, false", "3, 1000, 1e-2, true", "4, 129, 1e-6, true"})
    void rmsNormIsWithinItsFloat32Bound(int rows, int n, float eps, boolean inPlace) {
        Random rnd = new Random(rows * 31L + n);
        float[] x = random(rnd, rows * n, 2);
        // One row small enough that eps matters, one large: eps outside the root, or the weight inside, shows.
        scaleRow(x, n, 0, 0.01f);
        if (rows > 1) {
            scaleRow(x, n, rows - 1, 50f);
        }
        float[] w = random(rnd, n, 1.5);
        BoundedRows want = Float64DecoderOps.rmsNorm(exact(x, rows, n), w, eps);
        float[] got;
        try (Tensor xt = put(x, rows, n); Tensor wt = putVector(w)) {
            if (inPlace) {
                backend.rmsNorm(xt, wt, eps, xt);
                got = backend.copyToHost(xt);
            } else {
                // The output as a column window of a wider tensor: the row stride is honoured, nothing else written.
                try (Tensor wide = put(filled(rows * (n + 5), 7f), rows, n + 5)) {
                    backend.rmsNorm(xt, wt, eps, wide.narrowColumns(2, n));
                    float[] all = backend.copyToHost(wide);
                    got = new float[rows * n];
                    for (int r = 0; r < rows; r++) {
                        System.arraycopy(all, r * (n + 5) + 2, got, r * n, n);
                        for (int c : new int[] {0, 1, n + 2, n + 3, n + 4}) {
                            assertEquals(7f, all[r * (n + 5) + c], "outside the window, row " + r);
                        }
                    }
                }
            }
        }
        assertWithin(want, got, "rmsNorm");
    }

    @ParameterizedTest(name = "{0} tokens from position {1}, {2} heads of {3}")
    @CsvSource({"1, 0, 1, 8", "4, 0, 3, 16", "3, 1000, 2, 64", "1, 2047, 4, 128"})
    void rotaryIsWithinItsFloat32Bound(int tokens, int firstPosition, int heads, int headDim) {
        Random rnd = new Random(tokens * 7L + firstPosition);
        int cols = heads * headDim;
        float[] x = random(rnd, tokens * cols, 4);
        double[] invFreq = Float64DecoderOps.inverseFrequencies(headDim, 10000, null);
        float[] invFreqF = new float[invFreq.length];
        for (int i = 0; i < invFreq.length; i++) {
            invFreqF[i] = (float) invFreq[i];
        }
        int[] positions = new int[tokens];
        Arrays.setAll(positions, t -> firstPosition + t);
        BoundedRows want = Float64DecoderOps.rope(exact(x, tokens, cols), headDim, positions, invFreq);
        float[] got;
        try (Tensor xt = put(x, tokens, cols)) {
            backend.rotary(xt, headDim, invFreqF, firstPosition);
            got = backend.copyToHost(xt);
        }
        assertWithin(want, got, "rotary");
    }

    /**
     * The rows {@code [firstPosition, firstPosition + tokens)} of the causal attention over all positions:
     * a prefill from 0, a decode step, a chunk in the middle; GQA groups of 1, 2 and 4.
     */
    @ParameterizedTest(name = "{0} tokens from position {1}, {2} q heads over {3} kv heads of {4}")
    @CsvSource({"6, 0, 4, 2, 8", "1, 9, 2, 2, 16", "3, 5, 8, 2, 32", "2, 300, 4, 1, 64", "1, 40, 2, 1, 160",
            "130, 0, 2, 2, 4"})
    void attentionIsWithinItsFloat32Bound(int tokens, int firstPosition, int qHeads, int kvHeads, int headDim) {
        Random rnd = new Random(tokens * 131L + firstPosition * 7L + headDim);
        int positions = firstPosition + tokens;
        int qCols = qHeads * headDim;
        int kvCols = kvHeads * headDim;
        float[] qAll = random(rnd, positions * qCols, 1.5);
        float[] k = random(rnd, positions * kvCols, 1.5);
        float[] v = random(rnd, positions * kvCols, 2);
        float scale = (float) (1.0 / Math.sqrt(headDim));
        // The reference's recipe scales q·k by the float scale 1/√d rounded; its value is the float64 softmax.
        BoundedRows all = Float64DecoderOps.attention(exact(qAll, positions, qCols), exact(k, positions, kvCols),
                exact(v, positions, kvCols), headDim);
        BoundedRows want = lastRows(all, tokens);
        int capacity = positions + 3;
        float[] keys = Arrays.copyOf(k, capacity * kvCols);
        float[] values = Arrays.copyOf(v, capacity * kvCols);
        // Positions not yet written hold garbage: reading one makes the result infinite or NaN.
        Arrays.fill(keys, positions * kvCols, keys.length, 1e30f);
        Arrays.fill(values, positions * kvCols, values.length, 1e30f);
        float[] q = Arrays.copyOfRange(qAll, firstPosition * qCols, positions * qCols);
        float[] got;
        try (Tensor qt = put(q, tokens, qCols); Tensor kt = put(keys, capacity, kvCols);
             Tensor vt = put(values, capacity, kvCols); Tensor out = put(filled(tokens * qCols, 5f), tokens, qCols)) {
            backend.attention(qt, kt, vt, headDim, firstPosition, scale, out);
            got = backend.copyToHost(out);
        }
        assertWithin(want, got, "attention");
    }

    @Test
    void addIsOneRoundingOfTheSum() {
        int rows = 3;
        int cols = 301;
        Random rnd = new Random(5);
        float[] a = random(rnd, rows * cols, 10);
        float[] b = random(rnd, rows * cols, 10);
        BoundedRows want = Float64DecoderOps.add(exact(a, rows, cols), exact(b, rows, cols));
        float[] got;
        // b as a column window of a wider tensor.
        float[] wideB = new float[rows * (cols + 2)];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(b, r * cols, wideB, r * (cols + 2) + 1, cols);
        }
        try (Tensor at = put(a, rows, cols); Tensor bt = put(wideB, rows, cols + 2)) {
            backend.add(at, bt.narrowColumns(1, cols));
            got = backend.copyToHost(at);
            assertEquals(Arrays.toString(wideB), Arrays.toString(backend.copyToHost(bt)), "b is left as it was");
        }
        assertWithin(want, got, "add");
    }

    // ------------------------------------------------------------------------------------------- helpers

    private Tensor put(float[] values, int rows, int cols) {
        Tensor t = backend.allocate(Shape.of(rows, cols), DType.F32);
        backend.copyFromHost(values, t);
        return t;
    }

    private Tensor putVector(float[] values) {
        Tensor t = backend.allocate(Shape.of(values.length), DType.F32);
        backend.copyFromHost(values, t);
        return t;
    }

    private static void assertWithin(BoundedRows want, float[] got, String op) {
        assertEquals(want.value().length, got.length, op + ": result size");
        double worstRatio = 0;
        int worst = -1;
        for (int i = 0; i < got.length; i++) {
            double diff = Math.abs(got[i] - want.value()[i]);
            double ratio = diff / want.bound()[i];
            if (!(diff <= want.bound()[i])) {
                throw new AssertionError(op + ": element " + i + " is " + got[i] + ", float64 " + want.value()[i]
                        + ", |Δ| " + diff + " above its float32 bound " + want.bound()[i]);
            }
            if (ratio > worstRatio) {
                worstRatio = ratio;
                worst = i;
            }
        }
        // A bound so loose that anything passes would make the check empty: it must stay small beside the values.
        double scale = 0;
        double largestBound = 0;
        for (int i = 0; i < got.length; i++) {
            scale = Math.max(scale, Math.abs(want.value()[i]));
            largestBound = Math.max(largestBound, want.bound()[i]);
        }
        assertTrue(largestBound < 1e-2 * scale, op + ": bound " + largestBound + " against values up to " + scale
                + " (worst element " + worst + " at " + worstRatio + " of its bound)");
    }

    private static BoundedRows exact(float[] v, int rows, int cols) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            d[i] = v[i];
        }
        return BoundedRows.exact(rows, cols, d);
    }

    private static BoundedRows lastRows(BoundedRows all, int tokens) {
        int from = (all.rows() - tokens) * all.cols();
        double[] value = Arrays.copyOfRange(all.value(), from, all.value().length);
        double[] bound = Arrays.copyOfRange(all.bound(), from, all.bound().length);
        double[] norm = Arrays.copyOfRange(all.norm(), (all.rows() - tokens) * all.blocks(), all.norm().length);
        return new BoundedRows(tokens, all.cols(), all.blocks(), value, bound, norm);
    }

    private static float[] random(Random rnd, int n, double scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) ((rnd.nextDouble() * 2 - 1) * scale);
        }
        return v;
    }

    private static float[] filled(int n, float value) {
        float[] v = new float[n];
        Arrays.fill(v, value);
        return v;
    }

    private static void scaleRow(float[] x, int n, int row, float factor) {
        for (int j = row * n; j < (row + 1) * n; j++) {
            x[j] *= factor;
        }
    }

    private static float[] roundedTo(DType dtype, float[] v) {
        float[] out = v.clone();
        for (int i = 0; i < out.length; i++) {
            if (dtype == DType.BF16) {
                out[i] = BFloat16.toFloat(BFloat16.fromFloat(out[i]));
            } else if (dtype == DType.F16) {
                out[i] = Float16.toFloat(Float16.fromFloat(out[i]));
            }
        }
        return out;
    }
}
