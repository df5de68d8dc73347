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
public final class RowParallelLinear {
    private final Backend backend;
    private final Communicator comm;
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
        this.comm = comm;
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

    public Tensor forward(Tensor x) {
        Tensor y = allocateOutput(x.rows());
        forward(x, y);
        return y;
    }

    public void forward(Tensor x, Tensor y) {
        // Scattering the input is a local column window (Megatron's scatter_to_tensor_model_parallel_region
        // is a split, not a collective): the GEMM reads it in place through the row stride.
        Tensor local = inputIsParallel ? x : x.narrowColumns(inputs.intOffset(comm.rank()), inputs.intCount(comm.rank()));
        backend.linear(local, weight, null, y);
        comm.allReduce(y);
        if (bias != null) {
            backend.addBias(y, bias);
        }
    }
}
