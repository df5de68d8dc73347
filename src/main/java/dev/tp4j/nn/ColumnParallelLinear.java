package dev.tp4j.nn;

import dev.tp4j.backend.Backend;
import dev.tp4j.comm.Communicator;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Partition;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;

/**
 * {@code Y = X·Wᵀ + b} with {@code W [out, in]} split by output rows: rank r holds {@code W[r]} and
 * {@code b[r]} and computes {@code Y_r = X·W[r]ᵀ + b[r]}, its own columns of Y, with no communication.
 * With {@code gatherOutput} the column blocks are all-gathered into the full {@code Y = [Y_0 … Y_{tp−1}]}
 * on every rank.
 */
public final class ColumnParallelLinear implements AutoCloseable {
    private final Backend backend;
    private final Mappings mappings;
    private final Tensor weight;
    private final Tensor bias;
    private final Partition outputs;
    private final boolean gatherOutput;
    /** Y_r before the gather, kept between forwards of the same token count. */
    private Tensor localOutput;

    /**
     * @param weight       this rank's rows of W, {@code [outputs.count(rank), in]}
     * @param bias         this rank's slice of b, {@code [outputs.count(rank)]}, or null for no bias
     * @param outFeatures  the full output size (before sharding)
     * @param gatherOutput whether {@link #forward} returns the full Y (one all_gather) or Y_r
     */
    public ColumnParallelLinear(Backend backend, Communicator comm, Tensor weight, Tensor bias,
                                long outFeatures, boolean gatherOutput) {
        this(backend, new Mappings(backend, comm), weight, bias, outFeatures, gatherOutput);
    }

    private ColumnParallelLinear(Backend backend, Mappings mappings, Tensor weight, Tensor bias,
                                 long outFeatures, boolean gatherOutput) {
        this.backend = backend;
        this.mappings = mappings;
        this.weight = weight;
        this.bias = bias;
        this.outputs = new Partition(outFeatures, mappings.worldSize());
        this.gatherOutput = gatherOutput;
        long expected = outputs.count(mappings.rank());
        if (weight.rows() != expected) {
            throw new IllegalArgumentException("rank " + mappings.rank() + " weight shard has " + weight.rows()
                    + " rows, expected " + expected + " of " + outFeatures);
        }
        if (bias != null && bias.numel() != expected) {
            throw new IllegalArgumentException("rank " + mappings.rank() + " bias shard has " + bias.numel()
                    + " elements, expected " + expected);
        }
    }

    /** Writes Y_r, or with {@code gatherOutput} the whole Y, into {@code y}. */
    public void forward(Tensor x, Tensor y) {
        Tensor yr = gatherOutput ? localOutput(x.rows()) : y;
        backend.linear(mappings.copyToTensorParallelRegion(x), weight, bias, yr);
        if (gatherOutput) {
            mappings.gatherFromTensorParallelRegion(yr, y, outputs);
        }
    }

    public Tensor forward(Tensor x) {
        Tensor y = allocateOutput(x.rows());
        forward(x, y);
        return y;
    }

    public int inFeatures() {
        return weight.cols();
    }

    /** Output columns this rank computes. */
    public int localOutFeatures() {
        return weight.rows();
    }

    public Partition outputPartition() {
        return outputs;
    }

    public Tensor weight() {
        return weight;
    }

    /** This rank's bias slice, or null. */
    public Tensor bias() {
        return bias;
    }

    /** The same shards with the other choice of gathering the output (its own workspaces). */
    public ColumnParallelLinear withGatherOutput(boolean gather) {
        return new ColumnParallelLinear(backend, mappings.withOwnWorkspace(), weight, bias, outputs.size(), gather);
    }

    /** Columns of {@link #forward}'s output: all features when gathered, this rank's otherwise. */
    public int outputColumns() {
        return gatherOutput ? Math.toIntExact(outputs.size()) : localOutFeatures();
    }

    /** A new output tensor of the right shape for {@code tokens} rows. */
    public Tensor allocateOutput(int tokens) {
        return backend.allocate(Shape.of(tokens, outputColumns()), DType.F32);
    }

    private Tensor localOutput(int tokens) {
        if (localOutput == null || localOutput.rows() != tokens) {
            releaseLocalOutput();
            localOutput = backend.allocate(Shape.of(tokens, localOutFeatures()), DType.F32);
        }
        return localOutput;
    }

    private void releaseLocalOutput() {
        if (localOutput != null) {
            localOutput.close();
            localOutput = null;
        }
    }

    /** Releases the workspaces; the weights stay with whoever loaded them. */
    @Override
    public void close() {
        releaseLocalOutput();
        mappings.close();
    }
}
