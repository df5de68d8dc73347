package dev.tp4j.comm.tcp;

import dev.tp4j.comm.CollectiveArgs;
import dev.tp4j.comm.CollectiveOp;
import dev.tp4j.comm.CommStats;
import dev.tp4j.CommunicationException;
import dev.tp4j.comm.Communicator;
import dev.tp4j.comm.FailureRecord;
import dev.tp4j.rendezvous.RendezvousStore;
import dev.tp4j.rendezvous.auth.JobToken;
import dev.tp4j.tensor.Partition;
import dev.tp4j.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.time.Duration;

/**
 * Collectives between CPU ranks over a TCP ring (rank r sends to r+1 and receives from r-1), with the
 * bandwidth-optimal ring algorithms: every rank sends about {@code (n-1)/n} of the buffer per phase,
 * whatever the world size.
 *
 * <ul>
 *   <li>all_reduce = ring reduce-scatter + ring all-gather over {@link Partition} chunks. Each chunk is
 *       summed on exactly one rank, then only copied, so every rank ends with the same bits.</li>
 *   <li>reduce_scatter = the same reduce-scatter phase, shifted so rank r ends with chunk r.</li>
 *   <li>all_gather = n-1 ring steps, each forwarding the block received in the previous one.</li>
 *   <li>broadcast = a chain from the root; every rank forwards bytes as soon as they arrive.</li>
 *   <li>barrier = n-1 rounds of one-byte tokens (after round k a rank knows k+1 predecessors arrived).</li>
 * </ul>
 *
 * Data moves straight between the tensors' memory and the sockets; received partial sums land in a
 * reused scratch buffer and are added as they arrive, overlapping the addition with the transfer.
 * Tensors must be contiguous host tensors; all_reduce and reduce_scatter take F32.
 *
 * <p>Failure: a collective that loses a neighbour, or moves nothing for the timeout, throws
 * {@link CommunicationException} naming the op and the rank; the communicator is then unusable. The
 * first diagnosis is left in the store, so ranks that only see a neighbour give up after it report the
 * rank actually lost rather than that neighbour. One thread per communicator; {@link #close()} may come
 * from any thread. Close only once every rank is done with its collectives ({@code ProcessGroup} waits
 * at a barrier first): to a peer with a collective still in flight, a rank that closed is a lost rank.
 */
public final class TcpRingCommunicator implements Communicator {
    /** How argument errors name this transport. */
    private static final String TRANSPORT = "the TCP ring";
    /** Store key prefix of the job's ring. */
    public static final String DEFAULT_KEY_PREFIX = "tp4j/ring";

    private final int rank;
    private final int worldSize;
    private final FailureRecord failures;
    private final RingLinks links;
    private final RingPipe pipe;
    private final CommStats stats = new CommStats();
    private final ScratchBuffer scratchA = new ScratchBuffer();
    private final ScratchBuffer scratchB = new ScratchBuffer();
    private final TensorViews views = new TensorViews();
    private final ChunkLayout chunks;
    private final ByteBuffer tokenOut = ByteBuffer.allocateDirect(1);
    private final ByteBuffer tokenIn = ByteBuffer.allocateDirect(1);
    private final String description;
    private volatile String failure;
    private volatile boolean closed;

    private TcpRingCommunicator(int rank, int worldSize, RendezvousStore store, String keyPrefix, RingLinks links,
                                Duration timeout) throws IOException {
        this.rank = rank;
        this.worldSize = worldSize;
        this.failures = new FailureRecord(store, keyPrefix);
        this.links = links;
        this.pipe = links == null ? null : new RingPipe(rank, worldSize, links, timeout);
        this.chunks = new ChunkLayout(worldSize);
        this.description = links == null
                ? "tcp ring, rank 0 of 1 (no peers)"
                : "tcp ring, rank " + rank + " of " + worldSize + ": from rank " + (rank - 1 + worldSize) % worldSize
                + " (" + links.prevEndpoint() + "), to rank " + (rank + 1) % worldSize + " (" + links.nextEndpoint() + ")";
    }

    /**
     * Joins the ring: publishes this rank's address under {@link #DEFAULT_KEY_PREFIX}, connects to its
     * neighbours and authenticates them with {@code token}. Blocks until both links are up or
     * {@code timeout} passes; {@code timeout} is also how long a collective may go without progress.
     *
     * @param advertisedHost the address other ranks reach this one on (it also binds there)
     */
    public static TcpRingCommunicator connect(RendezvousStore store, JobToken token, int rank, int worldSize,
                                              String advertisedHost, Duration timeout) {
        return connect(store, token, DEFAULT_KEY_PREFIX, rank, worldSize, advertisedHost, timeout);
    }

