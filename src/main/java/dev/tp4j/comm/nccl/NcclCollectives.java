package dev.tp4j.comm.nccl;

import dev.tp4j.backend.Backend;
import dev.tp4j.backend.cuda.DevicePointers;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Partition;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import org.bytedeco.javacpp.Pointer;

/**
 * What {@link NcclCommunicator}'s collectives do with tp4j's tensors around the NCCL calls: argument
 * checks, the byte-positioned buffers NCCL's {@code void*} parameters need ({@link DevicePointers}), the
 * padding and compaction of uneven counts, and the one-rank case. Pure Java over {@link Calls} and a
 * {@link Backend}, so a CPU test runs it with host tensors and a host stand-in for NCCL
 * (NcclCollectivesTest).
 *
 * <p>One rank: all_reduce and broadcast are the identity in place, but all_gather and reduce_scatter
 * are out of place and must still copy their input to their output. That copy is made here with the
 * backend (a device-to-device copy) rather than through NCCL, so that the one-rank path does not depend
 * on NCCL's own single-rank shortcut.
 */
final class NcclCollectives implements AutoCloseable {

    /**
     * NCCL's collectives in NCCL's terms: F32 sums, {@code void*} buffers positioned in bytes, counts in
     * elements. Each returns once the collective has finished (or throws).
     */
    interface Calls {
        void allReduce(Pointer send, Pointer recv, long count);

        /** {@code recv} holds {@code worldSize × sendCount} elements. */
        void allGather(Pointer send, Pointer recv, long sendCount);

        /** {@code send} holds {@code worldSize × recvCount} elements. */
        void reduceScatter(Pointer send, Pointer recv, long recvCount);

        void broadcast(Pointer send, Pointer recv, long count, int root);
    }

    private final int rank;
    private final int worldSize;
    private final Backend backend;
    private final Calls nccl;
    private Tensor scratchIn;
    private Tensor scratchOut;

    NcclCollectives(int rank, int worldSize, Backend backend, Calls nccl) {
        this.rank = rank;
        this.worldSize = worldSize;
        this.backend = backend;
        this.nccl = nccl;
    }

    void allReduce(Tensor buffer) {
        long n = buffer.numel();
        if (worldSize > 1 && n > 0) {
            Pointer p = DevicePointers.bytes(buffer);
            nccl.allReduce(p, p, n);
        }
    }

    void allGather(Tensor local, Tensor gathered, long[] counts) {
        long total = 0;
        long max = 0;
        boolean even = true;
        if (counts.length != worldSize) {
            throw new IllegalArgumentException("all_gather on rank " + rank + ": " + counts.length + " counts for "
                    + worldSize + " ranks");
        }
        for (long c : counts) {
            total += c;
            max = Math.max(max, c);
            even &= c == counts[0];
        }
        if (counts[rank] != local.numel() || total != gathered.numel()) {
            throw new IllegalArgumentException("all_gather on rank " + rank + ": counts " + java.util.Arrays.toString(counts)
                    + " do not match the input " + local + " and the output " + gathered);
        }
        if (total == 0) {
            return;
        }
        if (worldSize == 1) {
            backend.copy(flat(local), flat(gathered));
            return;
        }
        if (even) {
            nccl.allGather(DevicePointers.bytes(local), DevicePointers.bytes(gathered), max);
            return;
        }
        // Uneven: NCCL needs one count, so every chunk is padded to the largest, gathered, then compacted.
        Tensor in = scratchIn(max).slice(0, max);
        Tensor out = scratchOut(max * worldSize).slice(0, max * worldSize);
        if (local.numel() > 0) {
            backend.copy(flat(local), in.slice(0, local.numel()));
        }
        nccl.allGather(DevicePointers.bytes(in), DevicePointers.bytes(out), max);
        long offset = 0;
        for (int r = 0; r < worldSize; r++) {
            if (counts[r] > 0) {
                backend.copy(out.slice(r * max, counts[r]), gathered.slice(offset, counts[r]));
            }
            offset += counts[r];
        }
    }

    void reduceScatter(Tensor input, Tensor output) {
        long n = input.numel();
        Partition part = new Partition(n, worldSize);
        if (output.numel() != part.count(rank)) {
            throw new IllegalArgumentException("reduce_scatter output of rank " + rank + " has " + output.numel()
                    + " elements, its chunk of " + n + " has " + part.count(rank));
        }
        if (n == 0) {
            return;
        }
        if (worldSize == 1) {
            backend.copy(flat(input), flat(output));
            return;
        }
        if (part.isEven()) {
            nccl.reduceScatter(DevicePointers.bytes(input), DevicePointers.bytes(output), n / worldSize);
            return;
        }
        long max = part.count(0); // the first ranks take the extra element
        Tensor in = scratchIn(max * worldSize).slice(0, max * worldSize);
        Tensor out = scratchOut(max).slice(0, max);
        Tensor flatInput = flat(input);
        for (int r = 0; r < worldSize; r++) {
            if (part.count(r) > 0) {
                backend.copy(flatInput.slice(part.offset(r), part.count(r)), in.slice(r * max, part.count(r)));
            }
        }
        // The padding of the short chunks is summed too and dropped: whatever it holds never reaches output.
        nccl.reduceScatter(DevicePointers.bytes(in), DevicePointers.bytes(out), max);
        if (output.numel() > 0) {
            backend.copy(out.slice(0, output.numel()), flat(output));
        }
    }

    void broadcast(Tensor buffer, int root) {
        if (root < 0 || root >= worldSize) {
            throw new IllegalArgumentException("broadcast root " + root + " is not a rank of " + worldSize);
        }
        long n = buffer.numel();
        if (worldSize > 1 && n > 0) {
            Pointer p = DevicePointers.bytes(buffer);
            nccl.broadcast(p, p, n, root);
        }
    }

    @Override
    public void close() {
        for (Tensor t : new Tensor[] {scratchIn, scratchOut}) {
            if (t != null) {
                t.close();
            }
        }
        scratchIn = null;
        scratchOut = null;
    }

    private static Tensor flat(Tensor t) {
        return t.view(Shape.of(t.numel()));
    }

    /** Scratch kept between calls (grown, never shrunk), so steady-state collectives allocate nothing. */
    private Tensor scratchIn(long numel) {
        if (scratchIn == null || scratchIn.numel() < numel) {
            if (scratchIn != null) {
                scratchIn.close();
            }
            scratchIn = backend.allocate(Shape.of(Math.max(1, numel)), DType.F32);
        }
        return scratchIn;
    }

    private Tensor scratchOut(long numel) {
        if (scratchOut == null || scratchOut.numel() < numel) {
            if (scratchOut != null) {
                scratchOut.close();
            }
            scratchOut = backend.allocate(Shape.of(Math.max(1, numel)), DType.F32);
        }
        return scratchOut;
    }
}
