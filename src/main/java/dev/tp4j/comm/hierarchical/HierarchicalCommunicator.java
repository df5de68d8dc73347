package dev.tp4j.comm.hierarchical;

import dev.tp4j.CommunicationException;
import dev.tp4j.comm.CollectiveArgs;
import dev.tp4j.comm.CollectiveOp;
import dev.tp4j.comm.CommStats;
import dev.tp4j.comm.Communicator;
import dev.tp4j.comm.FailureRecord;
import dev.tp4j.comm.Link;
import dev.tp4j.comm.shm.ShmCommunicator;
import dev.tp4j.comm.tcp.TcpRingCommunicator;
import dev.tp4j.rendezvous.RendezvousStore;
import dev.tp4j.rendezvous.auth.JobToken;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Partition;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Collectives for ranks on several nodes with several ranks per node, the way NCCL and gloo treat the
 * node boundary: shared memory inside each node ({@link ShmCommunicator}), and the TCP ring
 * ({@link TcpRingCommunicator}) only between the nodes' leaders (each node's lowest rank, see
 * {@link NodeLayout}). Only one rank per node puts bytes on the network, and it sends a node's sum
 * instead of each rank's share.
 *
 * <ul>
 *   <li>all_reduce: the node's ranks all-reduce over shared memory (each element summed in local rank
 *       order, {@code ((x₀ + x₁) + x₂) + …}); the leaders all-reduce these node sums over the ring (each
 *       chunk summed once, in ring order of the nodes, by one leader); each leader broadcasts the result
 *       to its node. Every sum is made once, in one fixed order, and then only copied, so every rank of
 *       every node holds the same bits. (They are not the rank-order sum of all ranks.)</li>
 *   <li>reduce_scatter: that all_reduce on a copy of the input, then this rank's chunk of it (by
 *       {@link Partition}): the same bits as all_reduce gives, for the price of a whole all_reduce.</li>
 *   <li>all_gather: inside the node, then the node blocks between leaders, then broadcast inside the
 *       node; each rank puts the blocks in rank order (a node's ranks need not be consecutive).</li>
 *   <li>broadcast: inside the root's node, between leaders from the root's node, inside the others.</li>
 *   <li>barrier: inside the node, between leaders, inside the node again.</li>
 * </ul>
 * Steps between nodes run in pieces of at most {@value #PIECE_BYTES} bytes, each followed by its broadcast
 * inside the node, so a node's other ranks wait for at most one piece's trip between nodes at a time.
 *
 * <p>Timeouts, layered so that the rank closest to a fault gives up first and names it (a rank only
 * sees the layer it waits on): the leader waits for its node's ranks for {@code timeout}; the ring between
 * leaders allows twice that, since a leader may spend a whole timeout waiting for its own node before it
 * joins a ring step; the other ranks of a node wait for their leader four times as long (the ring's two,
 * plus one for a leader that reports its failure to a store it can no longer reach, plus a margin).
 * The first rank to fail leaves its diagnosis in the store before it closes its links; a rank that fails
 * after it reports that diagnosis, so every rank names the same cause. Messages name global ranks and the
 * collective the caller ran, whichever inner link saw the fault.
 *
 * <p>{@link #stats()} records each collective once, with the bytes this rank put on both links;
 * {@link #links()} gives each link's own stats (shared memory and, on leaders, TCP).
 */
public final class HierarchicalCommunicator implements Communicator {
    /** Store key prefix of the node-local groups (one per node) and of the leaders' ring. */
    public static final String DEFAULT_KEY_PREFIX = "tp4j/hierarchical";
    /** Largest piece moved between nodes before the node's other ranks get it. */
    static final int PIECE_BYTES = 4 << 20;
    private static final String TRANSPORT = "the hierarchical transport";
    private static final int LEADER = 0;
    /** The leaders' ring allows this many timeouts: a leader may first spend one waiting for its own node. */
    private static final int RING_TIMEOUTS = 2;
    /**
     * A node's other ranks wait this many timeouts for their leader: the ring's, one more for a leader
     * leaving its diagnosis in a store it can no longer reach, and a margin.
     */
    private static final int FOLLOWER_TIMEOUTS = 4;

    private final int rank;
    private final NodeLayout layout;
    private final int node;
    private final ShmCommunicator local;
    private final TcpRingCommunicator ring;
    private final FailureRecord failures;
    private final CommStats stats = new CommStats();
    private final FailureNames names;
    private final String description;
    private final long[] localCounts;
    private final long[] nodeCounts;
    private Tensor scratch;
    private Tensor gatherScratch;
    /** This node's part of the gather scratch, kept while the scratch and the layout of the blocks stay. */
    private Tensor ownNode;
    private Tensor ownNodeOf;
    private long ownNodeStart;
    private volatile String failure;
    private volatile boolean closed;

    private HierarchicalCommunicator(int rank, NodeLayout layout, ShmCommunicator local, TcpRingCommunicator ring,
                                     RendezvousStore store, String keyPrefix) {
        this.rank = rank;
        this.layout = layout;
        this.node = layout.nodeOf(rank);
        this.local = local;
        this.ring = ring;
        this.failures = new FailureRecord(store, keyPrefix);
        this.names = new FailureNames(layout, node);
        this.localCounts = new long[layout.size(node)];
        this.nodeCounts = new long[layout.nodes()];
        this.description = "hierarchical, rank " + rank + " of " + layout.worldSize() + " on node " + node + " of "
                + layout.nodes() + " (nodes " + layout + "): shared memory inside the node"
                + (layout.nodes() == 1 ? "" : ring != null ? ", tcp ring between the " + layout.nodes()
                + " node leaders (this rank leads node " + node + ")" : ", tcp between nodes by rank "
                + layout.leaderOf(node));
    }

    /**
     * Joins the node-local shared memory group of this rank's node, then, on a node's leader, the TCP ring
     * between leaders (authenticated with {@code token}, bound to {@code advertisedHost}). Every rank must
     * pass the same {@code layout}. {@code timeout} bounds the rendezvous and, layered as the class says,
     * every later wait.
     */
    public static HierarchicalCommunicator connect(RendezvousStore store, JobToken token, String keyPrefix, int rank,
                                                   NodeLayout layout, String advertisedHost, Duration timeout) {
        if (rank < 0 || rank >= layout.worldSize()) {
            throw new IllegalArgumentException("rank " + rank + " of world size " + layout.worldSize());
        }
        int node = layout.nodeOf(rank);
        int localIndex = layout.localIndexOf(rank);
        Duration localTimeout = localIndex == LEADER ? timeout : timeout.multipliedBy(FOLLOWER_TIMEOUTS);
        ShmCommunicator local;
        try {
            local = ShmCommunicator.connect(store, keyPrefix + "/node" + node, localIndex, layout.size(node), localTimeout);
        } catch (CommunicationException e) {
            throw new CommunicationException(new FailureNames(layout, node).fromNode(e.getMessage(), null));
        }
        TcpRingCommunicator ring = null;
        try {
            if (localIndex == LEADER && layout.nodes() > 1) {
                ring = TcpRingCommunicator.connect(store, token, keyPrefix + "/leaders", node, layout.nodes(),
                        advertisedHost, timeout.multipliedBy(RING_TIMEOUTS));
            }
        } catch (CommunicationException e) {
            local.close();
            throw new CommunicationException(new FailureNames(layout, node).fromRing(e.getMessage(), null));
        } catch (RuntimeException e) {
            local.close();
            throw e;
        }
        return new HierarchicalCommunicator(rank, layout, local, ring, store, keyPrefix);
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int worldSize() {
        return layout.worldSize();
    }

    @Override
    public CommStats stats() {
        return stats;
    }

    @Override
    public boolean failed() {
        return failure != null;
    }

    @Override
    public String describe() {
        return description;
    }

    /** Shared memory inside this rank's node, and on a leader the TCP ring between nodes. */
    @Override
    public List<Link> links() {
        List<Link> links = new ArrayList<>(2);
        links.add(new Link("shm inside node " + node, local.stats()));
        if (ring != null) {
            links.add(new Link("tcp between nodes", ring.stats()));
        }
        return links;
    }

    public NodeLayout layout() {
        return layout;
    }

    // ---------------------------------------------------------------- all_reduce

    @Override
    public void allReduce(Tensor buffer) {
        long start = System.nanoTime();
        checkUsable();
        CollectiveArgs.requireHostContiguous(buffer, "all_reduce buffer", TRANSPORT);
        CollectiveArgs.requireF32(buffer, "all_reduce buffer");
        long sentBefore = sentSoFar();
        reduceEverywhere(buffer, CollectiveOp.ALL_REDUCE);
        stats.record(CollectiveOp.ALL_REDUCE, buffer.numel(), buffer.byteSize(), sentSoFar() - sentBefore,
                System.nanoTime() - start);
    }

    /** Node sum over shared memory, then the sum of node sums between leaders, then back inside the node. */
    private void reduceEverywhere(Tensor buffer, CollectiveOp op) {
        long count = buffer.numel();
        if (count == 0) {
            return;
        }
        long pieceFloats = PIECE_BYTES / Float.BYTES;
        for (long from = 0; from < count; from += pieceFloats) {
            Tensor piece = count <= pieceFloats ? buffer : buffer.slice(from, Math.min(pieceFloats, count - from));
            step(Step.LOCAL_ALL_REDUCE, piece, 0, op);
            if (layout.nodes() > 1) {
                if (ring != null) {
                    step(Step.RING_ALL_REDUCE, piece, 0, op);
                }
                step(Step.LOCAL_BROADCAST, piece, LEADER, op);
            }
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
        long count = input.numel();
        long chunk = Partition.count(count, worldSize(), rank);
        if (output.numel() != chunk) {
            throw new IllegalArgumentException("reduce_scatter output of rank " + rank + " has " + output.numel()
                    + " elements, its chunk of " + count + " has " + chunk);
        }
        long sentBefore = sentSoFar();
        if (count > 0) {
            Tensor sum = scratch(count);
            copyBytes(input, 0, sum, 0, input.byteSize());
            reduceEverywhere(sum, CollectiveOp.REDUCE_SCATTER);
            copyBytes(sum, Partition.offset(count, worldSize(), rank) * Float.BYTES, output, 0, chunk * Float.BYTES);
        }
        stats.record(CollectiveOp.REDUCE_SCATTER, count, input.byteSize(), sentSoFar() - sentBefore,
                System.nanoTime() - start);
    }

    // ---------------------------------------------------------------- all_gather

    @Override
    public void allGather(Tensor local, Tensor gathered, long[] counts) {
        long start = System.nanoTime();
        checkUsable();
        CollectiveArgs.requireHostContiguous(local, "all_gather input", TRANSPORT);
        CollectiveArgs.requireHostContiguous(gathered, "all_gather output", TRANSPORT);
        CollectiveArgs.checkGatherCounts(local, gathered, counts, rank, worldSize());
        long sentBefore = sentSoFar();
        if (gathered.numel() > 0) {
            gatherEverywhere(local, gathered, counts);
        }
        stats.record(CollectiveOp.ALL_GATHER, gathered.numel(), gathered.byteSize(), sentSoFar() - sentBefore,
                System.nanoTime() - start);
    }

    /**
     * The blocks in node order (node 0's ranks, then node 1's, each node's in rank order) in one scratch
     * tensor: the node's blocks gathered inside it at its place, then every node's between leaders, then
     * the whole broadcast inside the node; finally each block is copied to its rank-order place.
     */
    private void gatherEverywhere(Tensor mine, Tensor gathered, long[] counts) {
        CollectiveOp op = CollectiveOp.ALL_GATHER;
        int elementBytes = gathered.dtype().byteSize();
        long nodeStart = 0;
        for (int k = 0; k < layout.nodes(); k++) {
            long sum = 0;
            for (int i = 0; i < layout.size(k); i++) {
                sum += counts[layout.member(k, i)];
            }
            nodeCounts[k] = sum;
            if (k < node) {
                nodeStart += sum;
            }
        }
        for (int i = 0; i < localCounts.length; i++) {
            localCounts[i] = counts[layout.member(node, i)];
        }
        Tensor all = gatherScratch(gathered.numel(), gathered.dtype());
        Tensor ownNode = ownNodeView(all, nodeStart, nodeCounts[node]);
        localGather(mine, ownNode, op);
        if (layout.nodes() > 1) {
            if (ring != null) {
                ringGather(ownNode, all, op);
            }
            step(Step.LOCAL_BROADCAST, all, LEADER, op);
        }
        long from = 0;
        for (int k = 0; k < layout.nodes(); k++) {
            for (int i = 0; i < layout.size(k); i++) {
                int r = layout.member(k, i);
                copyBytes(all, from * elementBytes, gathered, CollectiveArgs.blockOffset(counts, r) * (long) elementBytes,
                        counts[r] * elementBytes);
                from += counts[r];
            }
        }
    }

    private void ringGather(Tensor ownNode, Tensor all, CollectiveOp op) {
        try {
            ring.allGather(ownNode, all, nodeCounts);
        } catch (CommunicationException e) {
            throw fail(names.fromRing(e.getMessage(), op));
        }
    }

    private void localGather(Tensor mine, Tensor ownNode, CollectiveOp op) {
        try {
            local.allGather(mine, ownNode, localCounts);
        } catch (CommunicationException e) {
            throw fail(names.fromNode(e.getMessage(), op));
        }
    }

    // ---------------------------------------------------------------- broadcast

    @Override
    public void broadcast(Tensor buffer, int root) {
        long start = System.nanoTime();
        checkUsable();
        CollectiveArgs.checkRoot(root, worldSize());
        CollectiveArgs.requireHostContiguous(buffer, "broadcast buffer", TRANSPORT);
        long sentBefore = sentSoFar();
        long count = buffer.numel();
        if (count > 0) {
            int rootNode = layout.nodeOf(root);
            int rootLocal = layout.localIndexOf(root);
            CollectiveOp op = CollectiveOp.BROADCAST;
            if (layout.nodes() == 1) {
                step(Step.LOCAL_BROADCAST, buffer, rootLocal, op);
            } else {
                if (node == rootNode && rootLocal != LEADER) {
                    step(Step.LOCAL_BROADCAST, buffer, rootLocal, op); // the root's node, its leader included, has it
                }
                // Piece by piece between leaders, each piece then inside every node that does not have it yet.
                boolean receivesFromLeader = node != rootNode || rootLocal == LEADER;
                long pieceElements = Math.max(1, PIECE_BYTES / buffer.dtype().byteSize());
                for (long from = 0; from < count; from += pieceElements) {
                    Tensor piece = count <= pieceElements ? buffer
                            : buffer.slice(from, Math.min(pieceElements, count - from));
                    if (ring != null) {
                        step(Step.RING_BROADCAST, piece, rootNode, op);
                    }
                    if (receivesFromLeader) {
                        step(Step.LOCAL_BROADCAST, piece, LEADER, op);
                    }
                }
            }
        }
        stats.record(CollectiveOp.BROADCAST, count, buffer.byteSize(), sentSoFar() - sentBefore,
                System.nanoTime() - start);
    }

    // ---------------------------------------------------------------- barrier

    @Override
    public void barrier() {
        long start = System.nanoTime();
        checkUsable();
        long sentBefore = sentSoFar();
        CollectiveOp op = CollectiveOp.BARRIER;
        step(Step.LOCAL_BARRIER, null, 0, op);
        if (layout.nodes() > 1) {
            if (ring != null) {
                step(Step.RING_BARRIER, null, 0, op);
            }
            step(Step.LOCAL_BARRIER, null, 0, op);
        }
        stats.record(CollectiveOp.BARRIER, 0, 0, sentSoFar() - sentBefore, System.nanoTime() - start);
    }

    // ---------------------------------------------------------------- steps on the inner links

    /** One collective of one buffer on one of the two links (all_gather has its own, with counts). */
    private enum Step {
        LOCAL_ALL_REDUCE(false),
        LOCAL_BROADCAST(false),
        LOCAL_BARRIER(false),
        RING_ALL_REDUCE(true),
        RING_BROADCAST(true),
        RING_BARRIER(true);

        final boolean ring;

        Step(boolean ring) {
            this.ring = ring;
        }
    }

    private void step(Step step, Tensor buffer, int root, CollectiveOp outer) {
        try {
            switch (step) {
                case LOCAL_ALL_REDUCE -> local.allReduce(buffer);
                case LOCAL_BROADCAST -> local.broadcast(buffer, root);
                case LOCAL_BARRIER -> local.barrier();
                case RING_ALL_REDUCE -> ring.allReduce(buffer);
                case RING_BROADCAST -> ring.broadcast(buffer, root);
                case RING_BARRIER -> ring.barrier();
                default -> throw new IllegalStateException("not a single-buffer step: " + step);
            }
        } catch (CommunicationException e) {
            throw fail(step.ring ? names.fromRing(e.getMessage(), outer) : names.fromNode(e.getMessage(), outer));
        }
    }

    private long sentSoFar() {
        return local.stats().sentBytes() + (ring == null ? 0 : ring.stats().sentBytes());
    }

    // ---------------------------------------------------------------- lifecycle and failure

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            local.close();
        } finally {
            if (ring != null) {
                ring.close();
            }
            release();
        }
    }

    private void checkUsable() {
        if (closed) {
            throw new IllegalStateException("communicator of rank " + rank + " is closed");
        }
        String f = failure;
        if (f != null) {
            throw new CommunicationException("the hierarchical group is unusable after an earlier failure: " + f);
        }
    }

    /**
     * Marks the group broken and decides what to report: the first diagnosis left in the store by any rank
     * of any node wins (ours, if we are first). It is left before this rank closes its links, so a rank
     * that fails because they closed finds it. Then both links close, which ends the waits of this node's
     * other ranks and of the neighbouring leaders at once.
     */
    private CommunicationException fail(String message) {
        if (closed) {
            return new CommunicationException(message);
        }
        String recorded = failures.record(message);
        String reported = recorded != null ? recorded : message;
        failure = reported;
        local.close();
        if (ring != null) {
            ring.close();
        }
        return new CommunicationException(reported);
    }

    // ---------------------------------------------------------------- scratch and copies

    /** A reused F32 host tensor of at least {@code count} elements, viewed as exactly that many. */
    private Tensor scratch(long count) {
        if (scratch == null || scratch.numel() < count) {
            if (scratch != null) {
                scratch.close();
            }
            scratch = Tensor.allocateHost(Shape.of(count), DType.F32);
        }
        return scratch.numel() == count ? scratch : scratch.slice(0, count);
    }

    /** A reused host tensor of {@code dtype} and at least {@code count} elements, viewed as exactly that many. */
    private Tensor gatherScratch(long count, DType dtype) {
        if (gatherScratch == null || gatherScratch.dtype() != dtype || gatherScratch.numel() < count) {
            if (gatherScratch != null) {
                gatherScratch.close();
            }
            gatherScratch = Tensor.allocateHost(Shape.of(count), dtype);
        }
        return gatherScratch.numel() == count ? gatherScratch : gatherScratch.slice(0, count);
    }

    /**
     * The view of {@code all} that holds this node's blocks; the same object while the call repeats, so a
     * steady stream of all_gathers makes no new views (nor the byte buffers the links take of them).
     */
    private Tensor ownNodeView(Tensor all, long start, long count) {
        if (ownNode == null || ownNodeOf != all || ownNodeStart != start || ownNode.numel() != count) {
            ownNode = all.slice(start, count);
            ownNodeOf = all;
            ownNodeStart = start;
        }
        return ownNode;
    }

    private static void copyBytes(Tensor src, long srcByte, Tensor dst, long dstByte, long length) {
        if (length == 0) {
            return;
        }
        ByteBuffer to = dst.byteBuffer();
        to.put(Math.toIntExact(dstByte), src.byteBuffer(), Math.toIntExact(srcByte), Math.toIntExact(length));
    }

    private void release() {
        if (scratch != null) {
            scratch.close();
            scratch = null;
        }
        if (gatherScratch != null) {
            gatherScratch.close();
            gatherScratch = null;
        }
        ownNode = null;
        ownNodeOf = null;
    }

    @Override
    public String toString() {
        return description;
    }
}
