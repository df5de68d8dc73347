package dev.tp4j.rendezvous.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.BadInputException;
import dev.tp4j.CommunicationException;
import dev.tp4j.rendezvous.StoreBarrier;
import dev.tp4j.rendezvous.StoreTimeoutException;
import dev.tp4j.rendezvous.auth.JobToken;
import dev.tp4j.testutil.FreePort;
import dev.tp4j.testutil.Poll;
import dev.tp4j.testutil.RankThreads;
import dev.tp4j.testutil.ThreadProbe;
import dev.tp4j.rendezvous.auth.Handshake;
import dev.tp4j.rendezvous.auth.HandshakeException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class StoreTest {
    private static final String HOST = "127.0.0.1";
    private static final JobToken TOKEN = JobToken.of("s3cret");
    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    @Test
    void setGetAddAndFriends() throws Exception {
        try (StoreServer server = StoreServer.start(HOST, 0, TOKEN);
             StoreClient a = StoreClient.connect(HOST, server.port(), TOKEN, 0, TIMEOUT);
             StoreClient b = StoreClient.connect(HOST, server.port(), TOKEN, 1, TIMEOUT)) {
            a.set("k", new byte[] {1, 2, 3});
            assertArrayEquals(new byte[] {1, 2, 3}, b.get("k", TIMEOUT));
            a.set("empty", new byte[0]);
            assertArrayEquals(new byte[0], b.get("empty", TIMEOUT));
            assertTrue(b.contains("k"));
            assertFalse(b.contains("nope"));

            assertEquals(5, a.add("counter", 5));
            assertEquals(3, b.add("counter", -2));
            assertEquals("3", b.getString("counter", TIMEOUT), "counters read back as decimal text");
            CommunicationException notACounter = assertThrows(CommunicationException.class, () -> a.add("k", 1));
            assertTrue(notACounter.getMessage().contains("'k'"), notACounter.getMessage());

            assertEquals("first", new String(a.setIfAbsent("once", bytes("first")), StandardCharsets.UTF_8));
            assertEquals("first", new String(b.setIfAbsent("once", bytes("second")), StandardCharsets.UTF_8));

            // get blocks until another client sets the key: the server holds the request open (it is seen
            // waiting for the key) and the client has no answer until the key is set.
            CompletableFuture<byte[]> waiting = CompletableFuture.supplyAsync(() -> b.get("late", TIMEOUT));
            Poll.until("the server to hold the get of 'late' open", Duration.ofSeconds(5),
                    () -> ThreadProbe.anyBlockedInside(StoreServer.class.getName(), "awaitValue"));
            assertFalse(waiting.isDone(), "get answered before the key was set");
            a.set("late", "here");
            assertEquals("here", new String(waiting.get(5, TimeUnit.SECONDS), StandardCharsets.UTF_8));
        }
    }

    @Test
    void concurrentAddsCountEveryRank() throws Exception {
        try (StoreServer server = StoreServer.start(HOST, 0, TOKEN)) {
            List<Long> finals = RankThreads.run(4, TIMEOUT, rank -> {
                try (StoreClient c = StoreClient.connect(HOST, server.port(), TOKEN, rank, TIMEOUT)) {
                    for (int i = 0; i < 50; i++) {
                        c.add("hits", 1);
                    }
                    return c.add("hits", 0);
                }
            });
            assertEquals(200L, finals.stream().mapToLong(Long::longValue).max().orElseThrow());
        }
    }

    @Test
    void getTimeoutNamesTheKeyAndTheRankItStandsFor() {
        try (StoreServer server = StoreServer.start(HOST, 0, TOKEN);
             StoreClient c = StoreClient.connect(HOST, server.port(), TOKEN, 0, TIMEOUT)) {
            long start = System.nanoTime();
            StoreTimeoutException e = assertThrows(StoreTimeoutException.class,
                    () -> c.get("tp4j/ring/rank/3", Duration.ofMillis(200)));
            assertTrue(System.nanoTime() - start < 3_000_000_000L, "timed out promptly");
            assertEquals("rendezvous timed out after 200ms waiting for key 'tp4j/ring/rank/3': rank 3 did not show up",
                    e.getMessage());
            StoreTimeoutException plain = assertThrows(StoreTimeoutException.class,
                    () -> c.get("some/flag", Duration.ofMillis(50)));
            assertEquals("rendezvous timed out after 50ms waiting for key 'some/flag'", plain.getMessage());
            c.set("after", "ok"); // a timed-out get leaves the connection usable
            assertEquals("ok", c.getString("after", TIMEOUT));
        }
    }

    @Test
    void wrongOrMissingTokenIsRefusedWhileGoodClientsWork() throws Exception {
        try (StoreServer server = StoreServer.start(HOST, 0, TOKEN);
             StoreClient good = StoreClient.connect(HOST, server.port(), TOKEN, 0, TIMEOUT)) {
            good.set("before", "1");
            long start = System.nanoTime();
            CommunicationException wrong = assertThrows(CommunicationException.class,
                    () -> StoreClient.connect(HOST, server.port(), JobToken.of("guess"), 1, TIMEOUT));
            assertTrue(System.nanoTime() - start < 3_000_000_000L, "a refused token is not retried until the timeout");
            assertTrue(wrong.getMessage().contains("refused"), wrong.getMessage());
            assertFalse(wrong.getMessage().contains("guess"), "the token never appears in messages");
            assertThrows(CommunicationException.class,
                    () -> StoreClient.connect(HOST, server.port(), JobToken.none(), 1, TIMEOUT));
            good.set("after", "2");
            assertEquals("1", good.getString("before", TIMEOUT));
            assertEquals("2", good.getString("after", TIMEOUT));
            awaitRefused(server, 2); // the server counts a refusal just after telling the client
        }
    }

    @Test
    void noTokenOnBothSidesStillHandshakes() {
        try (StoreServer server = StoreServer.start(HOST, 0, JobToken.of(null));
             StoreClient c = StoreClient.connect(HOST, server.port(), JobToken.none(), 0, TIMEOUT)) {
            c.set("k", "v");
            assertEquals("v", c.getString("k", TIMEOUT));
        }
    }

    @Test
    void garbageAndSilentClientsAreDroppedWithoutDisturbingTheJob() throws Exception {
        try (StoreServer server = StoreServer.start(HOST, 0, TOKEN, Duration.ofMillis(300));
             StoreClient good = StoreClient.connect(HOST, server.port(), TOKEN, 0, TIMEOUT);
             Socket silent = new Socket();
             Socket garbage = new Socket()) {
            silent.connect(new InetSocketAddress(HOST, server.port()));
            garbage.connect(new InetSocketAddress(HOST, server.port()));
            OutputStream out = garbage.getOutputStream();
            out.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();

            // The job keeps working while the stranger connections are open.
            good.set("k", "v");
            assertEquals("v", good.getString("k", TIMEOUT));
            try (StoreClient late = StoreClient.connect(HOST, server.port(), TOKEN, 1, TIMEOUT)) {
                assertEquals("v", late.getString("k", TIMEOUT));
            }

            awaitRefused(server, 2);
            assertClosedByServer(silent);
            assertClosedByServer(garbage);
            good.set("k2", "v2");
            assertEquals("v2", good.getString("k2", TIMEOUT));
        }
    }

    /**
     * Issue 14, fault 2: under load a rank with the right token said "a wrong job token?" when the store
     * had only stopped waiting for its handshake. A client slowed down until the store gave up on it must
     * hear a timeout, which a new connection may pass, not a refusal.
     */
    @Test
    void aHandshakeTooLateForTheStoreIsATimeoutNotAWrongToken() throws Exception {
        try (StoreServer server = StoreServer.start(HOST, 0, TOKEN, Duration.ofMillis(200));
             Socket socket = new Socket(HOST, server.port())) {
            InputStream late = new FilterInputStream(socket.getInputStream()) {
                private boolean waited;

                private void waitForTheStoreToGiveUp() throws IOException {
                    if (!waited) {
                        waited = true;
                        try {
                            awaitRefused(server, 1);
                        } catch (Exception e) {
                            throw new IOException(e);
                        }
                    }
                }

                @Override
                public int read() throws IOException {
                    waitForTheStoreToGiveUp();
                    return super.read();
                }

                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    waitForTheStoreToGiveUp();
                    return super.read(b, off, len);
                }
            };
            HandshakeException e = assertThrows(HandshakeException.class, () -> Handshake.initiate(late,
                    socket.getOutputStream(), TOKEN, Handshake.Service.STORE, 1, Handshake.ANY_RANK));
            assertTrue(e.timedOut(), e.getMessage());
            assertFalse(e.refusedByPeer(), e.getMessage());
            assertFalse(e.getMessage().contains("token"), e.getMessage());
            assertTrue(e.getMessage().contains("timed out") || e.getMessage().contains("stopped waiting"), e.getMessage());
        }
    }

    /** A store that gave up on a handshake once is tried again within the rendezvous timeout. */
    @Test
    void aTimedOutHandshakeIsRetried() throws Exception {
        try (StoreServer server = StoreServer.start(HOST, 0, TOKEN, Duration.ofMillis(200));
             ServerSocket slowFront = new ServerSocket(0, 1, java.net.InetAddress.getByName(HOST))) {
            // The first connection reaches a front that greets like a store and then answers TIMED_OUT; the
            // client must come back (to the same port, here served by the real store from then on).
            CompletableFuture<Void> front = CompletableFuture.runAsync(() -> {
                try (Socket first = slowFront.accept();
                     Socket store = new Socket(HOST, server.port())) {
                    // relay the real store's greeting, swallow the client's proof, and let the store time out
                    byte[] greeting = store.getInputStream().readNBytes(4 + 1 + 1 + 4 + JobToken.PROOF_BYTES);
                    first.getOutputStream().write(greeting);
                    first.getOutputStream().flush();
                    first.getInputStream().readNBytes(4 + 1 + 4 + 2 * JobToken.PROOF_BYTES);
                    first.getOutputStream().write(store.getInputStream().read()); // the store's verdict: TIMED_OUT
                    first.getOutputStream().flush();
                    Socket second = slowFront.accept(); // the retry: relay it both ways to the store
                    Socket real = new Socket(HOST, server.port());
                    relay(second, real);
                    relay(real, second);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            try (StoreClient c = StoreClient.connect(HOST, slowFront.getLocalPort(), TOKEN, 0, TIMEOUT)) {
                c.set("k", "v");
                assertEquals("v", c.getString("k", TIMEOUT));
            }
            front.get(10, TimeUnit.SECONDS);
        }
    }

    private static void relay(Socket from, Socket to) {
        Thread t = new Thread(() -> {
            try {
                from.getInputStream().transferTo(to.getOutputStream());
            } catch (IOException e) {
                // one side closed: the relay ends
            }
        }, "relay");
        t.setDaemon(true);
        t.start();
    }

    @Test
    void portInUseIsBadInput() {
        try (StoreServer first = StoreServer.start(HOST, 0, TOKEN)) {
            BadInputException e = assertThrows(BadInputException.class, () -> StoreServer.start(HOST, first.port(), TOKEN));
            assertEquals("port " + first.port() + " on " + HOST + " is already in use (--master-port)", e.getMessage());
        }
    }

    @Test
    void clientWaitsForAStoreThatStartsLater() throws Exception {
        int port = FreePort.pick();
        FutureTask<StoreClient> client = new FutureTask<>(() -> StoreClient.connect(HOST, port, TOKEN, 1, TIMEOUT));
        Thread connecting = new Thread(client, "client of a store not yet started");
        connecting.setDaemon(true);
        connecting.start();
        // The store starts only once the client has found nobody listening and pauses to try again.
        Poll.until("the client to pause between attempts to reach the store", Duration.ofSeconds(5),
                () -> ThreadProbe.isSleepingInside(connecting, StoreClient.class.getName(), "connect"));
        assertFalse(client.isDone(), "the client gave up while nothing listened yet");
        StoreServer server = StoreServer.start(HOST, port, TOKEN);
        try (StoreClient c = client.get(8, TimeUnit.SECONDS)) {
            c.set("k", "v");
            assertEquals("v", c.getString("k", TIMEOUT));
        } finally {
            server.close();
        }
    }

    @Test
    void unreachableStoreFailsAfterTheTimeout() {
        int port = FreePort.pick();
        CommunicationException e = assertThrows(CommunicationException.class,
                () -> StoreClient.connect(HOST, port, TOKEN, 2, Duration.ofMillis(300)));
        assertTrue(e.getMessage().startsWith("could not reach the rendezvous store at 127.0.0.1:" + port
                + " (rank 0) within 300ms"), e.getMessage());
    }

    @Test
    void lostStoreFailsRequestsWithAClearMessage() {
        StoreServer server = StoreServer.start(HOST, 0, TOKEN);
        try (StoreClient c = StoreClient.connect(HOST, server.port(), TOKEN, 1, TIMEOUT)) {
            server.close();
            CommunicationException e = assertThrows(CommunicationException.class, () -> c.get("k", TIMEOUT));
            assertTrue(e.getMessage().startsWith("lost the rendezvous store at 127.0.0.1:" + server.port()), e.getMessage());
            CommunicationException again = assertThrows(CommunicationException.class, () -> c.set("k", "v"));
            assertEquals(e.getMessage(), again.getMessage());
        }
    }

    @Test
    void storeBarrierWaitsForAllAndNamesTheMissing() throws Exception {
        try (StoreServer server = StoreServer.start(HOST, 0, TOKEN)) {
            RankThreads.run(3, TIMEOUT, rank -> {
                try (StoreClient c = StoreClient.connect(HOST, server.port(), TOKEN, rank, TIMEOUT)) {
                    StoreBarrier.await(c, "all-here", rank, 3, TIMEOUT);
                    return null;
                }
            });
            List<RankThreads.Outcome<Object>> outcomes = RankThreads.outcomes(3, TIMEOUT, rank -> {
                if (rank == 1) {
                    return null; // never arrives
                }
                try (StoreClient c = StoreClient.connect(HOST, server.port(), TOKEN, rank, TIMEOUT)) {
                    StoreBarrier.await(c, "one-missing", rank, 3, Duration.ofMillis(300));
                    return null;
                }
            });
            for (int rank : new int[] {0, 2}) {
                assertEquals("barrier 'one-missing' timed out after 300ms: rank 1 did not arrive",
                        outcomes.get(rank).message());
            }
        }
    }

    /** Refusals are counted by the server's connection threads, a moment after the client hears of them. */
    private static void awaitRefused(StoreServer server, int expected) throws Exception {
        Poll.until("the server to count " + expected + " refused connections", Duration.ofSeconds(5),
                () -> server.refusedConnections() >= expected, () -> "counted " + server.refusedConnections());
        assertEquals(expected, server.refusedConnections(), "each stranger is refused (and logged) once");
    }

    /** Reads what the server sent (its greeting) and expects end-of-stream: it hung up on us. */
    private static void assertClosedByServer(Socket s) throws java.io.IOException {
        s.setSoTimeout(2_000);
        java.io.InputStream in = s.getInputStream();
        byte[] sink = new byte[256];
        try {
            while (in.read(sink) >= 0) {
                // the greeting: nonce and all
            }
        } catch (java.net.SocketTimeoutException e) {
            throw new AssertionError("the server kept the connection from " + s.getLocalSocketAddress() + " open");
        } catch (java.net.SocketException reset) {
            // dropped with a reset: closed just the same
        }
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
