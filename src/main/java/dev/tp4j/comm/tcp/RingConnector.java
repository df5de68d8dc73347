package dev.tp4j.comm.tcp;

import dev.tp4j.CommunicationException;
import dev.tp4j.rendezvous.Durations;
import dev.tp4j.rendezvous.RendezvousStore;
import dev.tp4j.rendezvous.auth.Handshake;
import dev.tp4j.rendezvous.auth.JobToken;
import dev.tp4j.rendezvous.auth.RejectionLog;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Builds a rank's ring links: listen on an ephemeral port, publish {@code host:port} in the store,
 * connect to rank r+1 and accept rank r-1, each side proving the job token and its rank.
 *
 * <p>Accepting runs on its own thread while this one connects: the acceptor speaks first in the
 * handshake, so if every rank connected before accepting, every rank would wait for a greeting that
 * nobody sends.
 */
final class RingConnector {
    /** Large buffers let a ring step stream without waiting for the peer's reads (kernel caps apply). */
    static final int SOCKET_BUFFER_BYTES = 4 << 20;
    /** How long an accepted connection has to prove itself; it holds up nobody else meanwhile. */
    private static final long HANDSHAKE_MILLIS = 5_000;
    /** Handshakes under way at once; beyond that a connection is closed at once (and a real peer retries). */
    private static final int MAX_HANDSHAKES = 128;
    /** Connections the kernel queues before they are accepted; strangers are accepted at once anyway. */
    private static final int BACKLOG = 128;

    private final RendezvousStore store;
    private final JobToken token;
    private final String keyPrefix;
    private final int rank;
    private final int worldSize;
    private final long deadline;
    private final Duration timeout;

    private RingConnector(RendezvousStore store, JobToken token, String keyPrefix, int rank, int worldSize,
                          Duration timeout) {
        this.store = store;
        this.token = token;
        this.keyPrefix = keyPrefix;
        this.rank = rank;
        this.worldSize = worldSize;
        this.timeout = timeout;
        this.deadline = System.nanoTime() + timeout.toNanos();
    }

    static RingLinks connect(RendezvousStore store, JobToken token, String keyPrefix, int rank, int worldSize,
                             String advertisedHost, Duration timeout) {
        return new RingConnector(store, token, keyPrefix, rank, worldSize, timeout).connect(advertisedHost);
    }

    private RingLinks connect(String advertisedHost) {
        int next = (rank + 1) % worldSize;
        int prev = (rank - 1 + worldSize) % worldSize;
        ServerSocketChannel listener = listen(advertisedHost);
        CompletableFuture<SocketChannel> accepted = new CompletableFuture<>();
        Thread acceptor = new Thread(() -> acceptPrev(listener, prev, accepted), "tp4j-ring-accept-" + rank);
        acceptor.setDaemon(true);
        SocketChannel toNext = null;
        try {
            String ownEndpoint = advertisedHost + ":" + listener.socket().getLocalPort();
            acceptor.start();
            store.set(RendezvousStore.rankKey(keyPrefix, rank), ownEndpoint);
            String nextEndpoint = store.getString(RendezvousStore.rankKey(keyPrefix, next), remaining());
            toNext = connectNext(nextEndpoint, next);
            SocketChannel fromPrev = awaitPrev(accepted, prev);
            String prevEndpoint = String.valueOf(fromPrev.getRemoteAddress());
            toNext.configureBlocking(false);
            fromPrev.configureBlocking(false);
            return new RingLinks(toNext, nextEndpoint, fromPrev, prevEndpoint);
        } catch (IOException e) {
            RingLinks.closeQuietly(toNext);
            abandon(accepted);
            throw new CommunicationException("rank " + rank + " could not set up its ring links: " + e.getMessage());
        } catch (RuntimeException e) {
            RingLinks.closeQuietly(toNext);
            abandon(accepted);
            throw e;
        } finally {
            // Closing the listener also stops the accept thread if we gave up before it finished.
            RingLinks.closeQuietly(listener);
        }
    }

    /** Gives up on the accepted link; closes it if the accept thread got one after all. */
    private static void abandon(CompletableFuture<SocketChannel> accepted) {
        if (!accepted.complete(null)) {
            try {
                RingLinks.closeQuietly(accepted.getNow(null));
            } catch (java.util.concurrent.CompletionException | java.util.concurrent.CancellationException e) {
                // the accept failed: there is no link to close
            }
        }
    }

    private ServerSocketChannel listen(String host) {
        try {
            ServerSocketChannel listener = ServerSocketChannel.open();
            listener.setOption(StandardSocketOptions.SO_RCVBUF, SOCKET_BUFFER_BYTES); // accepted sockets inherit it
            listener.bind(new InetSocketAddress(host, 0), BACKLOG);
            return listener;
        } catch (IOException e) {
            throw new CommunicationException("rank " + rank + " cannot listen for ring peers on " + host + ": " + e.getMessage());
        }
    }

