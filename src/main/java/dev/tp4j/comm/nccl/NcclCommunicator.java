package dev.tp4j.comm.nccl;

import static org.bytedeco.cuda.global.nccl.ncclFloat32;
import static org.bytedeco.cuda.global.nccl.ncclInProgress;
import static org.bytedeco.cuda.global.nccl.ncclSuccess;
import static org.bytedeco.cuda.global.nccl.ncclSum;

import dev.tp4j.backend.cuda.CudaBackend;
import dev.tp4j.backend.cuda.DevicePointers;
import dev.tp4j.comm.CollectiveOp;
import dev.tp4j.comm.CommStats;
import dev.tp4j.CommunicationException;
import dev.tp4j.comm.Communicator;
import dev.tp4j.rendezvous.RendezvousStore;
import dev.tp4j.tensor.DType;
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
import org.bytedeco.javacpp.Pointer;

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
 * <p>What happens around the NCCL calls (uneven counts padded through device scratch and compacted
 * afterwards, the one-rank copies of the out-of-place collectives, byte-positioned {@code void*}
 * buffers) is {@link NcclCollectives}, checked on CPU ranks by NcclCollectivesTest.
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
    private final NcclCollectives collectives;
    private Tensor barrierWord;
    private boolean failed;
    private boolean closed;

    private NcclCommunicator(int rank, int worldSize, CudaBackend backend, Duration timeout, ncclComm comm) {
        this.rank = rank;
        this.worldSize = worldSize;
        this.backend = backend;
        this.timeout = timeout;
        this.comm = comm;
        this.collectives = new NcclCollectives(rank, worldSize, backend, new Enqueued());
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
        long bytes = buffer.byteSize();
        timed(CollectiveOp.ALL_REDUCE, buffer.numel(), bytes, 2 * bytes * (worldSize - 1) / worldSize,
                () -> collectives.allReduce(buffer));
    }

    @Override
    public void allGather(Tensor local, Tensor gathered, long[] counts) {
        requireDevice(local, "all_gather input");
        requireDevice(gathered, "all_gather output");
        timed(CollectiveOp.ALL_GATHER, gathered.numel(), gathered.byteSize(),
                gathered.byteSize() * (worldSize - 1) / worldSize, () -> collectives.allGather(local, gathered, counts));
    }

    @Override
    public void reduceScatter(Tensor input, Tensor output) {
        requireDevice(input, "reduce_scatter input");
        requireDevice(output, "reduce_scatter output");
        timed(CollectiveOp.REDUCE_SCATTER, input.numel(), input.byteSize(),
                input.byteSize() * (worldSize - 1) / worldSize, () -> collectives.reduceScatter(input, output));
    }

    @Override
    public void broadcast(Tensor buffer, int root) {
        requireDevice(buffer, "broadcast buffer");
        long sent = rank == (root + worldSize - 1) % worldSize ? 0 : buffer.byteSize();
        timed(CollectiveOp.BROADCAST, buffer.numel(), buffer.byteSize(), sent, () -> collectives.broadcast(buffer, root));
    }

    @Override
    public void barrier() {
        if (barrierWord == null) {
            barrierWord = backend.allocate(Shape.of(1), DType.F32);
        }
        Tensor w = barrierWord;
        long start = System.nanoTime();
        Pointer p = DevicePointers.bytes(w);
        enqueueAndWait(CollectiveOp.BARRIER, () -> nccl.ncclAllReduce(p, p, 1, ncclFloat32, ncclSum, comm, backend.stream()));
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

    /**
     * Frees the scratch, then {@code ncclCommFinalize} (which, on this non-blocking communicator, flushes
     * outstanding work asynchronously: polled to completion within the timeout) and
     * {@code ncclCommDestroy}. Destroying without finalizing can cut off peers still exchanging with this
     * rank. A failure is aborted and thrown, naming the step; a communicator that failed earlier was
     * aborted then and is only released.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        collectives.close();
        if (barrierWord != null) {
            barrierWord.close();
        }
        if (failed) {
            return; // aborted already
        }
        try {
            NcclTeardown.close(new NcclTeardown.Ops() {
                @Override
                public int finalizeComm() {
                    return nccl.ncclCommFinalize(comm);
                }

                @Override
                public int asyncError(int[] state) {
                    return nccl.ncclCommGetAsyncError(comm, state);
                }

                @Override
                public int destroy() {
                    return nccl.ncclCommDestroy(comm);
                }

                @Override
                public int abort() {
                    return nccl.ncclCommAbort(comm);
                }

                @Override
                public String errorString(int result) {
                    return nccl.ncclGetErrorString(result).getString();
                }

                @Override
                public String lastError() {
                    return NcclCommunicator.this.lastError();
                }
            }, timeout, "rank " + rank + " of " + worldSize);
        } catch (CommunicationException e) {
            failed = true;
            throw e;
        }
    }

    // ------------------------------------------------------------------------------------------------

    /** Runs a collective and records it; at one rank nothing is sent. */
    private void timed(CollectiveOp op, long elements, long payload, long sent, Runnable collective) {
        long start = System.nanoTime();
        collective.run();
        stats.record(op, elements, payload, worldSize > 1 ? sent : 0, System.nanoTime() - start);
    }

    /** NCCL's calls on this communicator and the rank's stream, each waited for. */
    private final class Enqueued implements NcclCollectives.Calls {
        @Override
        public void allReduce(Pointer send, Pointer recv, long count) {
            enqueueAndWait(CollectiveOp.ALL_REDUCE, () -> nccl.ncclAllReduce(send, recv, count, ncclFloat32, ncclSum, comm,
                    backend.stream()));
        }

        @Override
        public void allGather(Pointer send, Pointer recv, long sendCount) {
            enqueueAndWait(CollectiveOp.ALL_GATHER, () -> nccl.ncclAllGather(send, recv, sendCount, ncclFloat32, comm,
                    backend.stream()));
        }

        @Override
        public void reduceScatter(Pointer send, Pointer recv, long recvCount) {
            enqueueAndWait(CollectiveOp.REDUCE_SCATTER, () -> nccl.ncclReduceScatter(send, recv, recvCount, ncclFloat32,
                    ncclSum, comm, backend.stream()));
        }

        @Override
        public void broadcast(Pointer send, Pointer recv, long count, int root) {
            enqueueAndWait(CollectiveOp.BROADCAST, () -> nccl.ncclBroadcast(send, recv, count, ncclFloat32, root, comm,
                    backend.stream()));
        }
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
        int a = nccl.ncclCommAbort(comm);
        String aborted = a == ncclSuccess || a == ncclInProgress ? "communicator aborted"
                : "ncclCommAbort failed too: " + nccl.ncclGetErrorString(a).getString();
        return new CommunicationException("NCCL " + phase + " failed on rank " + rank + " of " + worldSize + ": " + why
                + "; " + aborted + (backend.lastQueued() == null ? "" : "; last work queued on the stream: "
                + backend.lastQueued()));
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
}
