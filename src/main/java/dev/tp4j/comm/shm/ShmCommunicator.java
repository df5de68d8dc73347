package dev.tp4j.comm.shm;

import dev.tp4j.comm.CollectiveArgs;
import dev.tp4j.comm.CollectiveOp;
import dev.tp4j.comm.CommStats;
import dev.tp4j.CommunicationException;
import dev.tp4j.comm.Communicator;
import dev.tp4j.comm.FailureRecord;
import dev.tp4j.rendezvous.Durations;
import dev.tp4j.rendezvous.RendezvousStore;
import dev.tp4j.rendezvous.StoreBarrier;
import dev.tp4j.rendezvous.StoreTimeoutException;
import dev.tp4j.tensor.Partition;
import dev.tp4j.tensor.Tensor;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.locks.LockSupport;

/**
 * Collectives between the ranks of one host through a shared memory-mapped file ({@link ShmRegion}):
 * each rank writes into its own slot, then reads the others' slots. No kernel call on the data path.
 *
 * <p>Synchronisation is by phases. Every rank numbers its phases the same way (collectives run in the
 * same order everywhere); to end phase p a rank stores p in its flag (release) after its writes for the
 * phase, then waits until every other flag is at least p (acquire). Slots come in two sets used in turn
 * by successive segments, so a rank never overwrites a slot another rank may still be reading: before it
 * writes set k mod 2 again (segment k) it has seen every rank finish a phase of segment k-1, which they
 * entered only after they were done reading segment k-2.
 *
 * <ul>
 *   <li>all_reduce, per segment of at most one slot: each rank copies its buffer into its slot (all but
 *       its own chunk, which it reads in place); phase; rank r sums chunk r (chunks by {@link Partition})
 *       over the ranks <b>in rank order</b>, {@code ((x₀ + x₁) + x₂) + …} in float32, element by element,
 *       and writes it to its tensor and its slot; phase; every rank copies the other chunks out. Each
 *       element is summed once, by one rank, in one fixed order: every rank gets the same bits, and they
 *       equal the rank-order float sum (the TCP ring sums in ring order, which may differ in the last
 *       bit). With two ranks, and for segments up to 64 KiB, one phase does: every rank copies its whole
 *       segment in and sums all of it itself, in the same rank order, so again the same bits.</li>
 *   <li>reduce_scatter: the same first half; per segment every chunk contributes a piece of equal length
 *       so each rank's piece sits at a fixed place in every slot.</li>
 *   <li>all_gather and broadcast: copy in, phase, copy out, in slot-sized pieces.</li>
 *   <li>barrier: one phase.</li>
 * </ul>
 *
 * <p>Waiting spins briefly, then yields, then parks with a growing pause (up to 1 ms). With a core per
 * rank (no more ranks on this host than cores) a rank yields for up to 100 ms before it parks, as Open MPI
 * busy-polls unless oversubscribed: a parked rank wakes up to a pause late, and a decode step waits for its
 * peer 33 times (tp 2 on 2 cores: mean step 83–86 ms instead of 87–92, p90 100–105 ms instead of 115–143).
 * With more ranks than cores it parks after 1 ms, leaving the cores to the ranks that compute. While it waits a
 * rank checks, every few milliseconds, that each rank it waits for is alive (its process, by the pid it
 * published, and its communicator not closed), and at every turn the header's failure word, which a
 * failing rank sets so the others stop at once. A rank that waits for the timeout without the awaited
 * flag moving gives up naming the ranks it waited for. Errors are {@link CommunicationException}s named
 * as the TCP ring names them ("rank 2 lost during all_reduce: ..."), and the first diagnosis is left in
 * the store. {@code sentBytes} in the stats is what this rank wrote into shared memory.
 *
 * <p>One thread per communicator; {@link #close()} may come from any thread. Close only once every rank
 * is done with its collectives: to a peer still waiting, a closed rank is a lost rank.
 */
public final class ShmCommunicator implements Communicator {
    /** How argument errors name this transport. */
    private static final String TRANSPORT = "shared memory";
    /** Store key prefix of the job's shared memory group. */
    public static final String DEFAULT_KEY_PREFIX = "tp4j/shm";
    /** Bytes per slot (two sets of one slot per rank): 4 MiB, so a 4 MiB all_reduce is one segment. */
    public static final int DEFAULT_SLOT_BYTES = 4 << 20;

