package dev.tp4j.task.seeded;

import dev.tp4j.backend.Activation;
import dev.tp4j.nn.ColumnParallelLinear;
import dev.tp4j.nn.ParallelMlp;
import dev.tp4j.nn.RowParallelLinear;
import dev.tp4j.backend.Backend;
import dev.tp4j.comm.Communicator;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Partition;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.util.function.Consumer;

/**
 * Builds parallel layers whose weights come from {@link SeededWeights}: each rank allocates and fills
 * only its own shard. Weight {@code NAME.weight [out, in]} and bias {@code NAME.bias [out]}, named as
 * in a checkpoint, so the float64 reference can regenerate the full tensors by the same names.
 */
public final class SeededLayers {
    private final Backend backend;
    private final Communicator comm;
    private final SeededWeights weights;
    private final DType weightDType;

    public SeededLayers(Backend backend, Communicator comm, SeededWeights weights) {
        this(backend, comm, weights, DType.F32);
    }

    /** @param weightDType what the weight matrices are kept in (one of the backend's weightDTypes); biases stay F32 */
    public SeededLayers(Backend backend, Communicator comm, SeededWeights weights, DType weightDType) {
        this.backend = backend;
        this.comm = comm;
        this.weights = weights;
        this.weightDType = weightDType;
    }

    public ColumnParallelLinear column(String name, int in, int out, boolean withBias, boolean gatherOutput) {
        Partition rows = new Partition(out, comm.worldSize());
        long first = rows.offset(comm.rank());
        int count = rows.intCount(comm.rank());
        float bound = SeededWeights.linearBound(in);
        Tensor w = hostThenDevice(Shape.of(count, in), weightDType,
                t -> weights.fillRows(name + ".weight", in, first, bound, t));
        Tensor b = withBias ? hostThenDevice(Shape.of(count), DType.F32,
                t -> weights.fillSlice(name + ".bias", first, bound, t)) : null;
        return new ColumnParallelLinear(backend, comm, w, b, out, gatherOutput);
    }

    public RowParallelLinear row(String name, int in, int out, boolean withBias, boolean inputIsParallel) {
        Partition cols = new Partition(in, comm.worldSize());
        long first = cols.offset(comm.rank());
        int count = cols.intCount(comm.rank());
        float bound = SeededWeights.linearBound(in);
        Tensor w = hostThenDevice(Shape.of(out, count), weightDType,
                t -> weights.fillColumns(name + ".weight", in, first, bound, t));
        Tensor b = withBias ? hostThenDevice(Shape.of(out), DType.F32,
                t -> weights.fillSlice(name + ".bias", 0, bound, t)) : null;
        return new RowParallelLinear(backend, comm, w, b, in, inputIsParallel);
    }

    /** {@code prefix.up_proj}, {@code prefix.gate_proj} (when gated), {@code prefix.down_proj}, as in Llama. */
    public ParallelMlp mlp(String prefix, int hidden, int ffn, Activation act, boolean gated, boolean withBias) {
        ColumnParallelLinear up = column(prefix + ".up_proj", hidden, ffn, withBias, false);
        ColumnParallelLinear gate = gated ? column(prefix + ".gate_proj", hidden, ffn, withBias, false) : null;
        RowParallelLinear down = row(prefix + ".down_proj", ffn, hidden, withBias, true);
        return new ParallelMlp(backend, up, gate, down, act);
    }

    /** The same values for a whole tensor, as the float64 reference sees them. */
    public static double[] fullWeight(SeededWeights weights, String name, int in, int out) {
        return weights.full(name + ".weight", out, in, SeededWeights.linearBound(in));
    }

    public static double[] fullBias(SeededWeights weights, String name, int in, int out) {
        return weights.full(name + ".bias", 1, out, SeededWeights.linearBound(in));
    }

    /** Fills the shard in host memory and moves it to the backend's device (in place on a CPU rank) in {@code storage}. */
    private Tensor hostThenDevice(Shape shape, DType storage, Consumer<Tensor> fill) {
        Tensor host = Tensor.allocateHost(shape, DType.F32);
        try {
            fill.accept(host);
        } catch (RuntimeException e) {
            host.close();
            throw e;
        }
        return backend.adoptWeight(host, storage);
    }
}
