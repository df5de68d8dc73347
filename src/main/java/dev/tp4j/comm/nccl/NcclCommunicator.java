package dev.tp4j.comm.nccl;

import static org.bytedeco.cuda.global.nccl.ncclFloat32;
import static org.bytedeco.cuda.global.nccl.ncclInProgress;
import static org.bytedeco.cuda.global.nccl.ncclSuccess;
import static org.bytedeco.cuda.global.nccl.ncclSum;

import dev.tp4j.backend.cuda.CudaBackend;
import dev.tp4j.comm.CollectiveOp;
import dev.tp4j.comm.CommStats;
import dev.tp4j.CommunicationException;
import dev.tp4j.comm.Communicator;
import dev.tp4j.rendezvous.RendezvousStore;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Partition;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.lang.reflect.Method;
import java.time.Duration;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntSupplier;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.cuda.global.nccl;
import org.bytedeco.cuda.nccl.ncclComm;
import org.bytedeco.cuda.nccl.ncclConfig_t;
import org.bytedeco.cuda.nccl.ncclUniqueId;

/**
 * Collectives between GPU ranks through NCCL, one communicator per rank, on the rank's stream.
 *
 * <p>Setup: rank 0 makes the unique id, the rendezvous store carries its bytes to the others, and every
 * rank joins with {@code ncclCommInitRankConfig} in non-blocking mode, so that initialisation can be
 * waited for with a deadline and aborted.
 *
 * <p>Every collective is enqueued on the stream and then waited for: {@code ncclCommGetAsyncError} and
 * {@code cudaStreamQuery} are polled until the stream is done; an NCCL error, a CUDA error or the
 * deadline (the group's timeout) ends in {@code ncclCommAbort} and a {@link CommunicationException}
 * naming the collective and the phase. Waiting makes every call synchronous, as the TCP ring is, so
 * the recorded times are the collectives' own.
 *
 * <p>Uneven counts: NCCL's all_gather and reduce_scatter need the same count on every rank. When tp4j's
 * partition is uneven, the data go through padded device scratch (every rank's chunk padded to the
 * largest) and are compacted afterwards with device-to-device copies; even counts go straight through.
 *
 * <p>Sent bytes in {@link CommStats} are the ring model's (nccl-tests' bus factors), not measured.
 *
 * <p><b>Not yet validated on a GPU</b>: no CUDA device or NCCL was available to the task that wrote it.
 */
public final class NcclCommunicator implements Communicator {
    static final String ID_KEY = "nccl/unique-id";
    /** nccl.h's {@code NCCL_API_MAGIC} (not exported by the CUDA 12 bindings). */
    static final int NCCL_API_MAGIC = 0xcafebeef;

    private final int rank;
    private final int worldSize;
    private final CudaBackend backend;
    private final Duration timeout;
    private final ncclComm comm;
    private final CommStats stats = new CommStats();
    private Tensor scratchIn;
    private Tensor scratchOut;
    private Tensor barrierWord;
    private boolean failed;
    private boolean closed;

    private NcclCommunicator(int rank, int worldSize, CudaBackend backend, Duration timeout, ncclComm comm) {
        this.rank = rank;
        this.worldSize = worldSize;
        this.backend = backend;
        this.timeout = timeout;
        this.comm = comm;
    }