    /** As {@link #connect(RendezvousStore, JobToken, int, int, String, Duration)}, under a key prefix of one's own. */
    public static TcpRingCommunicator connect(RendezvousStore store, JobToken token, String keyPrefix, int rank,
                                              int worldSize, String advertisedHost, Duration timeout) {
        if (worldSize < 1 || rank < 0 || rank >= worldSize) {
            throw new IllegalArgumentException("rank " + rank + " of world size " + worldSize);
        }
        if (worldSize == 1) {
            try {
                return new TcpRingCommunicator(0, 1, store, keyPrefix, null, timeout);
            } catch (IOException e) {
                throw new IllegalStateException("unreachable: no sockets for one rank", e);
            }
        }
        RingLinks links = RingConnector.connect(store, token, keyPrefix, rank, worldSize, advertisedHost, timeout);
        try {
            return new TcpRingCommunicator(rank, worldSize, store, keyPrefix, links, timeout);
        } catch (IOException e) {
            links.close();
            throw new CommunicationException("rank " + rank + " cannot watch its ring links: " + e.getMessage());
        }
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
    public CommStats stats() {
        return stats;
    }

    @Override
    public String describe() {
        return description;
    }

    /** Whether an earlier collective failed (the ring is then unusable). */
    @Override
    public boolean failed() {
        return failure != null;
    }

    // ---------------------------------------------------------------- all_reduce

    @Override
    public void allReduce(Tensor buffer) {
        long start = System.nanoTime();
        checkUsable();
        CollectiveArgs.requireHostContiguous(buffer, "all_reduce buffer", TRANSPORT);
        CollectiveArgs.requireF32(buffer, "all_reduce buffer");
        int count = Math.toIntExact(buffer.numel());
        if (worldSize > 1 && count > 0) {
            try {
                ringAllReduce(buffer, count);
            } catch (CommunicationException e) {
                throw fail(e);
            }
        }
        stats.record(CollectiveOp.ALL_REDUCE, count, buffer.byteSize(), takeSent(), System.nanoTime() - start);
    }

    private void ringAllReduce(Tensor buffer, int count) {
        CollectiveOp op = CollectiveOp.ALL_REDUCE;
        chunks.split(count);
        FloatBuffer floats = buffer.floatBuffer(); // before byteBuffer(): the first call resets its window
        ByteBuffer out = buffer.byteBuffer();
        ByteBuffer in = views.secondView(out);
        ByteBuffer partial = scratchA.bytes(Float.BYTES * chunks.largest());
        FloatBuffer partialFloats = scratchA.floats();

        // Reduce-scatter: at step s rank r passes on chunk r-s and adds its own share to chunk r-s-1;
        // after n-1 steps it holds chunk r+1 summed over all ranks.
        for (int s = 0; s < worldSize - 1; s++) {
            int sendChunk = chunkIndex(rank - s);
            int recvChunk = chunkIndex(rank - s - 1);
            window(out, chunks.offset(sendChunk), chunks.count(sendChunk));
            int recvCount = chunks.count(recvChunk);
            int recvOffset = chunks.offset(recvChunk);
            partial.clear().limit(recvCount * Float.BYTES);
            int added = 0;
            while (out.hasRemaining() || partial.hasRemaining()) {
                pipe.progress(out, partial, op);
                int arrived = partial.position() / Float.BYTES;
                if (arrived > added) {
                    FloatSum.addInto(floats, recvOffset + added, partialFloats, added, arrived - added);
                    added = arrived;
                }
            }
        }
        // All-gather: pass the finished chunks around; from here on bytes are only copied.
        for (int s = 0; s < worldSize - 1; s++) {
            int sendChunk = chunkIndex(rank + 1 - s);
            int recvChunk = chunkIndex(rank - s);
            window(out, chunks.offset(sendChunk), chunks.count(sendChunk));
            window(in, chunks.offset(recvChunk), chunks.count(recvChunk));
            pipe.exchange(out, in, op);
        }
    }

    // ---------------------------------------------------------------- reduce_scatter

    @Override
    public void reduceScatter(Tensor input, Tensor output) {
        long start = System.nanoTime();
        checkUsable();
        CollectiveArgs.requireHostContiguous(input, "reduce_scatter input", TRANSPORT);
        CollectiveArgs.requireHostContiguous(output, "reduce_scatter output", TRANSPORT);
        CollectiveArgs.requireF32(input, "reduce_scatter input");
        CollectiveArgs.requireF32(output, "reduce_scatter output");
        int count = Math.toIntExact(input.numel());
        chunks.split(count);
        if (output.numel() != chunks.count(rank)) {
            throw new IllegalArgumentException("reduce_scatter output of rank " + rank + " has " + output.numel()
                    + " elements, its chunk of " + count + " has " + chunks.count(rank));
        }
        if (worldSize == 1) {
            copy(input, 0, output, 0, count);
        } else if (count > 0) {
            try {
                ringReduceScatter(input, output);
            } catch (CommunicationException e) {
                throw fail(e);
            }
        }
        stats.record(CollectiveOp.REDUCE_SCATTER, count, input.byteSize(), takeSent(), System.nanoTime() - start);
    }

    /**
     * At step s rank r sends its running sum of chunk r-s-1 (its own input at s = 0) and receives the
     * running sum of chunk r-s-2, adding its own input to it; the last step's chunk is r, written to
     * {@code output}. Partial sums live in two scratch buffers used in turn, so the input stays as it was.
     */
    private void ringReduceScatter(Tensor input, Tensor output) {
        CollectiveOp op = CollectiveOp.REDUCE_SCATTER;
        FloatBuffer inFloats = input.floatBuffer();
        ByteBuffer inBytes = input.byteBuffer();
        FloatBuffer outFloats = output.floatBuffer();
        int maxChunkBytes = Float.BYTES * chunks.largest();
        ByteBuffer received = scratchA.bytes(maxChunkBytes);
        ByteBuffer toSend = scratchB.bytes(maxChunkBytes);
        FloatBuffer receivedFloats = scratchA.floats();
        FloatBuffer toSendFloats = scratchB.floats();
        int lastStep = worldSize - 2;
        for (int s = 0; s <= lastStep; s++) {
            int sendChunk = chunkIndex(rank - s - 1);
            int recvChunk = chunkIndex(rank - s - 2);
            ByteBuffer send;
            if (s == 0) {
                send = window(inBytes, chunks.offset(sendChunk), chunks.count(sendChunk));
            } else {
                send = toSend;
                send.clear().limit(chunks.count(sendChunk) * Float.BYTES);
            }
            int recvCount = chunks.count(recvChunk);
            int ownOffset = chunks.offset(recvChunk);
            received.clear().limit(recvCount * Float.BYTES);
            int added = 0;
            while (send.hasRemaining() || received.hasRemaining()) {
                pipe.progress(send, received, op);
                int arrived = received.position() / Float.BYTES;
                if (arrived > added) {
                    FloatBuffer target = s == lastStep ? outFloats : receivedFloats;
                    FloatSum.sum(target, added, receivedFloats, added, inFloats, ownOffset + added, arrived - added);
                    added = arrived;
                }
            }
            // This step's sums are the next step's message; the buffer just sent takes the next receive.
            ByteBuffer swapBytes = received;
            received = toSend;
            toSend = swapBytes;
            FloatBuffer swapFloats = receivedFloats;
            receivedFloats = toSendFloats;
            toSendFloats = swapFloats;
        }
    }

    // ---------------------------------------------------------------- all_gather

    @Override
    public void allGather(Tensor local, Tensor gathered, long[] counts) {
        long start = System.nanoTime();
        checkUsable();
        CollectiveArgs.requireHostContiguous(local, "all_gather input", TRANSPORT);
        CollectiveArgs.requireHostContiguous(gathered, "all_gather output", TRANSPORT);
        CollectiveArgs.checkGatherCounts(local, gathered, counts, rank, worldSize);
        int elementBytes = gathered.dtype().byteSize();
        int ownOffset = CollectiveArgs.blockOffset(counts, rank);
        copy(local, 0, gathered, ownOffset, Math.toIntExact(local.numel()));
        if (worldSize > 1 && gathered.numel() > 0) {
            try {
                ringAllGather(gathered, counts, elementBytes);
            } catch (CommunicationException e) {
                throw fail(e);
            }
        }
        stats.record(CollectiveOp.ALL_GATHER, gathered.numel(), gathered.byteSize(), takeSent(), System.nanoTime() - start);
    }

    /** At step s rank r forwards block r-s (its own first) and receives block r-s-1, in place. */
    private void ringAllGather(Tensor gathered, long[] counts, int elementBytes) {
        ByteBuffer out = gathered.byteBuffer();
        ByteBuffer in = views.secondView(out);
        for (int s = 0; s < worldSize - 1; s++) {
            int sendBlock = chunkIndex(rank - s);
            int recvBlock = chunkIndex(rank - s - 1);
            windowBytes(out, CollectiveArgs.blockOffset(counts, sendBlock) * elementBytes, (int) counts[sendBlock] * elementBytes);
            windowBytes(in, CollectiveArgs.blockOffset(counts, recvBlock) * elementBytes, (int) counts[recvBlock] * elementBytes);
            pipe.exchange(out, in, CollectiveOp.ALL_GATHER);
        }
    }

    // ---------------------------------------------------------------- broadcast

    @Override
    public void broadcast(Tensor buffer, int root) {
        long start = System.nanoTime();
        checkUsable();
        CollectiveArgs.checkRoot(root, worldSize);
        CollectiveArgs.requireHostContiguous(buffer, "broadcast buffer", TRANSPORT);
        int bytes = Math.toIntExact(buffer.byteSize());
        if (worldSize > 1 && bytes > 0) {
            try {
                chainBroadcast(buffer, root, bytes);
            } catch (CommunicationException e) {
                throw fail(e);
            }
        }
        stats.record(CollectiveOp.BROADCAST, buffer.numel(), buffer.byteSize(), takeSent(), System.nanoTime() - start);
    }

    /** root → root+1 → … → root-1; a middle rank forwards whatever prefix it has received so far. */
    private void chainBroadcast(Tensor buffer, int root, int bytes) {
        CollectiveOp op = CollectiveOp.BROADCAST;
        int hops = chunkIndex(rank - root);
        ByteBuffer out = windowBytes(buffer.byteBuffer(), 0, bytes);
        if (hops == 0) {
            pipe.exchange(out, null, op);
            return;
        }
        ByteBuffer in = windowBytes(views.secondView(out), 0, bytes);
        if (hops == worldSize - 1) {
            pipe.exchange(null, in, op);
            return;
        }
        out.limit(0);
        while (in.hasRemaining() || out.position() < bytes) {
            out.limit(in.position());
            pipe.progress(out.hasRemaining() ? out : null, in.hasRemaining() ? in : null, op);
        }
    }

    // ---------------------------------------------------------------- barrier

    @Override
    public void barrier() {
        long start = System.nanoTime();
        checkUsable();
        if (worldSize > 1) {
            try {
                for (int round = 0; round < worldSize - 1; round++) {
                    tokenOut.clear();
                    tokenIn.clear();
                    pipe.exchange(tokenOut, tokenIn, CollectiveOp.BARRIER);
                }
            } catch (CommunicationException e) {
                throw fail(e);
            }
        }
        stats.record(CollectiveOp.BARRIER, 0, 0, takeSent(), System.nanoTime() - start);
    }

    // ---------------------------------------------------------------- lifecycle and failure

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (pipe != null) {
            pipe.close();
        }
        if (links != null) {
            links.close();
        }
    }

