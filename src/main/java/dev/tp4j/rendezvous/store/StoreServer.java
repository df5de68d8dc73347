package dev.tp4j.rendezvous.store;

import dev.tp4j.BadInputException;
import dev.tp4j.rendezvous.auth.Handshake;
import dev.tp4j.rendezvous.auth.HandshakeException;
import dev.tp4j.rendezvous.auth.JobToken;
import dev.tp4j.rendezvous.auth.RejectionLog;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Rank 0's rendezvous store: a key-value map served over TCP, one thread per connection (a job has a
 * handful of clients, and a thread that blocks in {@code get} is the simplest correct waiter).
 *
 * <p>Every connection must pass the {@link Handshake} within {@link #DEFAULT_HANDSHAKE_TIMEOUT}; one that
 * does not (wrong token, garbage, silence) is dropped and logged in one line, and nobody else notices.
 */
public final class StoreServer implements AutoCloseable {
    public static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(5);

    private final ServerSocket listener;
    private final JobToken token;
    private final int handshakeTimeoutMillis;
    private final RejectionLog rejections;
    private final Map<String, byte[]> entries = new HashMap<>(); // guarded by itself
    private final Set<Socket> connections = ConcurrentHashMap.newKeySet();
    private final Object clientsLock = new Object();
    private int authenticatedClients; // guarded by clientsLock
    private volatile boolean closed;
    private final Thread acceptor;

    private StoreServer(ServerSocket listener, JobToken token, Duration handshakeTimeout) {
        this.listener = listener;
        this.token = token;
        this.handshakeTimeoutMillis = (int) Math.max(1, handshakeTimeout.toMillis());
        this.rejections = new RejectionLog("rendezvous store on " + endpoint());
        this.acceptor = new Thread(this::acceptLoop, "tp4j-store-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /**
     * Listens on {@code host:port} ({@code port} 0 picks a free one). A port that is taken is bad input:
     * another job or a stale worker holds it.
     */
    public static StoreServer start(String host, int port, JobToken token) {
        return start(host, port, token, DEFAULT_HANDSHAKE_TIMEOUT);
    }

    public static StoreServer start(String host, int port, JobToken token, Duration handshakeTimeout) {
        InetAddress address;
        try {
            address = InetAddress.getByName(host);
        } catch (UnknownHostException e) {
            throw new BadInputException("master address '" + host + "' does not resolve (--master-addr)");
        }
        ServerSocket listener = null;
        try {
            listener = new ServerSocket();
            listener.setReuseAddress(true); // a restarted job may rebind while old connections linger in TIME_WAIT
            listener.bind(new InetSocketAddress(address, port), 64);
            return new StoreServer(listener, token, handshakeTimeout);
        } catch (BindException e) {
            closeQuietly(listener);
            String reason = String.valueOf(e.getMessage());
            if (reason.contains("in use")) {
                throw new BadInputException("port " + port + " on " + host + " is already in use (--master-port)");
            }
            throw new BadInputException("cannot listen on " + host + ":" + port + " (--master-addr/--master-port): " + reason);
        } catch (IOException e) {
            closeQuietly(listener);
            throw new BadInputException("cannot listen on " + host + ":" + port + ": " + e.getMessage());
        }
    }

    public int port() {
        return listener.getLocalPort();
    }

    public String endpoint() {
        return listener.getInetAddress().getHostAddress() + ":" + listener.getLocalPort();
    }

    /** Connections refused so far (for tests and diagnostics). */
    public int refusedConnections() {
        return rejections.count();
    }

    /** Clients that passed the handshake and are still connected. */
    public int connectedClients() {
        synchronized (clientsLock) {
            return authenticatedClients;
        }
    }

    /**
     * Waits until no authenticated client is connected, so rank 0 does not pull the store from under
     * ranks that are still finishing. Returns false if some were still there after {@code timeout}.
     */
    public boolean awaitClientsGone(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (clientsLock) {
            while (authenticatedClients > 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                clientsLock.wait(Math.max(1, left / 1_000_000));
            }
            return true;
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        closeQuietly(listener);
        for (Socket s : connections) {
            closeQuietly(s);
        }
        synchronized (entries) {
            entries.notifyAll();
        }
        // The JDK releases a listening socket only once the thread blocked in accept() has left it; wait
        // for that, so the port is free when close() returns (a next job may bind it at once).
        if (Thread.currentThread() != acceptor) {
            try {
                acceptor.join(2_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void acceptLoop() {
        while (!closed) {
            Socket socket;
            try {
                socket = listener.accept();
            } catch (IOException e) {
                if (!closed) {
                    System.err.println("tp4j: rendezvous store on " + endpoint() + " stopped accepting: " + e.getMessage());
                }
                return;
            }
            connections.add(socket);
            Thread handler = new Thread(() -> serve(socket), "tp4j-store-client");
            handler.setDaemon(true);
            handler.start();
        }
    }

    private void serve(Socket socket) {
        String peer = String.valueOf(socket.getRemoteSocketAddress());
        try (socket) {
            socket.setTcpNoDelay(true);
            socket.setSoTimeout(handshakeTimeoutMillis);
            BufferedInputStream rawIn = new BufferedInputStream(socket.getInputStream());
            BufferedOutputStream rawOut = new BufferedOutputStream(socket.getOutputStream());
            int rank;
            try {
                rank = Handshake.accept(rawIn, rawOut, token, Handshake.Service.STORE, Handshake.ANY_RANK, Handshake.ANY_RANK);
            } catch (IOException e) {
                if (!closed) {
                    rejections.refused(peer, e.getMessage());
                }
                return;
            }
            socket.setSoTimeout(0); // an authenticated rank may stay quiet for as long as its job runs
            synchronized (clientsLock) {
                authenticatedClients++;
            }
            try {
                serveRequests(new DataInputStream(rawIn), new DataOutputStream(rawOut));
            } catch (EOFException | SocketException e) {
                // the client went away mid-request: its own side reports why
            } catch (IOException e) {
                if (!closed) {
                    rejections.refused(peer + " (rank " + rank + ")", "broken request: " + e.getMessage());
                }
            } finally {
                synchronized (clientsLock) {
                    authenticatedClients--;
                    clientsLock.notifyAll();
                }
            }
        } catch (IOException e) {
            // closing or configuring the socket failed: nothing to serve
        } finally {
            connections.remove(socket);
        }
    }

    private void serveRequests(DataInputStream in, DataOutputStream out) throws IOException {
        while (!closed) {
            int op = in.read();
            if (op < 0) {
                return;
            }
            String key = StoreProtocol.readKey(in);
            switch (op) {
                case StoreProtocol.SET -> {
                    byte[] value = StoreProtocol.readValue(in);
                    synchronized (entries) {
                        entries.put(key, value);
                        entries.notifyAll();
                    }
                    out.writeByte(StoreProtocol.OK);
                }
                case StoreProtocol.GET -> {
                    long timeoutMillis = in.readLong();
                    byte[] value = awaitValue(key, timeoutMillis);
                    if (value == null) {
                        out.writeByte(StoreProtocol.TIMEOUT);
                    } else {
                        out.writeByte(StoreProtocol.OK);
                        StoreProtocol.writeValue(out, value);
                    }
                }
                case StoreProtocol.ADD -> {
                    long delta = in.readLong();
                    Long sum = addToCounter(key, delta);
                    if (sum == null) {
                        out.writeByte(StoreProtocol.ERROR);
                        out.writeUTF("key '" + key + "' holds a value that is not a counter");
                    } else {
                        out.writeByte(StoreProtocol.OK);
                        out.writeLong(sum);
                    }
                }
                case StoreProtocol.CONTAINS -> {
                    boolean present;
                    synchronized (entries) {
                        present = entries.containsKey(key);
                    }
                    out.writeByte(StoreProtocol.OK);
                    out.writeBoolean(present);
                }
                case StoreProtocol.SET_IF_ABSENT -> {
                    byte[] value = StoreProtocol.readValue(in);
                    byte[] stored;
                    synchronized (entries) {
                        stored = entries.putIfAbsent(key, value);
                        if (stored == null) {
                            stored = value;
                            entries.notifyAll();
                        }
                    }
                    out.writeByte(StoreProtocol.OK);
                    StoreProtocol.writeValue(out, stored);
                }
                default -> throw new java.net.ProtocolException("unknown request " + op);
            }
            out.flush();
        }
    }

    /** The value at {@code key}, waiting up to {@code timeoutMillis} for it; null on timeout or close. */
    private byte[] awaitValue(String key, long timeoutMillis) {
        long deadline = System.nanoTime() + Math.max(0, timeoutMillis) * 1_000_000;
        synchronized (entries) {
            while (true) {
                byte[] value = entries.get(key);
                if (value != null || closed) {
                    return value;
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return null;
                }
                try {
                    entries.wait(Math.max(1, left / 1_000_000));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return null;
                }
            }
        }
    }

    /** Counters are stored as decimal text so a plain get reads them too; null if the key holds other bytes. */
    private Long addToCounter(String key, long delta) {
        synchronized (entries) {
            byte[] current = entries.get(key);
            long value = 0;
            if (current != null) {
                try {
                    value = Long.parseLong(new String(current, StandardCharsets.US_ASCII));
                } catch (NumberFormatException e) {
                    return null;
                }
            }
            value += delta;
            entries.put(key, Long.toString(value).getBytes(StandardCharsets.US_ASCII));
            entries.notifyAll();
            return value;
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (Exception e) {
            // already closed or never opened: nothing left to release
        }
    }
}
