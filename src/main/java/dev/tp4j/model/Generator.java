package dev.tp4j.model;

import dev.tp4j.backend.Backend;
import dev.tp4j.comm.CommStats;
import dev.tp4j.comm.Communicator;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
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
                          CommStats.Snapshot decodeTraffic, boolean stoppedAtEos) {
        public double prefillMs() {
            return prefillNanos / 1e6;
        }

        /** Mean time of one decode step (forward of one token and the choice of the next). */
        public double decodeMsPerToken() {
            return decodeSteps == 0 ? 0 : decodeNanos / 1e6 / decodeSteps;
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
            CommStats.Snapshot beforeDecode = null;
            while (count < settings.maxNewTokens()) {
                int next = choose(settings.sampler(), row, chosen);
                tokens[count++] = next;
                onToken.accept(next);
                if (count == 1) {
                    prefillNanos = System.nanoTime() - start;
                    decodeStart = System.nanoTime();
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
            long decodeNanos = count == 0 ? 0 : System.nanoTime() - decodeStart;
            CommStats.Snapshot traffic = beforeDecode == null ? CommStats.Snapshot.EMPTY : comm.stats().since(beforeDecode);
            if (count == 0) {
                prefillNanos = System.nanoTime() - start;
            }
            return new Outcome(java.util.Arrays.copyOf(tokens, count), promptLogits, prefillNanos, decodeNanos, steps,
                    traffic, eos);
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
