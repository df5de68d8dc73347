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
 * With {@code gatherOutput} the column blocks are all-gathered into the full {@code Y} on every rank.
 */
public final class ColumnParallelLinear {
    private final Backend backend;
    private final Communicator comm;
    private final Tensor weight;
    private final Tensor bias;
    private final Partition outputs;
    private final boolean gatherOutput;

    /**
     * @param weight       this rank's rows of W, {@code [outputs.count(rank), in]}
     * @param bias         this rank's slice of b, {@code [outputs.count(rank)]}, or null for no bias
     * @param outFeatures  the full output size (before sharding)
     * @param gatherOutput whether {@link #forward} returns the full Y (one all_gather) or Y_r
     */
    public ColumnParallelLinear(Backend backend, Communicator comm, Tensor weight, Tensor bias,
                                long outFeatures, boolean gatherOutput) {
        this.backend = backend;
        this.comm = comm;
        this.weight = weight;
        this.bias = bias;
        this.outputs = new Partition(outFeatures, comm.worldSize());
        this.gatherOutput = gatherOutput;
        long expected = outputs.count(comm.rank());
        if (weight.rows() != expected) {
            throw new IllegalArgumentException("rank " + comm.rank() + " weight shard has " + weight.rows()
                    + " rows, expected " + expected + " of " + outFeatures);
        }
        if (bias != null && bias.numel() != expected) {
            throw new IllegalArgumentException("rank " + comm.rank() + " bias shard has " + bias.numel()
                    + " elements, expected " + expected);
        }
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

    /** The same shards with the other choice of gathering the output. */
    public ColumnParallelLinear withGatherOutput(boolean gather) {
        return new ColumnParallelLinear(backend, comm, weight, bias, outputs.size(), gather);
    }

    /** A new output tensor of the right shape for {@code tokens} rows. */
    public Tensor allocateOutput(int tokens) {
        long cols = gatherOutput ? outputs.size() : localOutFeatures();
        return backend.allocate(Shape.of(tokens, cols), DType.F32);
    }

    public Tensor forward(Tensor x) {
        Tensor y = allocateOutput(x.rows());
        forward(x, y);
        return y;
    }

    /** Writes Y_r (or the gathered Y) into {@code y}. */
    public void forward(Tensor x, Tensor y) {
        if (!gatherOutput) {
            backend.linear(x, weight, bias, y);
            return;
        }
        int tokens = x.rows();
        try (Tensor local = backend.allocate(Shape.of(tokens, localOutFeatures()), DType.F32);
             Tensor gathered = backend.allocate(Shape.of((long) tokens * outputs.size()), DType.F32)) {
            backend.linear(x, weight, bias, local);
            long[] counts = new long[comm.worldSize()];
            for (int r = 0; r < counts.length; r++) {
                counts[r] = tokens * outputs.count(r);
            }
            comm.allGather(local.view(Shape.of(local.numel())), gathered, counts);
            // all_gather concatenates whole blocks [tokens, out_r]; Y wants them side by side as columns.
            long start = 0;
            for (int r = 0; r < counts.length; r++) {
                Tensor block = gathered.slice(start, counts[r]).view(Shape.of(tokens, outputs.count(r)));
                backend.copy(block, y.narrowColumns(outputs.intOffset(r), outputs.intCount(r)));
                start += counts[r];
            }
        }
    }
}
