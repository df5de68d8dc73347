package dev.tp4j.nn;

import dev.tp4j.backend.Backend;
import dev.tp4j.comm.Communicator;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Partition;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;

/**
 * {@code Y = X·Wᵀ + b} with {@code W [out, in]} split by input columns: rank r holds {@code W[:, r]}
 * and consumes {@code X_r}, its slice of the input features; {@code Y = Σ_r X_r·W[:, r]ᵀ} is one
 * all_reduce. The bias is added once, after the reduce (identically on every rank), never tp times.
 */
public final class RowParallelLinear implements AutoCloseable {
    private final Backend backend;
    private final Mappings mappings;
    private final Tensor weight;
    private final Tensor bias;
    private final Partition inputs;
    private final boolean inputIsParallel;

    /**
     * @param weight          this rank's columns of W, {@code [out, inputs.count(rank)]}
     * @param bias            the full b {@code [out]}, or null
     * @param inFeatures      the full input size (before sharding)
     * @param inputIsParallel true when callers pass X_r (the previous layer was column-parallel);
     *                        false when they pass the full X and this layer takes its own columns
     */
    public RowParallelLinear(Backend backend, Communicator comm, Tensor weight, Tensor bias,
                             long inFeatures, boolean inputIsParallel) {
        this.backend = backend;
        this.mappings = new Mappings(backend, comm);
        this.weight = weight;
        this.bias = bias;
        this.inputs = new Partition(inFeatures, comm.worldSize());
        this.inputIsParallel = inputIsParallel;
        long expected = inputs.count(comm.rank());
        if (weight.cols() != expected) {
            throw new IllegalArgumentException("rank " + comm.rank() + " weight shard has " + weight.cols()
                    + " columns, expected " + expected + " of " + inFeatures);
        }
        if (bias != null && bias.numel() != weight.rows()) {
            throw new IllegalArgumentException("bias has " + bias.numel() + " elements, expected " + weight.rows());
        }
    }

    /** {@code y ← Σ_r X_r·W[:, r]ᵀ + b}. */
    public void forward(Tensor x, Tensor y) {
        Tensor xr = inputIsParallel ? x : mappings.scatterToTensorParallelRegion(x, inputs);
        backend.linear(xr, weight, null, y);
        mappings.reduceFromTensorParallelRegion(y);
        if (bias != null) {
            backend.addBias(y, bias); // once, after the sum: adding b_r before it would count it tp times
        }
    }

    public Tensor forward(Tensor x) {
        Tensor y = allocateOutput(x.rows());
        forward(x, y);
        return y;
    }

    public int outFeatures() {
        return weight.rows();
    }

    public Partition inputPartition() {
        return inputs;
    }

    public Tensor weight() {
        return weight;
    }

    public Tensor allocateOutput(int tokens) {
        return backend.allocate(Shape.of(tokens, outFeatures()), DType.F32);
    }

    @Override
    public void close() {
        mappings.close();
    }
}
