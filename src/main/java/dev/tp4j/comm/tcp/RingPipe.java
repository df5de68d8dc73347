package dev.tp4j.comm.tcp;

import dev.tp4j.comm.CollectiveOp;
import dev.tp4j.CommunicationException;
import dev.tp4j.rendezvous.Durations;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.CancelledKeyException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.time.Duration;

/**
 * Moves bytes around the ring for one rank: writes to rank r+1 while reading from rank r-1, both
 * non-blocking under one selector, so a step whose message is larger than the socket buffers cannot
 * deadlock (every rank keeps draining its input while its output is full).
 *
 * <p>While it has bytes for the next rank it also watches that link for end-of-stream (nothing is ever
 * sent back on it), so a lost next rank is noticed at once, not when the kernel finally refuses a
 * write. A lost previous rank shows as end-of-stream on the read. A call that moves nothing
 * for the whole timeout fails, naming the rank(s) it waited for. Allocation-free per call.
 */
final class RingPipe {
    private final int rank;
    private final int nextRank;
    private final int prevRank;
    private final SocketChannel toNext;
    private final SocketChannel fromPrev;
    private final Selector selector;
    private final SelectionKey nextKey;
    private final SelectionKey prevKey;
    private final ByteBuffer probe = ByteBuffer.allocateDirect(16);
    private final long timeoutNanos;
    private final Duration timeout;
    private long sentBytes;
    private volatile boolean closing;
    private boolean nextReadable;
    /**
     * Selection by callback bypasses the selected-key set, whose HashSet would allocate a node per
     * ready key; this one object is made once. Reads and writes are simply retried after every wake-up.
     */
    private final java.util.function.Consumer<SelectionKey> onReady = this::noteReady;

    RingPipe(int rank, int worldSize, RingLinks links, Duration timeout) throws IOException {
        this.rank = rank;
        this.nextRank = (rank + 1) % worldSize;
        this.prevRank = (rank - 1 + worldSize) % worldSize;
        this.toNext = links.toNext();
        this.fromPrev = links.fromPrev();
        this.timeout = timeout;
        this.timeoutNanos = timeout.toNanos();
        this.selector = Selector.open();
        this.nextKey = toNext.register(selector, 0);
        this.prevKey = fromPrev.register(selector, 0);
    }

    /** Bytes written to the next rank since the last {@link #takeSentBytes()}. */
    long takeSentBytes() {
        long n = sentBytes;
        sentBytes = 0;
        return n;
    }

    /** Sends all of {@code send}'s remaining bytes and fills all of {@code recv}'s; either may be null. */
    void exchange(ByteBuffer send, ByteBuffer recv, CollectiveOp op) {
        while ((send != null && send.hasRemaining()) || (recv != null && recv.hasRemaining())) {
            progress(send, recv, op);
        }
    }

    /**
     * Writes what it can of {@code send} and reads what it can into {@code recv} (either may be null or
     * exhausted, not both), waiting until at least one byte moved.
     */
    void progress(ByteBuffer send, ByteBuffer recv, CollectiveOp op) {
        boolean wantSend = send != null && send.hasRemaining();
        boolean wantRecv = recv != null && recv.hasRemaining();
        if (!wantSend && !wantRecv) {
            throw new IllegalStateException("nothing to send or receive");
        }
        long deadline = System.nanoTime() + timeoutNanos;
        try {
            while (true) {
                if ((wantSend && write(send, op) > 0) | (wantRecv && read(recv, op) > 0)) {
                    return;
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw stalled(op, wantSend, wantRecv);
                }
                // While we still owe the next rank data, watch its link for end-of-stream too: that is
                // how a lost next rank shows before the kernel refuses a write. Once we owe it nothing,
                // it may have finished the collective and closed legitimately (at the end of a job).
                nextKey.interestOps(wantSend ? SelectionKey.OP_READ | SelectionKey.OP_WRITE : 0);
                prevKey.interestOps(wantRecv ? SelectionKey.OP_READ : 0);
                nextReadable = false;
                selector.select(onReady, Math.max(1, left / 1_000_000));
                if (nextReadable) {
                    probeNext(op);
                }
                if (Thread.currentThread().isInterrupted()) {
                    // select returns at once while the interrupt is pending: fail instead of spinning
                    throw new CommunicationException("rank " + rank + " was interrupted during " + op);
                }
            }
        } catch (ClosedChannelException | ClosedSelectorException | CancelledKeyException e) {
            throw closedUnderneath(op);
        } catch (IOException e) {
            throw new CommunicationException("rank " + rank + " failed during " + op + ": " + e.getMessage());
        }
    }