    /** Joins the NCCL communicator of the job: all ranks call this together. */
    public static NcclCommunicator create(RendezvousStore store, int rank, int worldSize, CudaBackend backend,
                                          Duration timeout) {
        ncclUniqueId id = new ncclUniqueId();
        int idBytes = nccl.NCCL_UNIQUE_ID_BYTES;
        if (rank == 0) {
            check(nccl.ncclGetUniqueId(id), "ncclGetUniqueId", null);
            byte[] b = new byte[idBytes];
            id.internal().get(b);
            store.set(ID_KEY, b);
        } else {
            byte[] b = store.get(ID_KEY, timeout);
            if (b.length != idBytes) {
                throw new CommunicationException("NCCL setup: the unique id from rank 0 has " + b.length + " bytes, not "
                        + idBytes + " (ranks built against different NCCL versions?)");
            }
            id.internal().put(b);
        }
        ncclComm comm = new ncclComm();
        long deadline = System.nanoTime() + timeout.toNanos();
        int r = nccl.ncclCommInitRankConfig(comm, worldSize, id, rank, nonBlockingConfig());
        if (r != ncclSuccess && r != ncclInProgress) {
            throw new CommunicationException("NCCL setup: ncclCommInitRankConfig on rank " + rank + " failed: "
                    + nccl.ncclGetErrorString(r).getString());
        }
        NcclCommunicator c = new NcclCommunicator(rank, worldSize, backend, timeout, comm);
        c.awaitAsync("setup (ncclCommInitRank: waiting for all " + worldSize + " ranks)", deadline);
        return c;
    }