    private void checkUsable() {
        if (closed) {
            throw new IllegalStateException("communicator of rank " + rank + " is closed");
        }
        String f = failure;
        if (f != null) {
            throw new CommunicationException("the ring is unusable after an earlier failure: " + f);
        }
    }

    /**
     * Marks the ring broken and decides what to report. A rank that saw a neighbour vanish first asks the
     * store whether someone already diagnosed the failure: its neighbour may have closed only because it
     * gave up after the real loss. The first diagnosis wins and is left for the others; it is written
     * before this rank closes its links, so a rank that sees those links close finds it.
     */
    private CommunicationException fail(CommunicationException e) {
        if (closed) {
            return new CommunicationException(e.getMessage().startsWith("the communicator of rank")
                    ? e.getMessage() : "the communicator of rank " + rank + " was closed: " + e.getMessage());
        }
        String message = e.getMessage();
        String recorded = failures.record(message);
        if (e instanceof PeerLostException && recorded != null) {
            message = recorded;
        }
        failure = message;
        pipe.close();
        links.close();
        return new CommunicationException(message);
    }

    private long takeSent() {
        return pipe == null ? 0 : pipe.takeSentBytes();
    }

    // ---------------------------------------------------------------- helpers

    private int chunkIndex(int i) {
        return Math.floorMod(i, worldSize);
    }

    /** Sets {@code buffer}'s window to {@code count} floats from float {@code offset}. */
    private static ByteBuffer window(ByteBuffer buffer, int offset, int count) {
        return windowBytes(buffer, offset * Float.BYTES, count * Float.BYTES);
    }

    private static ByteBuffer windowBytes(ByteBuffer buffer, int offset, int length) {
        buffer.clear().limit(offset + length).position(offset);
        return buffer;
    }

    /** Copies {@code count} elements between host tensors of one dtype (regions may be the same memory). */
    private static void copy(Tensor src, long srcOffset, Tensor dst, long dstOffset, int count) {
        if (count == 0) {
            return;
        }
        int elementBytes = src.dtype().byteSize();
        if (src.dtype() != dst.dtype()) {
            throw new IllegalArgumentException("cannot copy " + src.dtype() + " into " + dst.dtype());
        }
        ByteBuffer from = src.byteBuffer();
        ByteBuffer to = dst.byteBuffer();
        to.put(Math.toIntExact(dstOffset * elementBytes), from, Math.toIntExact(srcOffset * elementBytes), count * elementBytes);
    }

}
