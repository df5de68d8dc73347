package dev.tp4j.checkpoint;

import dev.tp4j.backend.Backend;
import dev.tp4j.comm.Communicator;
import dev.tp4j.io.SafetensorsFile;
import dev.tp4j.io.TensorInfo;
import dev.tp4j.backend.Activation;
import dev.tp4j.nn.ColumnParallelLinear;
import dev.tp4j.nn.ParallelMlp;
import dev.tp4j.nn.RowParallelLinear;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Partition;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * Loads this rank's shard of an MLP from a checkpoint and builds the parallel layers on it. The rank
 * reads only its own bytes: the up and gate weights' block of rows (contiguous) and their bias slices,
 * the down weight's block of columns (one strided run per row) and the whole down bias, which the
 * row-parallel layer adds once after its all_reduce. Shards follow {@link Partition} (the first
 * {@code size % tp} ranks take one more row or column).
 *
 * <p>Each shard is decoded straight into the host tensor the layer will use (on a CPU rank; a GPU
 * backend copies it to the device), a block of at most {@link #BLOCK_BYTES} stored bytes at a time,
 * so a listener sees progress within a large tensor and no second full-size buffer is ever held.
 */
public final class MlpShardLoader {
    /** Stored bytes per read: small enough for a smooth progress bar, large enough to stream at full speed. */
    static final long BLOCK_BYTES = 32L << 20;

    private final SafetensorsFile file;
    private final long blockBytes;
    private final Backend backend;
    private final Communicator comm;
    private final LoadListener listener;
    private final DType weightDType;
    private final List<Tensor> loaded = new ArrayList<>();

    private MlpShardLoader(SafetensorsFile file, long blockBytes, Backend backend, Communicator comm,
                           LoadListener listener, DType weightDType) {
        this.file = file;
        this.blockBytes = blockBytes;
        this.backend = backend;
        this.comm = comm;
        this.listener = listener;
        this.weightDType = weightDType;
    }

    /** The MLP of {@code layout}, this rank's shard of it read from {@code file}. */
    public static ParallelMlp load(SafetensorsFile file, MlpLayout layout, Activation activation, Backend backend,
                                   Communicator comm, LoadListener listener) {
        return load(file, BLOCK_BYTES, layout, activation, backend, comm, listener, DType.F32);
    }

    /**
     * As above, the weight matrices kept in {@code weightDType} (one of the backend's weightDTypes: a GPU
     * rank keeps a BF16 checkpoint's weights in BF16); biases stay F32.
     */
    public static ParallelMlp load(SafetensorsFile file, MlpLayout layout, Activation activation, Backend backend,
                                   Communicator comm, LoadListener listener, DType weightDType) {
        return load(file, BLOCK_BYTES, layout, activation, backend, comm, listener, weightDType);
    }

    /** As {@link #load(SafetensorsFile, MlpLayout, Activation, Backend, Communicator, LoadListener)}, with tests' block size. */
    static ParallelMlp load(SafetensorsFile file, long blockBytes, MlpLayout layout, Activation activation,
                            Backend backend, Communicator comm, LoadListener listener) {
        return load(file, blockBytes, layout, activation, backend, comm, listener, DType.F32);
    }

    static ParallelMlp load(SafetensorsFile file, long blockBytes, MlpLayout layout, Activation activation,
                            Backend backend, Communicator comm, LoadListener listener, DType weightDType) {
        return new MlpShardLoader(file, blockBytes, backend, comm, listener, weightDType).load(layout, activation);
    }

    /** Stored bytes rank {@code rank} of {@code tp} reads for {@code layout}. */
    public static long shardBytes(MlpLayout layout, int rank, int tp) {
        long bytes = 0;
        for (LinearTensors column : layout.isGated() ? List.of(layout.up(), layout.gate()) : List.of(layout.up())) {
            long rows = new Partition(column.outFeatures(), tp).count(rank);
            bytes += rows * column.inFeatures() * column.weight().dtype().byteSize();
            bytes += column.hasBias() ? rows * column.bias().dtype().byteSize() : 0;
        }
        LinearTensors down = layout.down();
        long columns = new Partition(down.inFeatures(), tp).count(rank);
        bytes += down.outFeatures() * columns * down.weight().dtype().byteSize();
        bytes += down.hasBias() ? down.bias().byteSize() : 0;
        return bytes;
    }

    private ParallelMlp load(MlpLayout layout, Activation activation) {
        listener.started(shardBytes(layout, comm.rank(), comm.worldSize()));
        try {
            ColumnParallelLinear up = column(layout.up());
            ColumnParallelLinear gate = layout.isGated() ? column(layout.gate()) : null;
            RowParallelLinear down = row(layout.down());
            return new ParallelMlp(backend, up, gate, down, activation);
        } catch (RuntimeException | Error e) {
            loaded.forEach(Tensor::close);
            throw e;
        } finally {
            listener.finished();
        }
    }

    private ColumnParallelLinear column(LinearTensors layer) {
        Partition rows = new Partition(layer.outFeatures(), comm.worldSize());
        long first = rows.offset(comm.rank());
        int count = rows.intCount(comm.rank());
        int in = (int) layer.inFeatures();
        Tensor weight = read(layer.weight(), Shape.of(count, in), weightDType,
                (block, r) -> file.readRowsInto(layer.weightName(), first + r, block));
        Tensor bias = layer.hasBias() ? read(layer.bias(), Shape.of(count), DType.F32,
                (block, r) -> file.readRowsInto(layer.biasName(), first + r, block)) : null;
        return new ColumnParallelLinear(backend, comm, weight, bias, (int) layer.outFeatures(), false);
    }

    private RowParallelLinear row(LinearTensors layer) {
        Partition columns = new Partition(layer.inFeatures(), comm.worldSize());
        long first = columns.offset(comm.rank());
        int count = columns.intCount(comm.rank());
        int out = (int) layer.outFeatures();
        Tensor weight = read(layer.weight(), Shape.of(out, count), weightDType,
                (block, r) -> file.readColumnsInto(layer.weightName(), r, first, block));
        Tensor bias = layer.hasBias() ? read(layer.bias(), Shape.of(out), DType.F32,
                (block, r) -> file.readRowsInto(layer.biasName(), r, block)) : null;
        return new RowParallelLinear(backend, comm, weight, bias, (int) layer.inFeatures(), true);
    }

    /** Tells the listener when the shard holds NaN or Inf (one pass over memory the load just wrote). */
    private void reportNonFinite(String name, Tensor host) {
        java.nio.FloatBuffer values = host.floatBuffer();
        long count = 0;
        long first = -1;
        for (int i = 0; i < values.limit(); i++) {
            if (!Float.isFinite(values.get(i))) {
                count++;
                first = first < 0 ? i : first;
            }
        }
        if (count > 0) {
            listener.nonFinite(name, count, first);
        }
    }

    /** Reads the block of rows starting at row {@code firstRow} of the shard into {@code block}. */
    private interface BlockRead {
        void read(Tensor block, long firstRow);
    }

    /** Fills a host tensor of {@code shard} a block of rows at a time, then hands it to the backend in {@code storage}. */
    private Tensor read(TensorInfo stored, Shape shard, DType storage, BlockRead blockRead) {
        long start = System.nanoTime();
        long rows = shard.dim(0);
        long rowElements = shard.rank() == 1 ? 1 : shard.dim(1);
        long rowBytes = Math.max(1, rowElements * stored.dtype().byteSize());
        long rowsPerBlock = Math.max(1, blockBytes / rowBytes);
        Tensor host = Tensor.allocateHostUninitialized(shard, DType.F32);
        try {
            for (long r = 0; r < rows; r += rowsPerBlock) {
                long n = Math.min(rowsPerBlock, rows - r);
                Shape blockShape = shard.rank() == 1 ? Shape.of(n) : Shape.of(n, rowElements);
                try (Tensor block = host.slice(r * rowElements, n * rowElements).view(blockShape)) {
                    blockRead.read(block, r);
                }
                listener.advanced(n * rowElements * stored.dtype().byteSize());
            }
        } catch (RuntimeException | Error e) {
            host.close();
            throw e;
        }
        reportNonFinite(stored.name(), host);
        Tensor placed = backend.adoptWeight(host, storage);
        loaded.add(placed);
        listener.tensorLoaded(stored.name(), shard, stored.dtype(), shard.numel() * stored.dtype().byteSize(),
                System.nanoTime() - start);
        return placed;
    }
}