    /**
     * {@code NCCL_CONFIG_INITIALIZER} with {@code blocking = 0}: size, magic and version set, every other
     * field "undefined" ({@code INT_MIN}, null pointers), whatever fields this NCCL's struct has.
     */
    private static ncclConfig_t nonBlockingConfig() {
        ncclConfig_t cfg = new ncclConfig_t();
        cfg.zero();
        for (Method m : ncclConfig_t.class.getMethods()) {
            Class<?>[] p = m.getParameterTypes();
            String name = m.getName();
            if (p.length == 1 && p[0] == int.class && m.getReturnType() == ncclConfig_t.class
                    && !name.equals("magic") && !name.equals("version") && !name.equals("blocking")
                    && !name.equals("position") && !name.equals("getPointer")) {
                try {
                    m.invoke(cfg, Integer.MIN_VALUE);
                } catch (ReflectiveOperationException e) {
                    throw new IllegalStateException("ncclConfig_t." + name, e);
                }
            }
        }
        int[] version = {0};
        nccl.ncclGetVersion(version);
        cfg.size(cfg.sizeof()).magic(NCCL_API_MAGIC).version(version[0]).blocking(0);
        return cfg;
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int worldSize() {
        return worldSize;
    }

    @Override
    public void allReduce(Tensor buffer) {
        requireDevice(buffer, "all_reduce buffer");
        long n = buffer.numel();
        long bytes = buffer.byteSize();
        run(CollectiveOp.ALL_REDUCE, n, bytes, 2 * bytes * (worldSize - 1) / worldSize, () -> nccl.ncclAllReduce(
                buffer.floatPointer(), buffer.floatPointer(), n, ncclFloat32, ncclSum, comm, backend.stream()));
    }

    @Override
    public void allGather(Tensor local, Tensor gathered, long[] counts) {
        requireDevice(local, "all_gather input");
        requireDevice(gathered, "all_gather output");
        long total = 0;
        long max = 0;
        for (long c : counts) {
            total += c;
            max = Math.max(max, c);
        }
        if (counts.length != worldSize || counts[rank] != local.numel() || total != gathered.numel()) {
            throw new IllegalArgumentException("all_gather counts do not match the tensors on rank " + rank);
        }
        long sent = gathered.byteSize() * (worldSize - 1) / worldSize;
        final long chunk = max;
        boolean even = true;
        for (long c : counts) {
            even &= c == chunk;
        }
        if (even) {
            run(CollectiveOp.ALL_GATHER, total, gathered.byteSize(), sent, () -> nccl.ncclAllGather(
                    local.floatPointer(), gathered.floatPointer(), chunk, ncclFloat32, comm, backend.stream()));
            return;
        }
        // Uneven: pad every chunk to the largest, gather, then compact.
        Tensor in = scratchIn(max).slice(0, max);
        Tensor out = scratchOut(max * worldSize).slice(0, max * worldSize);
        if (local.numel() > 0) {
            backend.copy(local, in.slice(0, local.numel()));
        }
        run(CollectiveOp.ALL_GATHER, total, gathered.byteSize(), sent, () -> nccl.ncclAllGather(
                in.floatPointer(), out.floatPointer(), chunk, ncclFloat32, comm, backend.stream()));
        long offset = 0;
        for (int r = 0; r < worldSize; r++) {
            if (counts[r] > 0) {
                backend.copy(out.slice(r * max, counts[r]), gathered.slice(offset, counts[r]));
            }
            offset += counts[r];
        }
    }

    @Override
    public void reduceScatter(Tensor input, Tensor output) {
        requireDevice(input, "reduce_scatter input");
        requireDevice(output, "reduce_scatter output");
        long n = input.numel();
        Partition part = new Partition(n, worldSize);
        if (output.numel() != part.count(rank)) {
            throw new IllegalArgumentException("reduce_scatter output of rank " + rank + " has " + output.numel()
                    + " elements, its chunk of " + n + " has " + part.count(rank));
        }
        long sent = input.byteSize() * (worldSize - 1) / worldSize;
        if (part.isEven()) {
            long each = n / worldSize;
            run(CollectiveOp.REDUCE_SCATTER, n, input.byteSize(), sent, () -> nccl.ncclReduceScatter(
                    input.floatPointer(), output.floatPointer(), each, ncclFloat32, ncclSum, comm, backend.stream()));
            return;
        }
        long max = part.count(0); // the first ranks take the extra element
        Tensor in = scratchIn(max * worldSize).slice(0, max * worldSize);
        Tensor out = scratchOut(max).slice(0, max);
        for (int r = 0; r < worldSize; r++) {
            if (part.count(r) > 0) {
                backend.copy(input.view(Shape.of(n)).slice(part.offset(r), part.count(r)), in.slice(r * max, part.count(r)));
            }
        }
        run(CollectiveOp.REDUCE_SCATTER, n, input.byteSize(), sent, () -> nccl.ncclReduceScatter(
                in.floatPointer(), out.floatPointer(), max, ncclFloat32, ncclSum, comm, backend.stream()));
        if (output.numel() > 0) {
            backend.copy(out.slice(0, output.numel()), output.view(Shape.of(output.numel())));
        }
    }

    @Override
    public void broadcast(Tensor buffer, int root) {
        requireDevice(buffer, "broadcast buffer");
        long n = buffer.numel();
        run(CollectiveOp.BROADCAST, n, buffer.byteSize(), rank == (root + worldSize - 1) % worldSize ? 0 : buffer.byteSize(),
                () -> nccl.ncclBroadcast(buffer.floatPointer(), buffer.floatPointer(), n, ncclFloat32, root, comm,
                        backend.stream()));
    }

    @Override
    public void barrier() {
        if (barrierWord == null) {
            barrierWord = backend.allocate(Shape.of(1), DType.F32);
        }
        Tensor w = barrierWord;
        long start = System.nanoTime();
        enqueueAndWait(CollectiveOp.BARRIER, () -> nccl.ncclAllReduce(w.floatPointer(), w.floatPointer(), 1,
                ncclFloat32, ncclSum, comm, backend.stream()));
        stats.record(CollectiveOp.BARRIER, 0, 0, 0, System.nanoTime() - start);
    }

    @Override
    public CommStats stats() {
        return stats;
    }

    @Override
    public String describe() {
        int[] v = {0};
        nccl.ncclGetVersion(v);
        return "NCCL " + v[0] + " (" + worldSize + (worldSize == 1 ? " rank" : " ranks") + ", rank " + rank + " on "
                + backend.device() + ")";
    }

    public boolean failed() {
        return failed;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Tensor t : new Tensor[] {scratchIn, scratchOut, barrierWord}) {
            if (t != null) {
                t.close();
            }
        }
        if (failed) {
            return; // aborted already
        }
        nccl.ncclCommDestroy(comm);
    }

    // ------------------------------------------------------------------------------------------------

    private void run(CollectiveOp op, long elements, long payload, long sent, IntSupplier call) {
        long start = System.nanoTime();
        if (elements > 0 && worldSize > 1) {
            enqueueAndWait(op, call);
        }
        stats.record(op, elements, payload, worldSize > 1 ? sent : 0, System.nanoTime() - start);
    }

