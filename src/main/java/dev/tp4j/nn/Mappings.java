package dev.tp4j.nn;

import dev.tp4j.backend.Backend;
import dev.tp4j.comm.Communicator;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Partition;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;

/**
 * The four ways a tensor crosses between the sequential region (every rank holds all of it) and the
 * tensor-parallel region (rank r holds its block of features), as Megatron-LM's
 * {@code tensor_parallel/mappings.py} names them, forward only:
 * <ul>
 *   <li>{@link #copyToTensorParallelRegion}: X enters replicated — the identity;</li>
 *   <li>{@link #scatterToTensorParallelRegion}: rank r keeps its block of columns X_r — a view, no message;</li>
 *   <li>{@link #gatherFromTensorParallelRegion}: Y = [Y_0 … Y_{tp−1}] by columns — one all_gather;</li>
 *   <li>{@link #reduceFromTensorParallelRegion}: Y = Σ_r Y_r — one all_reduce.</li>
 * </ul>
 * Layers talk to their {@link Communicator} only through here. The gather's staging buffer and its
 * counts are kept between calls, so a forward with the same token count allocates no native memory.
 */
public final class Mappings implements AutoCloseable {
    private final Backend backend;
    private final Communicator comm;
    private final long[] gatherCounts;
    private final Tensor[] gatherBlocks;
    private Tensor gathered;
    private int gatherTokens = -1;
    private Partition gatherFeatures;

    public Mappings(Backend backend, Communicator comm) {
        this.backend = backend;
        this.comm = comm;
        this.gatherCounts = new long[comm.worldSize()];
        this.gatherBlocks = new Tensor[comm.worldSize()];
    }

    /** Mappings over the same communicator with workspaces of their own (for a second layer). */
    public Mappings withOwnWorkspace() {
        return new Mappings(backend, comm);
    }

    public int rank() {
        return comm.rank();
    }

    public int worldSize() {
        return comm.worldSize();
    }

    /** Megatron's {@code copy_to_tensor_model_parallel_region}: in the forward pass every rank uses X as is. */
    public Tensor copyToTensorParallelRegion(Tensor x) {
        return x;
    }

    /**
     * Megatron's {@code scatter_to_tensor_model_parallel_region}: X_r, this rank's block of the
     * {@code features} columns of {@code x}. A strided view: the GEMM reads it in place.
     */
    public Tensor scatterToTensorParallelRegion(Tensor x, Partition features) {
        return x.narrowColumns(features.intOffset(rank()), features.intCount(rank()));
    }

    /** Megatron's {@code reduce_from_tensor_model_parallel_region}: {@code y ← Σ_r y_r}, in place. */
    public void reduceFromTensorParallelRegion(Tensor y) {
        comm.allReduce(y);
    }

    /**
     * Megatron's {@code gather_from_tensor_model_parallel_region}: {@code y [tokens, features.size()] ←}
     * the column blocks {@code local_r [tokens, features.count(r)]} of every rank side by side.
     * all_gather concatenates whole blocks; the copy after it puts each block in its columns.
     */
    public void gatherFromTensorParallelRegion(Tensor local, Tensor y, Partition features) {
        int tokens = local.rows();
        prepareGather(tokens, features);
        comm.allGather(local.view(Shape.of(local.numel())), gathered, gatherCounts);
        for (int r = 0; r < gatherBlocks.length; r++) {
            backend.copy(gatherBlocks[r], y.narrowColumns(features.intOffset(r), features.intCount(r)));
        }
    }

    /** Sizes the staging buffer and its block views for {@code tokens} rows; nothing to do when they fit. */
    private void prepareGather(int tokens, Partition features) {
        if (tokens == gatherTokens && features.equals(gatherFeatures)) {
            return;
        }
        long total = (long) tokens * features.size();
        if (gathered == null || gathered.numel() != total) {
            releaseGather();
            gathered = backend.allocate(Shape.of(total), DType.F32);
        }
        long start = 0;
        for (int r = 0; r < gatherCounts.length; r++) {
            gatherCounts[r] = tokens * features.count(r);
            gatherBlocks[r] = gathered.slice(start, gatherCounts[r]).view(Shape.of(tokens, features.count(r)));
            start += gatherCounts[r];
        }
        gatherTokens = tokens;
        gatherFeatures = features;
    }

    private void releaseGather() {
        if (gathered != null) {
            gathered.close();
            gathered = null;
        }
        gatherTokens = -1;
    }

    /** Releases the staging buffer; the communicator belongs to the caller. */
    @Override
    public void close() {
        releaseGather();
    }
}
