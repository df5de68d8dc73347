package dev.tp4j.rendezvous.store;

import dev.tp4j.CommunicationException;
import dev.tp4j.rendezvous.Durations;
import dev.tp4j.rendezvous.RendezvousStore;
import dev.tp4j.rendezvous.StoreTimeoutException;
import dev.tp4j.rendezvous.auth.Handshake;
import dev.tp4j.rendezvous.auth.HandshakeException;
import dev.tp4j.rendezvous.auth.JobToken;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;

/**
 * One rank's connection to the rendezvous store. Requests are serialised on the one connection; a
 * lost connection fails the request at hand and every later one with the same message.
 */
public final class StoreClient implements RendezvousStore {
    /** Slack on top of a get's own timeout before the client stops waiting for the server's answer. */
    private static final int ANSWER_GRACE_MILLIS = 5_000;

    private final Socket socket;
    private final DataInputStream in;
    private final DataOutputStream out;
    private final String endpoint;
    private final int requestTimeoutMillis;
    private String brokenReason;
    private boolean closed;

    private StoreClient(Socket socket, DataInputStream in, DataOutputStream out, String endpoint, Duration timeout) {
        this.socket = socket;
        this.in = in;
        this.out = out;
        this.endpoint = endpoint;
        this.requestTimeoutMillis = (int) Math.min(Integer.MAX_VALUE - ANSWER_GRACE_MILLIS, Math.max(1, timeout.toMillis()));
    }

    /**
     * Connects and authenticates as {@code rank}, retrying while nothing listens yet (rank 0's JVM may
     * start after this one) until {@code timeout}. A store that refuses the token fails at once.
     */
    public static StoreClient connect(String host, int port, JobToken token, int rank, Duration timeout) {
        String endpoint = host + ":" + port;
        long deadline = System.nanoTime() + timeout.toNanos();
        long backoffMillis = 20;
        IOException last = null;
        while (true) {
            long leftMillis = (deadline - System.nanoTime()) / 1_000_000;
            if (leftMillis <= 0) {
                throw new CommunicationException("could not reach the rendezvous store at " + endpoint
                        + " (rank 0) within " + Durations.describe(timeout) + ": " + describe(last));
            }
            Socket socket = new Socket();
            try {
                socket.setTcpNoDelay(true);
                socket.connect(new InetSocketAddress(host, port), (int) Math.min(leftMillis, 5_000));
                socket.setSoTimeout((int) Math.min(Math.max(leftMillis, 1_000), 10_000));
                DataInputStream in = new DataInputStream(new BufferedInputStream(socket.getInputStream()));
                DataOutputStream out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream()));
                Handshake.initiate(in, out, token, Handshake.Service.STORE, rank, Handshake.ANY_RANK);
                return new StoreClient(socket, in, out, endpoint, timeout);
            } catch (HandshakeException e) {
                closeQuietly(socket);
                if (!e.timedOut()) {
                    throw new CommunicationException("rendezvous store at " + endpoint + ": " + e.getMessage());
                }
                last = e; // late, not wrong: a busy host answers the next try in time
            } catch (IOException e) {
                closeQuietly(socket);
                last = e;
            }
            sleep(Math.min(backoffMillis, Math.max(1, (deadline - System.nanoTime()) / 1_000_000)));
            backoffMillis = Math.min(backoffMillis * 2, 500);
        }
    }

    /** The local address this client reaches the store from: the interface other ranks can reach us on. */
    public InetAddress localAddress() {
        return socket.getLocalAddress();
    }

    public String endpoint() {
        return endpoint;
    }

    @Override
    public synchronized void set(String key, byte[] value) {
        try {
            begin(StoreProtocol.SET, key, requestTimeoutMillis);
            StoreProtocol.writeValue(out, value);
            expectOk(key);
        } catch (IOException e) {
            throw lost(e);
        }
    }

    @Override
    public synchronized byte[] get(String key, Duration timeout) {
        long timeoutMillis = Math.max(0, timeout.toMillis());
        try {
            begin(StoreProtocol.GET, key, (int) Math.min(Integer.MAX_VALUE, timeoutMillis + ANSWER_GRACE_MILLIS));
            out.writeLong(timeoutMillis);
            out.flush();
            byte status = in.readByte();
            if (status == StoreProtocol.TIMEOUT) {
                throw new StoreTimeoutException(key, timeout);
            }
            checkStatus(status, key);
            return StoreProtocol.readValue(in);
        } catch (IOException e) {
            throw lost(e);
        }
    }

    @Override
    public synchronized long add(String key, long delta) {
        try {
            begin(StoreProtocol.ADD, key, requestTimeoutMillis);
            out.writeLong(delta);
            expectOk(key);
            return in.readLong();
        } catch (IOException e) {
            throw lost(e);
        }
    }

    @Override
    public synchronized byte[] setIfAbsent(String key, byte[] value) {
        try {
            begin(StoreProtocol.SET_IF_ABSENT, key, requestTimeoutMillis);
            StoreProtocol.writeValue(out, value);
            expectOk(key);
            return StoreProtocol.readValue(in);
        } catch (IOException e) {
            throw lost(e);
        }
    }

    @Override
    public synchronized boolean contains(String key) {
        try {
            begin(StoreProtocol.CONTAINS, key, requestTimeoutMillis);
            expectOk(key);
            return in.readBoolean();
        } catch (IOException e) {
            throw lost(e);
        }
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            closeQuietly(socket);
        }
    }

    @Override
    public String toString() {
        return "StoreClient(" + endpoint + ")";
    }

    private void begin(byte op, String key, int answerTimeoutMillis) throws IOException {
        if (closed) {
            throw new IllegalStateException("store client was closed");
        }
        if (brokenReason != null) {
            throw new CommunicationException(brokenReason);
        }
        socket.setSoTimeout(answerTimeoutMillis);
        out.writeByte(op);
        StoreProtocol.writeKey(out, key);
    }

    private void expectOk(String key) throws IOException {
        out.flush();
        checkStatus(in.readByte(), key);
    }

    private void checkStatus(byte status, String key) throws IOException {
        if (status == StoreProtocol.ERROR) {
            throw new CommunicationException("rendezvous store: " + in.readUTF());
        }
        if (status != StoreProtocol.OK) {
            throw new java.net.ProtocolException("unexpected answer " + status + " for key '" + key + "'");
        }
    }

    private CommunicationException lost(IOException e) {
        brokenReason = "lost the rendezvous store at " + endpoint + " (rank 0): " + describe(e);
        closeQuietly(socket);
        return new CommunicationException(brokenReason);
    }

    private static String describe(IOException e) {
        if (e == null) {
            return "no answer";
        }
        if (e instanceof java.net.SocketTimeoutException) {
            return "no answer in time";
        }
        if (e instanceof java.io.EOFException) {
            return "connection closed";
        }
        if (e instanceof java.net.UnknownHostException) {
            return "unknown host " + e.getMessage();
        }
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CommunicationException("interrupted while connecting to the rendezvous store");
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException e) {
            // nothing left to release
        }
    }
}