    private static final VarHandle LONGS = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.nativeOrder());
    private static final long LIVENESS_CHECK_NANOS = 5_000_000L;
    private static final long SPIN_NANOS = 20_000L;
    /** Yielding before parking, with a core per rank and with fewer cores than ranks. */
    static final long DEDICATED_YIELD_NANOS = 100_000_000L;
    static final long SHARED_YIELD_NANOS = 1_000_000L;
    private static final long MAX_PARK_NANOS = 1_000_000L;
    private static final int BLOCK = 2048;
    /** Segments up to this many floats (64 KiB) are all-reduced in one phase (see {@link #allReduceDirect}). */
    private static final int DIRECT_MAX_FLOATS = 16 << 10;
    private static final int WARM_UP_ROUNDS = 4000;
    private static final long WARM_UP_NANOS = 300_000_000L;

    private final int rank;
    private final int worldSize;
    private final FailureRecord failures;
    private final ShmRegion region;
    private final ByteBuffer shared;
    private final FloatBuffer sharedFloats;
    private final ProcessHandle[] peers;
    private final long[] peerPids;
    private final long timeoutNanos;
    private final long yieldNanos;
    private final Duration timeout;
    private final String description;
    private final CommStats stats = new CommStats();
    private final int[] offsets;
    private final int[] counts;
    private final FloatBuffer[] sources;
    private final int[] sourceOffsets;
    private final float[] acc = new float[BLOCK];
    private final float[] term = new float[BLOCK];
    private long phase;
    private long segment;
    private long sent;
    private volatile String failure;
    private volatile boolean closed;

    private ShmCommunicator(int rank, int worldSize, RendezvousStore store, String keyPrefix, ShmRegion region,
                            long[] peerPids, Duration timeout) {
        this.rank = rank;
        this.worldSize = worldSize;
        this.failures = new FailureRecord(store, keyPrefix);
        this.region = region;
        this.shared = region == null ? null : region.buffer;
        this.sharedFloats = region == null ? null : region.buffer.asFloatBuffer();
        this.peerPids = peerPids;
        this.peers = new ProcessHandle[worldSize];
        for (int r = 0; r < worldSize; r++) {
            Optional<ProcessHandle> h = peerPids == null ? Optional.empty() : ProcessHandle.of(peerPids[r]);
            peers[r] = h.orElse(null);
        }
        this.timeout = timeout;
        this.timeoutNanos = timeout.toNanos();
        this.yieldNanos = yieldNanos(worldSize, Runtime.getRuntime().availableProcessors());
        this.offsets = new int[worldSize];
        this.counts = new int[worldSize];
        this.sources = new FloatBuffer[worldSize];
        this.sourceOffsets = new int[worldSize];
        String where = region == null ? ShmRegion.directory().toString() : region.path.getParent().toString();
        this.description = "shared memory (" + where + ", " + worldSize + (worldSize == 1 ? " rank" : " ranks")
                + "), rank " + rank + " of " + worldSize
                + (region == null ? " (no peers)" : ", " + (region.slotBytes >> 10) + " KiB slots");
    }

    /**
     * Joins the host's shared memory group: rank 0 creates the file and publishes its name under
     * {@code keyPrefix}; the others map it; once all have (a store barrier) the name is unlinked. Every
     * rank publishes its pid so the others can tell when it dies. {@code timeout} bounds the rendezvous
     * and is the no-progress limit of every later collective.
     */
    public static ShmCommunicator connect(RendezvousStore store, String keyPrefix, int rank, int worldSize,
                                          Duration timeout) {
        return connect(store, keyPrefix, rank, worldSize, timeout, DEFAULT_SLOT_BYTES, ProcessHandle.current().pid());
    }

    /** As {@link #connect(RendezvousStore, String, int, int, Duration)} with a slot size and the pid to publish. */
    static ShmCommunicator connect(RendezvousStore store, String keyPrefix, int rank, int worldSize, Duration timeout,
                                   int slotBytes, long pid) {
        if (worldSize < 1 || rank < 0 || rank >= worldSize) {
            throw new IllegalArgumentException("rank " + rank + " of world size " + worldSize);
        }
        if (slotBytes < 64 * worldSize || slotBytes % 64 != 0) {
            throw new IllegalArgumentException("slot of " + slotBytes + " bytes: need a multiple of 64, at least 64 per rank");
        }
        if (worldSize == 1) {
            return new ShmCommunicator(0, 1, store, keyPrefix, null, null, timeout);
        }
        store.set(RendezvousStore.rankKey(keyPrefix + "/pid", rank), Long.toString(pid));
        // Every rank is here before the file exists, so a rank lost during the rendezvous leaves nothing.
        long[] pids = new long[worldSize];
        for (int r = 0; r < worldSize; r++) {
            pids[r] = Long.parseLong(store.getString(RendezvousStore.rankKey(keyPrefix + "/pid", r), timeout));
        }
        ShmRegion region = null;
        try {
            String fileKey = keyPrefix + "/file";
            if (rank == 0) {
                region = ShmRegion.create(worldSize, slotBytes);
                store.set(fileKey, region.path + "\n" + region.nonce);
            } else {
                String announced;
                try {
                    announced = store.getString(fileKey, timeout);
                } catch (StoreTimeoutException e) {
                    throw new CommunicationException("rank 0 did not announce its shared memory file within "
                            + Durations.describe(timeout));
                }
                int nl = announced.indexOf('\n');
                region = ShmRegion.open(Path.of(announced.substring(0, nl)), Long.parseLong(announced.substring(nl + 1)),
                        worldSize, slotBytes);
            }
            StoreBarrier.await(store, "shm-mapped:" + keyPrefix, rank, worldSize, timeout);
            region.unlink(); // every rank has it mapped: nothing stays in /dev/shm, whatever happens next
            ShmCommunicator comm = new ShmCommunicator(rank, worldSize, store, keyPrefix, region, pids, timeout);
            comm.warmUp();
            return comm;
        } catch (RuntimeException e) {
            if (region != null) {
                region.unlink();
            }
            throw e;
        }
    }

    /** Where the shared files go on this machine ({@code /dev/shm}, else the temp dir), for reports. */
    public static String directory() {
        return ShmRegion.directory().toString();
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

    @Override
    public boolean failed() {
        return failure != null;
    }

    /** Where the shared file was (its name is unlinked once every rank mapped it); null for one rank. */
    Path path() {
        return region == null ? null : region.path;
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
                FloatBuffer floats = buffer.floatBuffer(); // before byteBuffer(): the first call resets its window
                ByteBuffer bytes = buffer.byteBuffer();
                int slotFloats = region.slotBytes / Float.BYTES;
                for (int seg = 0; seg < count; seg += slotFloats) {
                    allReduceSegment(floats, bytes, seg, Math.min(slotFloats, count - seg));
                }
            } catch (CommunicationException e) {
                throw fail(e, CollectiveOp.ALL_REDUCE);
            }
        }
        stats.record(CollectiveOp.ALL_REDUCE, count, buffer.byteSize(), takeSent(), System.nanoTime() - start);
    }

    private void allReduceSegment(FloatBuffer floats, ByteBuffer bytes, int seg, int len) {
        if (worldSize == 2 || len <= DIRECT_MAX_FLOATS) {
            allReduceDirect(floats, bytes, seg, len);
            return;
        }
        CollectiveOp op = CollectiveOp.ALL_REDUCE;
        split(len);
        int set = nextSet();
        int mySlot = region.slot(set, rank);
        int own = offsets[rank];
        int ownCount = counts[rank];
        // Everything but this rank's own chunk goes to its slot, at the same place as in the segment.
        copyIn(mySlot, bytes, seg * Float.BYTES, own * Float.BYTES);
        int after = own + ownCount;
        copyIn(mySlot + after * Float.BYTES, bytes, (seg + after) * Float.BYTES, (len - after) * Float.BYTES);
        publishAndAwaitAll(op);
        for (int q = 0; q < worldSize; q++) {
            if (q == rank) {
                sources[q] = floats;
                sourceOffsets[q] = seg + own;
            } else {
                sources[q] = sharedFloats;
                sourceOffsets[q] = region.slot(set, q) / Float.BYTES + own;
            }
        }
        reduceRankOrder(ownCount, floats, seg + own, sharedFloats, mySlot / Float.BYTES + own);
        sent += (long) ownCount * Float.BYTES;
        publishAndAwaitAll(op);
        for (int q = 0; q < worldSize; q++) {
            if (q != rank && counts[q] > 0) {
                bytes.put((seg + offsets[q]) * Float.BYTES, shared, region.slot(set, q) + offsets[q] * Float.BYTES,
                        counts[q] * Float.BYTES);
            }
        }
    }

    /**
     * One phase instead of two: every rank copies its whole segment in, then sums all of it itself, in
     * rank order. The same bits on every rank (same operands, same order), with fewer waits. Each rank
     * reads (n-1)·len floats of the others instead of 2·(n-1)/n·len: as cheap at n = 2, and for small
     * segments the saved phase is worth more than the extra reading.
     */
    private void allReduceDirect(FloatBuffer floats, ByteBuffer bytes, int seg, int len) {
        int set = nextSet();
        copyIn(region.slot(set, rank), bytes, seg * Float.BYTES, len * Float.BYTES);
        publishAndAwaitAll(CollectiveOp.ALL_REDUCE);
        for (int q = 0; q < worldSize; q++) {
            if (q == rank) {
                sources[q] = floats;
                sourceOffsets[q] = seg;
            } else {
                sources[q] = sharedFloats;
                sourceOffsets[q] = region.slot(set, q) / Float.BYTES;
            }
        }
        reduceRankOrder(len, floats, seg, null, 0);
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
        split(count);
        if (output.numel() != counts[rank]) {
            throw new IllegalArgumentException("reduce_scatter output of rank " + rank + " has " + output.numel()
                    + " elements, its chunk of " + count + " has " + counts[rank]);
        }
        if (worldSize == 1) {
            if (count > 0) {
                output.byteBuffer().put(0, input.byteBuffer(), 0, count * Float.BYTES);
            }
        } else if (count > 0) {
            try {
                scatterReduce(input, output);
            } catch (CommunicationException e) {
                throw fail(e, CollectiveOp.REDUCE_SCATTER);
            }
        }
        stats.record(CollectiveOp.REDUCE_SCATTER, count, input.byteSize(), takeSent(), System.nanoTime() - start);
    }

    /**
     * Per segment j each chunk c contributes its piece {@code [j·P, (j+1)·P)} (P = slot floats / n), at
     * {@code c·P} in the slot; rank r sums piece r over the slots in rank order into its output.
     */
    private void scatterReduce(Tensor input, Tensor output) {
        FloatBuffer in = input.floatBuffer();
        ByteBuffer inBytes = input.byteBuffer();
        FloatBuffer out = output.floatBuffer();
        int piece = region.slotBytes / Float.BYTES / worldSize;
        int largest = counts[0];
        for (int j = 0; j * piece < largest; j++) {
            int set = nextSet();
            int mySlot = region.slot(set, rank);
            int from = j * piece;
            for (int c = 0; c < worldSize; c++) {
                int len = Math.max(0, Math.min(piece, counts[c] - from));
                if (c != rank && len > 0) {
                    copyIn(mySlot + c * piece * Float.BYTES, inBytes, (offsets[c] + from) * Float.BYTES, len * Float.BYTES);
                }
            }
            publishAndAwaitAll(CollectiveOp.REDUCE_SCATTER);
            int mine = Math.max(0, Math.min(piece, counts[rank] - from));
            for (int q = 0; q < worldSize; q++) {
                if (q == rank) {
                    sources[q] = in;
                    sourceOffsets[q] = offsets[rank] + from;
                } else {
                    sources[q] = sharedFloats;
                    sourceOffsets[q] = region.slot(set, q) / Float.BYTES + rank * piece;
                }
            }
            reduceRankOrder(mine, out, from, null, 0);
        }
    }

    // ---------------------------------------------------------------- all_gather

    @Override
    public void allGather(Tensor local, Tensor gathered, long[] gatherCounts) {
        long start = System.nanoTime();
        checkUsable();
        CollectiveArgs.requireHostContiguous(local, "all_gather input", TRANSPORT);
        CollectiveArgs.requireHostContiguous(gathered, "all_gather output", TRANSPORT);
        CollectiveArgs.checkGatherCounts(local, gathered, gatherCounts, rank, worldSize);
        int elementBytes = gathered.dtype().byteSize();
        ByteBuffer out = gathered.byteBuffer();
        int myBytes = Math.toIntExact(local.byteSize());
        if (myBytes > 0) {
            out.put(CollectiveArgs.blockOffset(gatherCounts, rank) * elementBytes, local.byteBuffer(), 0, myBytes);
        }
        if (worldSize > 1 && gathered.numel() > 0) {
            try {
                gatherPieces(local.byteBuffer(), myBytes, out, gatherCounts, elementBytes);
            } catch (CommunicationException e) {
                throw fail(e, CollectiveOp.ALL_GATHER);
            }
        }
        stats.record(CollectiveOp.ALL_GATHER, gathered.numel(), gathered.byteSize(), takeSent(), System.nanoTime() - start);
    }

    private void gatherPieces(ByteBuffer mine, int myBytes, ByteBuffer out, long[] gatherCounts, int elementBytes) {
        int piece = region.slotBytes;
        long largest = 0;
        for (long c : gatherCounts) {
            largest = Math.max(largest, c * elementBytes);
        }
        for (int from = 0; from < largest; from += piece) {
            int set = nextSet();
            int mySlot = region.slot(set, rank);
            copyIn(mySlot, mine, from, Math.max(0, Math.min(piece, myBytes - from)));
            publishAndAwaitAll(CollectiveOp.ALL_GATHER);
            for (int q = 0; q < worldSize; q++) {
                int len = (int) Math.max(0, Math.min(piece, gatherCounts[q] * elementBytes - from));
                if (q != rank && len > 0) {
                    out.put(CollectiveArgs.blockOffset(gatherCounts, q) * elementBytes + from, shared, region.slot(set, q), len);
                }
            }
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
                ByteBuffer data = buffer.byteBuffer();
                for (int from = 0; from < bytes; from += region.slotBytes) {
                    int len = Math.min(region.slotBytes, bytes - from);
                    int rootSlot = region.slot(nextSet(), root);
                    if (rank == root) {
                        copyIn(rootSlot, data, from, len);
                    }
                    publishAndAwaitAll(CollectiveOp.BROADCAST);
                    if (rank != root) {
                        data.put(from, shared, rootSlot, len);
                    }
                }
            } catch (CommunicationException e) {
                throw fail(e, CollectiveOp.BROADCAST);
            }
        }
        stats.record(CollectiveOp.BROADCAST, buffer.numel(), buffer.byteSize(), takeSent(), System.nanoTime() - start);
    }

    // ---------------------------------------------------------------- barrier

    @Override
    public void barrier() {
        long start = System.nanoTime();
        checkUsable();
        if (worldSize > 1) {
            try {
                publishAndAwaitAll(CollectiveOp.BARRIER);
            } catch (CommunicationException e) {
                throw fail(e, CollectiveOp.BARRIER);
            }
        }
        stats.record(CollectiveOp.BARRIER, 0, 0, takeSent(), System.nanoTime() - start);
    }

    // ---------------------------------------------------------------- data movement

    /** The slot set of the next segment (0, 1, 0, ...). */
    private int nextSet() {
        return (int) (segment++ & 1);
    }

    private void copyIn(int slotByte, ByteBuffer src, int srcByte, int length) {
        if (length > 0) {
            shared.put(slotByte, src, srcByte, length);
            sent += length;
        }
    }

    private void split(int size) {
        Partition partition = new Partition(size, worldSize);
        for (int r = 0; r < worldSize; r++) {
            offsets[r] = partition.intOffset(r);
            counts[r] = partition.intCount(r);
        }
    }

    /**
     * {@code dst[d + i] = ((src₀ + src₁) + src₂) + …} (sources and their offsets in {@link #sources},
     * {@link #sourceOffsets}, rank order), also into {@code dst2} when not null. Works through blocks
     * copied to heap arrays, which C2 vectorises; a block is read completely before it is written, so a
     * destination may be one of the sources.
     */
    private void reduceRankOrder(int count, FloatBuffer dst, int d, FloatBuffer dst2, int d2) {
        for (int base = 0; base < count; base += BLOCK) {
            int len = Math.min(BLOCK, count - base);
            sources[0].get(sourceOffsets[0] + base, acc, 0, len);
            for (int q = 1; q < worldSize; q++) {
                sources[q].get(sourceOffsets[q] + base, term, 0, len);
                addInto(acc, term, len);
            }
            dst.put(d + base, acc, 0, len);
            if (dst2 != null) {
                dst2.put(d2 + base, acc, 0, len);
            }
        }
    }

    /**
     * Runs the copy and reduction kernels on scratch memory until the JIT has compiled them (some tens of
     * milliseconds), so the job's first collectives, and short benchmarks, do not run them interpreted:
     * that made a 1 MiB all_reduce several times slower for its first hundred calls.
     */
    private void warmUp() {
        int floats = 4 * BLOCK;
        ByteBuffer a = ByteBuffer.allocateDirect(floats * Float.BYTES).order(ByteOrder.nativeOrder());
        ByteBuffer b = ByteBuffer.allocateDirect(floats * Float.BYTES).order(ByteOrder.nativeOrder());
        FloatBuffer fa = a.asFloatBuffer();
        FloatBuffer fb = b.asFloatBuffer();
        long until = System.nanoTime() + WARM_UP_NANOS;
        for (int i = 0; i < WARM_UP_ROUNDS && System.nanoTime() < until; i++) {
            b.put(0, a, 0, floats * Float.BYTES);
            for (int q = 0; q < worldSize; q++) {
                sources[q] = q == rank ? fa : fb;
                sourceOffsets[q] = 0;
            }
            reduceRankOrder(floats, fa, 0, fb, 0);
        }
        java.util.Arrays.fill(sources, null);
    }

    private static void addInto(float[] acc, float[] term, int len) {
        for (int i = 0; i < len; i++) {
            acc[i] += term[i];
        }
    }

    // ---------------------------------------------------------------- synchronisation

    /** Ends a phase: this rank's writes become visible, then it waits for every other rank to end it too. */
    private void publishAndAwaitAll(CollectiveOp op) {
        // A rank that gave up may have ended this phase before it did: do not complete a phase with it.
        long failedRank = (long) LONGS.getAcquire(shared, ShmRegion.FAILURE_OFFSET);
        if (failedRank != 0) {
            throw new PeerGaveUp((int) failedRank - 1, op);
        }
        long p = ++phase;
        LONGS.setRelease(shared, ShmRegion.flagOffset(rank), p);
        for (int q = 0; q < worldSize; q++) {
            if (q != rank && (long) LONGS.getAcquire(shared, ShmRegion.flagOffset(q)) < p) {
                await(q, p, op);
            }
        }
    }

    private void await(int q, long p, CollectiveOp op) {
        long begin = System.nanoTime();
        long lastCheck = begin;
        long pause = 10_000L;
        while ((long) LONGS.getAcquire(shared, ShmRegion.flagOffset(q)) < p) {
            if (closed) {
                throw new CommunicationException("the communicator of rank " + rank + " was closed during " + op);
            }
            long failedRank = (long) LONGS.getAcquire(shared, ShmRegion.FAILURE_OFFSET);
            if (failedRank != 0) {
                throw new PeerGaveUp((int) failedRank - 1, op);
            }
            long now = System.nanoTime();
            long waited = now - begin;
            if (now - lastCheck >= LIVENESS_CHECK_NANOS) {
                lastCheck = now;
                checkAlive(p, op);
            }
            if (waited >= timeoutNanos) {
                throw stalled(p, op);
            }
            if (waited < SPIN_NANOS) {
                Thread.onSpinWait();
            } else if (waited < yieldNanos) {
                Thread.yield();
            } else {
                LockSupport.parkNanos(pause);
                pause = Math.min(MAX_PARK_NANOS, pause * 2);
                if (Thread.interrupted()) {
                    Thread.currentThread().interrupt();
                    throw new CommunicationException("rank " + rank + " was interrupted during " + op);
                }
            }
        }
    }

    /** How long a waiting rank keeps its core (yielding) before it parks: long only when no rank shares one. */
    static long yieldNanos(int localRanks, int cores) {
        return localRanks <= cores ? DEDICATED_YIELD_NANOS : SHARED_YIELD_NANOS;
    }

    /** Fails if a rank that has not reached phase {@code p} closed its communicator or its process died. */
    private void checkAlive(long p, CollectiveOp op) {
        for (int q = 0; q < worldSize; q++) {
            if (q == rank || (long) LONGS.getAcquire(shared, ShmRegion.flagOffset(q)) >= p) {
                continue;
            }
            String how = null;
            if ((long) LONGS.getAcquire(shared, ShmRegion.closedOffset(q)) != 0) {
                how = "it closed its communicator";
            } else if (peers[q] == null || !peers[q].isAlive()) {
                how = "its process (pid " + peerPids[q] + ") is gone";
            }
            // It may have finished the phase just before it left: then it is not lost to this phase.
            if (how != null && (long) LONGS.getAcquire(shared, ShmRegion.flagOffset(q)) < p) {
                throw new PeerLost(q, op, how);
            }
        }
    }

    private CommunicationException stalled(long p, CollectiveOp op) {
        List<Integer> late = new ArrayList<>();
        for (int q = 0; q < worldSize; q++) {
            if (q != rank && (long) LONGS.getAcquire(shared, ShmRegion.flagOffset(q)) < p) {
                late.add(q);
            }
        }
        StringBuilder who = new StringBuilder(late.size() == 1 ? "rank " : "ranks ");
        for (int i = 0; i < late.size(); i++) {
            who.append(i == 0 ? "" : i == late.size() - 1 ? " and " : ", ").append(late.get(i));
        }
        who.append(late.size() == 1 ? " is" : " are").append(" not answering (rank ").append(rank)
                .append(" waits for ").append(late.size() == 1 ? "it" : "them").append(")");
        return new CommunicationException(op + " made no progress for " + Durations.describe(timeout) + ": " + who);
    }

    /** A rank that this one waited for is gone. */
    private static final class PeerLost extends CommunicationException {
        private static final long serialVersionUID = 1L;

        PeerLost(int lostRank, CollectiveOp op, String how) {
            super("rank " + lostRank + " lost during " + op + ": " + how);
        }
    }

    /** Another rank failed first and raised the failure word; its diagnosis is in the store. */
    private static final class PeerGaveUp extends CommunicationException {
        private static final long serialVersionUID = 1L;
        final int by;

        PeerGaveUp(int by, CollectiveOp op) {
            super("rank " + by + " gave up during " + op);
            this.by = by;
        }
    }

    // ---------------------------------------------------------------- lifecycle and failure

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (region != null) {
            LONGS.setRelease(shared, ShmRegion.closedOffset(rank), 1L);
            region.unlink();
        }
    }

    private void checkUsable() {
        if (closed) {
            throw new IllegalStateException("communicator of rank " + rank + " is closed");
        }
        String f = failure;
        if (f != null) {
            throw new CommunicationException("the shared memory group is unusable after an earlier failure: " + f);
        }
    }

    /**
     * Marks the group broken and decides what to report: the first diagnosis in the store wins for a lost
     * rank (as on the TCP ring), ours is recorded if we are first. The failure word then stops every
     * other rank's wait; it is raised after the store write, so they find the diagnosis there.
     */
    private CommunicationException fail(CommunicationException e, CollectiveOp op) {
        if (closed) {
            return new CommunicationException(e.getMessage().startsWith("the communicator of rank")
                    ? e.getMessage() : "the communicator of rank " + rank + " was closed during " + op);
        }
        String message = e.getMessage();
        if (e instanceof PeerGaveUp gaveUp) {
            String recorded = failures.recorded(Duration.ofMillis(500));
            message = recorded != null ? recorded : "rank " + gaveUp.by + " failed during " + op;
        } else {
            String recorded = failures.record(message);
            if (e instanceof PeerLost && recorded != null) {
                message = recorded;
            }
            LONGS.compareAndSet(shared, ShmRegion.FAILURE_OFFSET, 0L, (long) rank + 1);
        }
        failure = message;
        return new CommunicationException(message);
    }

    private long takeSent() {
        long n = sent;
        sent = 0;
        return n;
    }

}
