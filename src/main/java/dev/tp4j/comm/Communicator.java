package dev.tp4j.comm;

import dev.tp4j.tensor.Tensor;

/**
 * Collectives among the ranks of one tensor-parallel group. Every rank calls the same collectives in
 * the same order with matching sizes (as with NCCL and torch.distributed). Results are bitwise
 * identical on every rank. Tensors must be contiguous; sums are of F32 elements.
 *
 * <p>Every call is recorded in {@link #stats()}.
 */
public interface Communicator extends AutoCloseable {

    int rank();

    int worldSize();

    /** {@code buffer ← Σ_r buffer_r} in place. */
    void allReduce(Tensor buffer);

    /**
     * {@code gathered ← concat_r local_r} in rank order, where rank r contributes {@code counts[r]}
     * elements ({@code counts[rank()] == local.numel()}, {@code Σ counts == gathered.numel()}).
     */
    void allGather(Tensor local, Tensor gathered, long[] counts);

    /** {@link #allGather(Tensor, Tensor, long[])} with every rank contributing {@code local.numel()}. */
    default void allGather(Tensor local, Tensor gathered) {
        long[] counts = new long[worldSize()];
        java.util.Arrays.fill(counts, local.numel());
        allGather(local, gathered, counts);
    }

    /**
     * {@code output ← (Σ_r input_r)[chunk of this rank]}, chunks split by
     * {@link dev.tp4j.tensor.Partition} over {@code input.numel()} (uneven counts allowed).
     */
    void reduceScatter(Tensor input, Tensor output);

    /** {@code buffer ← buffer_root}. */
    void broadcast(Tensor buffer, int root);

    /** Returns once every rank has entered the barrier. */
    void barrier();

    CommStats stats();

    /** Whether an earlier collective failed; the communicator is then unusable. */
    default boolean failed() {
        return false;
    }

    /** One line for reports: transport and peers. */
    String describe();

    /**
     * The links this rank's collectives ran over, each with its own stats: one for a flat transport (this
     * communicator), several for one composed of others (shared memory inside a node, TCP between nodes).
     */
    default java.util.List<Link> links() {
        return java.util.List.of(new Link(describe(), stats()));
    }

    @Override
    void close();
}