    /**
     * Accepts until rank {@code prev} has proved itself, handing each connection to a handshake thread of
     * its own at once: a connection that says nothing or garbage holds up only itself, for at most
     * {@link #HANDSHAKE_MILLIS}, never the real peer (accepting one at a time, 30 silent connections
     * stretched a 15 s job to 65 s, and reconnecting ones failed it). The first to pass wins; the others
     * are closed. The store's port works the same way ({@code StoreServer}).
     */
    private void acceptPrev(ServerSocketChannel listener, int prev, CompletableFuture<SocketChannel> result) {
        RejectionLog rejections = new RejectionLog("ring link of rank " + rank);
        Set<SocketChannel> handshaking = ConcurrentHashMap.newKeySet();
        result.whenComplete((won, failed) -> handshaking.forEach(c -> {
            if (c != won) {
                RingLinks.closeQuietly(c);
            }
        }));
        while (!result.isDone()) {
            long leftMillis = remainingMillis();
            if (leftMillis <= 0) {
                result.completeExceptionally(new TimeoutException());
                return;
            }
            Socket socket;
            try {
                listener.socket().setSoTimeout((int) Math.min(Integer.MAX_VALUE, leftMillis));
                socket = listener.socket().accept();
            } catch (SocketTimeoutException e) {
                result.completeExceptionally(new TimeoutException());
                return;
            } catch (IOException e) {
                result.completeExceptionally(e); // listener closed: the connecting side gave up
                return;
            }
            SocketChannel channel = socket.getChannel();
            if (handshaking.size() >= MAX_HANDSHAKES) {
                // A flood: turn this one away at once. The real peer, if it was this one, hears no verdict
                // and connects again, while the flood's own handshakes time out.
                rejections.refused(String.valueOf(socket.getRemoteSocketAddress()),
                        MAX_HANDSHAKES + " handshakes are already under way");
                RingLinks.closeQuietly(channel);
                continue;
            }
            handshaking.add(channel);
            if (result.isDone()) { // closed by the completion above or not: this one is not needed
                RingLinks.closeQuietly(channel);
                return;
            }
            Thread handshake = new Thread(() -> {
                try {
                    handshake(channel, prev, result, rejections);
                } finally {
                    handshaking.remove(channel);
                }
            }, "tp4j-ring-handshake-" + rank);
            handshake.setDaemon(true);
            handshake.start();
        }
    }

    /** One accepted connection: rank {@code prev}'s proof within the handshake deadline, or closed. */
    private void handshake(SocketChannel channel, int prev, CompletableFuture<SocketChannel> result,
                           RejectionLog rejections) {
        Socket socket = channel.socket();
        String peer = String.valueOf(socket.getRemoteSocketAddress());
        try {
            configure(channel);
            socket.setSoTimeout((int) Math.max(1, Math.min(remainingMillis(), HANDSHAKE_MILLIS)));
            Handshake.accept(socket.getInputStream(), new BufferedOutputStream(socket.getOutputStream()), token,
                    Handshake.Service.RING, rank, prev);
            socket.setSoTimeout(0);
            if (!result.complete(channel)) {
                RingLinks.closeQuietly(channel); // another connection of rank prev won, or we gave up
            }
        } catch (IOException e) {
            if (!result.isDone()) { // a connection closed because the ring formed is no stranger
                rejections.refused(peer, e.getMessage());
            }
            RingLinks.closeQuietly(channel);
        }
    }

    private SocketChannel connectNext(String endpoint, int next) throws IOException {
        int colon = endpoint.lastIndexOf(':');
        if (colon < 0) {
            throw new CommunicationException("rank " + next + " published a bad ring address '" + endpoint + "'");
        }
        InetSocketAddress address = new InetSocketAddress(endpoint.substring(0, colon),
                Integer.parseInt(endpoint.substring(colon + 1)));
        IOException last = null;
        while (remainingMillis() > 0) {
            SocketChannel channel = SocketChannel.open();
            try {
                configure(channel);
                Socket socket = channel.socket();
                socket.connect(address, (int) Math.max(1, Math.min(remainingMillis(), 5_000)));
                socket.setSoTimeout((int) Math.max(1, remainingMillis()));
                Handshake.initiate(socket.getInputStream(), new BufferedOutputStream(socket.getOutputStream()), token,
                        Handshake.Service.RING, rank, next);
                socket.setSoTimeout(0);
                return channel;
            } catch (dev.tp4j.rendezvous.auth.HandshakeException e) {
                RingLinks.closeQuietly(channel);
                if (e.timedOut()) { // late, not refused (a busy host): try again within the timeout
                    last = e;
                    sleepBriefly();
                    continue;
                }
                throw new CommunicationException("rank " + rank + " could not join rank " + next + " at " + endpoint
                        + ": " + e.getMessage());
            } catch (IOException e) {
                RingLinks.closeQuietly(channel);
                last = e;
                sleepBriefly();
            }
        }
        throw new CommunicationException("rank " + rank + " could not connect to rank " + next + " at " + endpoint
                + " within " + Durations.describe(timeout) + (last == null ? "" : ": " + last.getMessage()));
    }

    private SocketChannel awaitPrev(CompletableFuture<SocketChannel> accepted, int prev) throws IOException {
        try {
            return accepted.get(Math.max(1, remainingMillis()), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw notConnected(prev);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof TimeoutException) {
                throw notConnected(prev);
            }
            throw new IOException("accepting rank " + prev + " failed: " + e.getCause().getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CommunicationException("rank " + rank + " was interrupted while waiting for rank " + prev);
        }
    }

    private CommunicationException notConnected(int prev) {
        return new CommunicationException("rank " + prev + " did not connect to rank " + rank + " within "
                + Durations.describe(timeout));
    }

    private static void configure(SocketChannel channel) throws IOException {
        channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
        channel.setOption(StandardSocketOptions.SO_SNDBUF, SOCKET_BUFFER_BYTES);
        channel.setOption(StandardSocketOptions.SO_RCVBUF, SOCKET_BUFFER_BYTES);
        channel.setOption(StandardSocketOptions.SO_KEEPALIVE, true);
    }

    private Duration remaining() {
        return Duration.ofMillis(Math.max(1, remainingMillis()));
    }

    private long remainingMillis() {
        return (deadline - System.nanoTime()) / 1_000_000;
    }

    private static void sleepBriefly() {
        try {
            Thread.sleep(50);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CommunicationException("interrupted while connecting the ring");
        }
    }
}
