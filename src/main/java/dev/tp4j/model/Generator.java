package dev.tp4j.model;

import dev.tp4j.backend.Backend;
import dev.tp4j.comm.CommStats;
import dev.tp4j.comm.Communicator;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.util.Arrays;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * Generation on every rank in step: prefill the whole prompt, then decode one token at a time through
 * the KV caches. Greedy tokens come from the LM head's parallel argmax, which every rank computes alike;
 * a sampled token is drawn once, by rank 0, and broadcast, so every rank continues with the same one.
 */
public final class Generator {
    private static final int ROOT = 0;

    private final DecoderModel model;
    private final Backend backend;
    private final Communicator comm;

    /**
     * @param sampler null for greedy decoding
     * @param eosIds  the ids that end generation unless {@code ignoreEos}
     */
    public record Settings(int maxNewTokens, boolean ignoreEos, Sampler sampler, List<Integer> eosIds,
                           boolean keepPromptLogits) {
    }

    /**
     * @param promptLogits the prompt's logits {@code [promptLen × vocab]} row-major when asked for, else null
     * @param decodeTraffic the collectives of the decode steps (after the first token)
     * @param stoppedAtEos whether an EOS token ended generation (it is the last of {@code tokens})
     */
    public record Outcome(int[] tokens, float[] promptLogits, long prefillNanos, long decodeNanos, int decodeSteps,
                          long[] stepNanos, CommStats.Snapshot decodeTraffic, boolean stoppedAtEos) {
        public double prefillMs() {
            return prefillNanos / 1e6;
        }

        /** Mean time of one decode step (forward of one token and the choice of the next). */
        public double decodeMsPerToken() {
            return decodeSteps == 0 ? 0 : decodeNanos / 1e6 / decodeSteps;
        }

        /**
         * The decode step at {@code quantile} (0.5 the median, 1 the slowest), nearest rank, in ms; 0 without
         * steps. The mean hides how steps spread: a rank stalled by another process stalls every rank.
         */
        public double decodeStepMs(double quantile) {
            if (stepNanos.length == 0) {
                return 0;
            }
            long[] sorted = stepNanos.clone();
            Arrays.sort(sorted);
            int rank = (int) Math.ceil(quantile * sorted.length);
            return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] / 1e6;
        }
    }

    public Generator(DecoderModel model, Backend backend, Communicator comm) {
        this.model = model;
        this.backend = backend;
        this.comm = comm;
    }

    /** Generates after {@code prompt}; {@code onToken} sees each new token as soon as it is chosen. */
    public Outcome run(int[] prompt, Settings settings, IntConsumer onToken) {
        int vocab = model.config().vocabSize();
        int[] tokens = new int[settings.maxNewTokens()];
        int count = 0;
        boolean eos = false;
        float[] promptLogits = null;
        try (Tensor row = settings.sampler() == null ? null : backend.allocate(Shape.of(1, vocab), DType.F32);
             Tensor chosen = backend.allocate(Shape.of(1), DType.F32)) {
            long start = System.nanoTime();
            model.forward(prompt, 0);
            if (settings.keepPromptLogits()) {
                try (Tensor all = backend.allocate(Shape.of(prompt.length, vocab), DType.F32)) {
                    model.logits(all);
                    promptLogits = backend.copyToHost(all);
                }
            }
            long prefillNanos = 0;
            long decodeStart = 0;
            // When each token was chosen: a decode step is the time from one to the next. Preallocated, so
            // that timing a step allocates nothing.
            long[] chosenAt = new long[settings.maxNewTokens()];
            CommStats.Snapshot beforeDecode = null;
            while (count < settings.maxNewTokens()) {
                int next = choose(settings.sampler(), row, chosen);
                chosenAt[count] = System.nanoTime();
                tokens[count++] = next;
                onToken.accept(next);
                if (count == 1) {
                    prefillNanos = chosenAt[0] - start;
                    decodeStart = chosenAt[0];
                    beforeDecode = comm.stats().snapshot();
                }
                if (!settings.ignoreEos() && settings.eosIds().contains(next)) {
                    eos = true;
                    break;
                }
                if (count == settings.maxNewTokens()) {
                    break;
                }
                model.forward(new int[] {next}, prompt.length + count - 1);
            }
            int steps = Math.max(0, count - 1);
            long decodeNanos = count == 0 ? 0 : chosenAt[count - 1] - decodeStart;
            long[] stepNanos = new long[steps];
            for (int i = 0; i < steps; i++) {
                stepNanos[i] = chosenAt[i + 1] - chosenAt[i];
            }
            CommStats.Snapshot traffic = beforeDecode == null ? CommStats.Snapshot.EMPTY : comm.stats().since(beforeDecode);
            if (count == 0) {
                prefillNanos = System.nanoTime() - start;
            }
            return new Outcome(Arrays.copyOf(tokens, count), promptLogits, prefillNanos, decodeNanos, steps,
                    stepNanos, traffic, eos);
        }
    }

    /** The next token: the parallel argmax, or rank 0's draw broadcast to every rank. */
    private int choose(Sampler sampler, Tensor row, Tensor chosen) {
        if (sampler == null) {
            return model.greedyNext();
        }
        model.lastLogits(row);
        float id = comm.rank() == ROOT ? sampler.next(backend.copyToHost(row)) : 0f;
        backend.copyFromHost(new float[] {id}, chosen);
        comm.broadcast(chosen, ROOT);
        return (int) backend.copyToHost(chosen)[0];
    }
}
