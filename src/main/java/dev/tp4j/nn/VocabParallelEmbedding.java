package dev.tp4j.nn;

import dev.tp4j.backend.Backend;
import dev.tp4j.comm.Communicator;
import dev.tp4j.tensor.Partition;
import dev.tp4j.tensor.Tensor;

/**
 * {@code Y[t] = E[ids[t]]} with the table {@code E [vocab, hidden]} split by rows: rank r holds the block
 * {@code E[r]} of ids {@code [offset_r, offset_r + count_r)}, looks up the ids that fall in it and writes
 * zeros for the others; one all_reduce sums the blocks (Megatron's VocabParallelEmbedding). Uneven
 * vocabularies follow {@link Partition}.
 */
public final class VocabParallelEmbedding implements AutoCloseable {
    private final Backend backend;
    private final Mappings mappings;
    private final Tensor weight;
    private final Partition vocab;

    /** @param weight this rank's rows of E, {@code [vocab.count(rank), hidden]} */
    public VocabParallelEmbedding(Backend backend, Communicator comm, Tensor weight, long vocabSize) {
        this.backend = backend;
        this.mappings = new Mappings(backend, comm);
        this.weight = weight;
        this.vocab = new Partition(vocabSize, comm.worldSize());
        if (weight.rows() != vocab.count(comm.rank())) {
            throw new IllegalArgumentException("rank " + comm.rank() + " embedding shard has " + weight.rows()
                    + " rows, expected " + vocab.count(comm.rank()) + " of " + vocabSize);
        }
    }

    /** {@code y [ids.length, hidden] ← E[ids]}. */
    public void forward(int[] ids, Tensor y) {
        backend.embedding(weight, ids, vocab.offset(mappings.rank()), y);
        mappings.reduceFromTensorParallelRegion(y);
    }

    public Tensor weight() {
        return weight;
    }

    public Partition vocabPartition() {
        return vocab;
    }

    @Override
    public void close() {
        mappings.close();
    }
}