    private int write(ByteBuffer send, CollectiveOp op) throws ClosedChannelException {
        int n;
        try {
            n = toNext.write(send);
        } catch (ClosedChannelException e) {
            throw e;
        } catch (IOException e) {
            if (closing) {
                throw closedUnderneath(op);
            }
            throw new PeerLostException(nextRank, op, describe(e));
        }
        sentBytes += n;
        return n;
    }

    private int read(ByteBuffer recv, CollectiveOp op) throws ClosedChannelException {
        int n;
        try {
            n = fromPrev.read(recv);
        } catch (ClosedChannelException e) {
            throw e;
        } catch (IOException e) {
            if (closing) {
                throw closedUnderneath(op);
            }
            throw new PeerLostException(prevRank, op, describe(e));
        }
        if (n < 0) {
            throw new PeerLostException(prevRank, op, "connection closed");
        }
        return n;
    }

    private void noteReady(SelectionKey key) {
        if (key == nextKey && key.isReadable()) {
            nextReadable = true;
        }
    }

    /** The next rank never sends to us; readable means it closed (or broke the protocol). */
    private void probeNext(CollectiveOp op) throws ClosedChannelException {
        probe.clear();
        int n;
        try {
            n = toNext.read(probe);
        } catch (ClosedChannelException e) {
            throw e;
        } catch (IOException e) {
            throw new PeerLostException(nextRank, op, describe(e));
        }
        if (n < 0) {
            throw new PeerLostException(nextRank, op, "connection closed");
        }
        if (n > 0) {
            throw new CommunicationException("rank " + nextRank + " sent unexpected data to rank " + rank
                    + " during " + op + " (mismatched collectives?)");
        }
    }

    private CommunicationException stalled(CollectiveOp op, boolean wantSend, boolean wantRecv) {
        String who;
        if (wantSend && wantRecv && nextRank != prevRank) {
            who = "ranks " + prevRank + " and " + nextRank + " are not answering (rank " + rank
                    + " waits for data from rank " + prevRank + " and for rank " + nextRank + " to take its data)";
        } else if (wantRecv) {
            who = "rank " + prevRank + " is not answering (rank " + rank + " waits for its data)";
        } else {
            who = "rank " + nextRank + " is not answering (it takes no data from rank " + rank + ")";
        }
        return new CommunicationException(op + " made no progress for " + Durations.describe(timeout) + ": " + who);
    }

    private CommunicationException closedUnderneath(CollectiveOp op) {
        return new CommunicationException("the communicator of rank " + rank + " was closed during " + op);
    }

    /** A reset or a broken pipe is the peer's side of the connection going away, like end-of-stream. */
    private static String describe(IOException e) {
        String m = e.getMessage();
        if (m == null || m.isEmpty()) {
            return "connection failed";
        }
        String lower = m.toLowerCase(java.util.Locale.ROOT);
        if (lower.contains("broken pipe") || lower.contains("reset")) {
            return "connection closed";
        }
        return "connection failed (" + m + ")";
    }

    /** Safe from another thread: a collective blocked in select wakes and fails as "closed". */
    void close() {
        closing = true;
        selector.wakeup();
        RingLinks.closeQuietly(toNext);
        RingLinks.closeQuietly(fromPrev);
        try {
            selector.close();
        } catch (IOException e) {
            // nothing left to release
        }
    }
}
