package dev.tp4j.nn;

import dev.tp4j.backend.Backend;
import dev.tp4j.comm.Communicator;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Partition;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;

/**
 * The language-model head split by vocabulary rows: rank r holds {@code W[r]}, the rows of its block of
 * token ids, and computes its block of the logits {@code L_r = X·W[r]ᵀ}. Where the whole logits are
 * needed (a logits file, sampling) one all_gather puts the blocks side by side; greedy decoding moves
 * only each rank's winner instead: {@code argmax = argmax_r (max L_r)}, two numbers per rank.
 */
public final class ParallelLmHead implements AutoCloseable {
    private final Backend backend;
    private final Mappings mappings;
    private final Tensor weight;
    private final Partition vocab;
    private final Partition winners;
    private Tensor local;
    private Tensor localWinner;
    private Tensor allWinners;

    /** @param weight this rank's rows of the head (or of the tied embedding), {@code [vocab.count(rank), hidden]} */
    public ParallelLmHead(Backend backend, Communicator comm, Tensor weight, long vocabSize) {
        this.backend = backend;
        this.mappings = new Mappings(backend, comm);
        this.weight = weight;
        this.vocab = new Partition(vocabSize, comm.worldSize());
        this.winners = new Partition(2L * comm.worldSize(), comm.worldSize());
        if (weight.rows() != vocab.count(comm.rank())) {
            throw new IllegalArgumentException("rank " + comm.rank() + " lm_head shard has " + weight.rows()
                    + " rows, expected " + vocab.count(comm.rank()) + " of " + vocabSize);
        }
    }

    /** {@code logits [tokens, vocab] ← X·Wᵀ} on every rank: the local block, then one all_gather. */
    public void logits(Tensor x, Tensor logits) {
        backend.linear(x, weight, null, localLogits(x.rows()));
        mappings.gatherFromTensorParallelRegion(local, logits, vocab);
    }

    /**
     * The id of the largest logit of {@code x [1, hidden]}, the same on every rank: each rank's best
     * (value, id) is all-gathered and the best of those wins; ties go to the lower id, as torch.argmax does.
     */
    public int argmax(Tensor x) {
        if (x.rows() != 1) {
            throw new IllegalArgumentException("argmax of one position, got " + x.shape());
        }
        backend.linear(x, weight, null, localLogits(1));
        float[] mine = backend.copyToHost(local);
        int best = 0;
        for (int i = 1; i < mine.length; i++) {
            if (mine[i] > mine[best] || (Float.isNaN(mine[i]) && !Float.isNaN(mine[best]))) {
                best = i;
            }
        }
        long id = vocab.offset(mappings.rank()) + best;
        // A float holds every id below 2^24 exactly; vocabularies are far smaller.
        float value = mine.length == 0 ? Float.NEGATIVE_INFINITY : mine[best];
        backend.copyFromHost(new float[] {value, mine.length == 0 ? -1 : id}, localWinner);
        mappings.gatherFromTensorParallelRegion(localWinner, allWinners, winners);
        float[] all = backend.copyToHost(allWinners);
        int winner = -1;
        float winnerValue = Float.NEGATIVE_INFINITY;
        for (int r = 0; r < all.length / 2; r++) {
            float v = all[2 * r];
            int candidate = (int) all[2 * r + 1];
            if (candidate >= 0 && (winner < 0 || v > winnerValue || (Float.isNaN(v) && !Float.isNaN(winnerValue)))) {
                winner = candidate;
                winnerValue = v;
            }
        }
        return winner;
    }

    public Partition vocabPartition() {
        return vocab;
    }

    public Tensor weight() {
        return weight;
    }

    private Tensor localLogits(int tokens) {
        if (local == null || local.rows() != tokens) {
            if (local != null) {
                local.close();
            }
            local = backend.allocate(Shape.of(tokens, weight.rows()), DType.F32);
        }
        if (localWinner == null) {
            localWinner = backend.allocate(Shape.of(1, 2), DType.F32);
            allWinners = backend.allocate(Shape.of(1, winners.size()), DType.F32);
        }
        return local;
    }

    @Override
    public void close() {
        for (Tensor t : new Tensor[] {local, localWinner, allWinners}) {
            if (t != null) {
                t.close();
            }
        }
        mappings.close();
    }
}
