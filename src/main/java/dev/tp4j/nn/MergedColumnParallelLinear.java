package dev.tp4j.nn;

import dev.tp4j.backend.Backend;
import dev.tp4j.comm.Communicator;
import dev.tp4j.tensor.Partition;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;

/**
 * Several column-parallel layers over the same input computed as one (vLLM's
 * {@code MergedColumnParallelLinear}: the SwiGLU's gate and up): rank r holds its rows of every part,
 * stacked, {@code [W_0[r]; W_1[r]; …]}, and one GEMM gives {@code [Y_0[r] | Y_1[r] | …]}, each part's own
 * columns of the output side by side. The math and the shards are those of separate
 * {@link ColumnParallelLinear} layers (each part split by {@link Partition}); the weight is streamed in one
 * call instead of several, which is what a one-token decode step is bound by. No communication.
 */
public final class MergedColumnParallelLinear implements AutoCloseable {
    private final Backend backend;
    private final Mappings mappings;
    private final Tensor weight;
    private final Tensor bias;
    private final int[] offsets;
    private final int[] widths;

    /**
     * @param weight      this rank's rows of each part, stacked in order, {@code [Σ_i parts_i.count(rank), in]}
     * @param bias        the biases' slices stacked the same way, or null
     * @param outFeatures each part's full output size (before sharding)
     */
    public MergedColumnParallelLinear(Backend backend, Communicator comm, Tensor weight, Tensor bias,
                                      long... outFeatures) {
        this.backend = backend;
        this.mappings = new Mappings(backend, comm);
        this.weight = weight;
        this.bias = bias;
        this.offsets = new int[outFeatures.length];
        this.widths = new int[outFeatures.length];
        int rows = 0;
        for (int i = 0; i < outFeatures.length; i++) {
            offsets[i] = rows;
            widths[i] = new Partition(outFeatures[i], comm.worldSize()).intCount(comm.rank());
            rows += widths[i];
        }
        if (weight.rows() != rows || (bias != null && bias.numel() != rows)) {
            throw new IllegalArgumentException("rank " + comm.rank() + " merged shard has " + weight.rows()
                    + " rows" + (bias == null ? "" : " and " + bias.numel() + " biases") + ", expected " + rows);
        }
    }

    /** {@code y [tokens, Σ widths] ← [Y_0[r] | Y_1[r] | …]}; {@link #part} views one part's columns. */
    public void forward(Tensor x, Tensor y) {
        backend.linear(mappings.copyToTensorParallelRegion(x), weight, bias, y);
    }

    /** Part {@code i}'s columns of an output of {@link #forward}: a column window, no copy. */
    public Tensor part(Tensor y, int i) {
        return y.narrowColumns(offsets[i], widths[i]);
    }

    /** Output columns this rank computes for part {@code i}. */
    public int localOutFeatures(int i) {
        return widths[i];
    }

    public Tensor weight() {
        return weight;
    }

    /** Part {@code i}'s rows of this rank's weight (a view). */
    public Tensor partWeight(int i) {
        return weight.slice((long) offsets[i] * weight.cols(), (long) widths[i] * weight.cols())
                .view(Shape.of(widths[i], weight.cols()));
    }

    /** Columns of {@link #forward}'s output: every part's columns of this rank, side by side. */
    public int outputColumns() {
        return weight.rows();
    }

    @Override
    public void close() {
        mappings.close();
    }
}