    private void enqueueAndWait(CollectiveOp op, IntSupplier call) {
        if (failed) {
            throw new CommunicationException(op + " on rank " + rank + ": the NCCL communicator failed earlier");
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        int r = call.getAsInt();
        if (r != ncclSuccess && r != ncclInProgress) {
            throw abort(op + " (enqueue)", nccl.ncclGetErrorString(r).getString() + lastError());
        }
        awaitAsync(op.toString() + " (enqueue)", deadline);
        awaitStream(op, deadline);
    }

    /** Polls {@code ncclCommGetAsyncError} until the communicator is no longer in progress. */
    private void awaitAsync(String phase, long deadline) {
        int[] state = {ncclInProgress};
        long backoff = 1_000;
        while (true) {
            int r = nccl.ncclCommGetAsyncError(comm, state);
            if (r != ncclSuccess) {
                throw abort(phase, "ncclCommGetAsyncError: " + nccl.ncclGetErrorString(r).getString());
            }
            if (state[0] == ncclSuccess) {
                return;
            }
            if (state[0] != ncclInProgress) {
                throw abort(phase, nccl.ncclGetErrorString(state[0]).getString() + lastError());
            }
            if (System.nanoTime() > deadline) {
                throw abort(phase, "no progress within " + timeout.toSeconds() + " s (a rank lost or stuck?)");
            }
            LockSupport.parkNanos(backoff);
            backoff = Math.min(backoff * 2, 1_000_000);
        }
    }

    /** Polls the stream, checking NCCL's async error in between, until the collective has finished. */
    private void awaitStream(CollectiveOp op, long deadline) {
        int[] state = {0};
        long backoff = 500;
        while (true) {
            int q = cudart.cudaStreamQuery(backend.stream());
            if (q == cudart.cudaSuccess) {
                return;
            }
            if (q != cudart.cudaErrorNotReady) {
                throw abort(op + " (on the stream)", "CUDA " + cudart.cudaGetErrorName(q).getString() + ": "
                        + cudart.cudaGetErrorString(q).getString());
            }
            nccl.ncclCommGetAsyncError(comm, state);
            if (state[0] != ncclSuccess && state[0] != ncclInProgress) {
                throw abort(op + " (on the stream)", nccl.ncclGetErrorString(state[0]).getString() + lastError());
            }
            if (System.nanoTime() > deadline) {
                throw abort(op + " (on the stream)", "not finished within " + timeout.toSeconds()
                        + " s (a rank lost or stuck?)");
            }
            LockSupport.parkNanos(backoff);
            backoff = Math.min(backoff * 2, 200_000);
        }
    }

    private CommunicationException abort(String phase, String why) {
        failed = true;
        nccl.ncclCommAbort(comm);
        return new CommunicationException("NCCL " + phase + " failed on rank " + rank + " of " + worldSize + ": " + why
                + "; communicator aborted");
    }

    private String lastError() {
        org.bytedeco.javacpp.BytePointer p = nccl.ncclGetLastError(comm);
        String s = p == null || p.isNull() ? null : p.getString();
        return s == null || s.isBlank() ? "" : " (" + s.trim() + ")";
    }

    private static void check(int r, String call, ncclComm comm) {
        if (r != ncclSuccess) {
            throw new CommunicationException("NCCL setup: " + call + " failed: " + nccl.ncclGetErrorString(r).getString());
        }
    }

    private void requireDevice(Tensor t, String what) {
        if (!t.device().equals(backend.device())) {
            throw new IllegalArgumentException(what + " " + t + " is not on " + backend.device());
        }
        if (t.dtype() != DType.F32) {
            throw new IllegalArgumentException(what + " " + t + ": collectives are on F32 tensors");
        }
        if (!t.isContiguous()) {
            throw new IllegalArgumentException(what + " " + t + " must be contiguous");
        }
    }

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
