package dev.tp4j.model;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token from a row of logits the way transformers' {@code generate} does with
 * {@code do_sample=True}: divide by the temperature, keep the {@code topK} largest (ties at the k-th
 * value kept), keep the smallest set of tokens whose probability reaches {@code topP} (at least one),
 * then draw from the softmax of what is left. A seed makes the draws repeatable.
 */
public final class Sampler {
    private final double temperature;
    private final int topK;
    private final double topP;
    private final SplittableRandom random;

    /**
     * @param temperature &gt; 0
     * @param topK        0 for no top-k filter
     * @param topP        in (0, 1]; 1 for no nucleus filter
     */
    public Sampler(double temperature, int topK, double topP, long seed) {
        if (!(temperature > 0) || topK < 0 || !(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("temperature " + temperature + ", top-k " + topK + ", top-p " + topP);
        }
        this.temperature = temperature;
        this.topK = topK;
        this.topP = topP;
        this.random = new SplittableRandom(seed);
    }

    /** The next token id for {@code logits} (one position, the whole vocabulary). */
    public int next(float[] logits) {
        double[] scores = new double[logits.length];
        for (int i = 0; i < scores.length; i++) {
            scores[i] = logits[i] / temperature;
        }
        if (topK > 0 && topK < scores.length) {
            double[] sorted = scores.clone();
            Arrays.sort(sorted);
            double kth = sorted[sorted.length - topK];
            for (int i = 0; i < scores.length; i++) {
                if (scores[i] < kth) {
                    scores[i] = Double.NEGATIVE_INFINITY;
                }
            }
        }
        double[] probs = softmax(scores);
        if (topP < 1) {
            nucleus(probs);
        }
        double u = random.nextDouble();
        double total = 0;
        for (double p : probs) {
            total += p;
        }
        double cumulative = 0;
        int last = -1;
        for (int i = 0; i < probs.length; i++) {
            if (probs[i] > 0) {
                cumulative += probs[i] / total;
                last = i;
                if (u < cumulative) {
                    return i;
                }
            }
        }
        return last; // u rounded past the last cumulative sum
    }

    /**
     * Zeroes every token outside the nucleus: in ascending order of probability, tokens whose cumulative
     * probability stays within {@code 1 − topP} go (transformers' TopPLogitsWarper), the most likely stays.
     */
    private void nucleus(double[] probs) {
        Integer[] order = new Integer[probs.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Double.compare(probs[a], probs[b]));
        double cumulative = 0;
        for (int i = 0; i < order.length - 1; i++) {
            cumulative += probs[order[i]];
            if (cumulative <= 1 - topP) {
                probs[order[i]] = 0;
            } else {
                break;
            }
        }
    }

    private static double[] softmax(double[] scores) {
        double max = Double.NEGATIVE_INFINITY;
        for (double s : scores) {
            max = Math.max(max, s);
        }
        double[] p = new double[scores.length];
        double sum = 0;
        for (int i = 0; i < p.length; i++) {
            p[i] = Math.exp(scores[i] - max);
            sum += p[i];
        }
        for (int i = 0; i < p.length; i++) {
            p[i] /= sum;
        }
        return p;
    }
}
