package dev.tp4j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.reference.BoundedRows;
import dev.tp4j.reference.Float64DecoderOps;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The CPU rank's attention kernel against the float64 attention, within the float32 rounding bound the
 * reference derives for exact inputs: a whole prompt at once (the prefill), and the same prompt one
 * token at a time over a growing cache (the decode), which must give the prompt's rows.
 */
class DecoderKernelsTest {

    @ParameterizedTest(name = "{0} heads, {1} kv heads, head_dim {2}, {3} tokens")
    @CsvSource({"8, 2, 64, 40", "4, 4, 12, 9", "6, 1, 8, 17"})
    void attentionIsTheFloat64AttentionWithinItsRoundingBoundInPrefillAndDecode(int heads, int kvHeads, int headDim,
                                                                                 int tokens) {
        SplittableRandom random = new SplittableRandom(heads * 31L + kvHeads * 7L + headDim);
        float[] q = gaussian(random, tokens * heads * headDim, 1.5f);
        float[] k = gaussian(random, tokens * kvHeads * headDim, 1.5f);
        float[] v = gaussian(random, tokens * kvHeads * headDim, 1f);
        BoundedRows reference = Float64DecoderOps.attention(exact(tokens, heads * headDim, q),
                exact(tokens, kvHeads * headDim, k), exact(tokens, kvHeads * headDim, v), headDim);
        float scale = (float) (1 / Math.sqrt(headDim));
        int width = heads * headDim;
        try (CpuBackend backend = new CpuBackend(1);
             Tensor queries = Tensor.hostOf(Shape.of(tokens, width), q);
             Tensor keys = Tensor.hostOf(Shape.of(tokens, kvHeads * headDim), k);
             Tensor values = Tensor.hostOf(Shape.of(tokens, kvHeads * headDim), v);
             Tensor prefill = Tensor.allocateHost(Shape.of(tokens, width), DType.F32);
             Tensor one = Tensor.allocateHost(Shape.of(1, width), DType.F32)) {
            backend.attention(queries, keys, values, headDim, 0, scale, prefill);
            float[] all = prefill.toFloatArray();
            double worst = within(all, reference, 0, tokens * width);
            for (int t = 0; t < tokens; t++) {
                // Token t alone at position t: the cache holds every position (later ones must be masked out).
                try (Tensor row = Tensor.hostOf(Shape.of(1, width), Arrays.copyOfRange(q, t * width, (t + 1) * width))) {
                    backend.attention(row, keys, values, headDim, t, scale, one);
                }
                float[] decoded = one.toFloatArray();
                float[] padded = new float[tokens * width];
                System.arraycopy(decoded, 0, padded, t * width, width);
                worst = Math.max(worst, within(padded, reference, t * width, width));
            }
            assertTrue(worst > 0, "the float32 kernel rounds somewhere, so some difference is expected");
        }
    }

    /** The worst |actual − value| / bound over elements [from, from + count); fails above 1. */
    private static double within(float[] actual, BoundedRows reference, int from, int count) {
        double worst = 0;
        for (int i = from; i < from + count; i++) {
            double diff = Math.abs(actual[i] - reference.value()[i]);
            double bound = reference.bound()[i];
            assertTrue(diff <= bound, "element " + i + ": " + actual[i] + " vs " + reference.value()[i] + ", bound " + bound);
            worst = Math.max(worst, diff / bound);
        }
        return worst;
    }

    private static BoundedRows exact(int rows, int cols, float[] values) {
        double[] v = new double[values.length];
        for (int i = 0; i < v.length; i++) {
            v[i] = values[i];
        }
        return BoundedRows.exact(rows, cols, v);
    }

    private static float[] gaussian(SplittableRandom random, int n, float std) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            double r = Math.sqrt(-2 * Math.log(1 - random.nextDouble()));
            v[i] = (float) (std * r * Math.cos(2 * Math.PI * random.nextDouble()));
        }
        return v;
    }
}
