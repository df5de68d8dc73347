package dev.tp4j.comm.tcp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.CommunicationException;
import dev.tp4j.rendezvous.RendezvousStore;
import dev.tp4j.rendezvous.auth.Handshake;
import dev.tp4j.rendezvous.auth.HandshakeException;
import dev.tp4j.rendezvous.auth.JobToken;
import dev.tp4j.rendezvous.store.StoreClient;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import dev.tp4j.testutil.LoopbackStore;
import dev.tp4j.testutil.RankThreads;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Strangers on a rank's ring port — garbage, a wrong token, a right token claiming the wrong rank —
 * are refused, and the real neighbour still gets in.
 */
@Timeout(30)
class RingAuthenticationTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(15);

    @Test
    void strangersOnTheRingPortAreRefusedAndTheRingStillForms() throws Exception {
        CountDownLatch strangersDone = new CountDownLatch(1);
        AtomicReference<Throwable> intruderFailure = new AtomicReference<>();
        try (LoopbackStore store = new LoopbackStore()) {
            Thread intruder = new Thread(() -> {
                try (StoreClient spy = store.client(99, TIMEOUT)) {
                    String endpoint = spy.getString(RendezvousStore.rankKey(TcpRingCommunicator.DEFAULT_KEY_PREFIX, 1), TIMEOUT);
                    InetSocketAddress address = new InetSocketAddress("127.0.0.1",
                            Integer.parseInt(endpoint.substring(endpoint.lastIndexOf(':') + 1)));
                    try (Socket garbage = new Socket()) {
                        garbage.connect(address);
                        OutputStream out = garbage.getOutputStream();
                        out.write("hello there, this is not a handshake at all......".getBytes(StandardCharsets.US_ASCII));
                        out.flush();
                        assertHungUp(garbage);
                    }
                    assertRefused(address, JobToken.of("wrong token"), 0);
                    assertRefused(address, LoopbackStore.token(), 2); // right token, wrong rank
                } catch (Throwable e) {
                    intruderFailure.set(e);
                } finally {
                    strangersDone.countDown();
                }
            });
            intruder.start();
            List<float[]> sums = RankThreads.run(2, TIMEOUT, rank -> {
                try (StoreClient client = store.client(rank, TIMEOUT)) {
                    if (rank == 0) {
                        // Rank 1 is listening for rank 0 already; the strangers knock before rank 0 does.
                        assertTrue(strangersDone.await(10, TimeUnit.SECONDS));
                    }
                    try (TcpRingCommunicator comm = TcpRingCommunicator.connect(client, LoopbackStore.token(),
                            rank, 2, LoopbackStore.HOST, TIMEOUT);
                         Tensor t = Tensor.hostOf(Shape.of(3), new float[] {1, 2, rank})) {
                        comm.allReduce(t);
                        comm.barrier(); // nobody closes while the other still reads
                        return t.toFloatArray();
                    }
                }
            });
            intruder.join();
            if (intruderFailure.get() != null) {
                throw new AssertionError("the intruder's checks failed", intruderFailure.get());
            }
            assertArrayEquals(new float[] {2, 4, 1}, sums.get(0));
            assertArrayEquals(new float[] {2, 4, 1}, sums.get(1));
        }
    }

    /**
     * Issue 14, fault 4: connections were accepted one at a time, each with a 5 s handshake, so 30 silent
     * connections on a ring port stretched ring setup by minutes. Now each is handled on its own: with 30
     * silent and 5 garbage connections on rank 0's port before rank 1 comes, the ring forms in well under
     * one handshake deadline.
     */
    @Test
    void silentAndGarbageConnectionsDuringSetupDoNotDelayTheRing() throws Exception {
        List<Socket> strangers = new CopyOnWriteArrayList<>();
        try (LoopbackStore store = new LoopbackStore()) {
            List<Long> setupMillis = RankThreads.run(2, TIMEOUT, rank -> {
                try (StoreClient client = store.client(rank, TIMEOUT)) {
                    if (rank == 1) { // rank 0 is listening for rank 1 already: strangers get there first
                        String endpoint = client.getString(
                                RendezvousStore.rankKey(TcpRingCommunicator.DEFAULT_KEY_PREFIX, 0), TIMEOUT);
                        InetSocketAddress address = new InetSocketAddress("127.0.0.1",
                                Integer.parseInt(endpoint.substring(endpoint.lastIndexOf(':') + 1)));
                        for (int i = 0; i < 35; i++) {
                            Socket s = new Socket();
                            strangers.add(s);
                            s.connect(address, 2_000);
                            if (i % 7 == 6) {
                                s.getOutputStream().write("GET / HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                                s.getOutputStream().flush(); // garbage that then waits, like the silent ones
                            }
                        }
                    }
                    long t0 = System.nanoTime();
                    try (TcpRingCommunicator comm = TcpRingCommunicator.connect(client, LoopbackStore.token(),
                            rank, 2, LoopbackStore.HOST, TIMEOUT);
                         Tensor t = Tensor.hostOf(Shape.of(2), new float[] {1, rank})) {
                        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
                        comm.allReduce(t);
                        comm.barrier();
                        assertArrayEquals(new float[] {2, 1}, t.toFloatArray());
                        return millis;
                    }
                }
            });
            for (long ms : setupMillis) {
                assertTrue(ms < 4_000, "ring setup took " + setupMillis + " ms with strangers on the port");
            }
        } finally {
            for (Socket s : strangers) {
                s.close();
            }
        }
    }

    @Test
    void aRankWithTheWrongTokenCannotJoin() throws Exception {
        try (LoopbackStore store = new LoopbackStore()) {
            Duration shortTimeout = Duration.ofSeconds(2);
            List<RankThreads.Outcome<Object>> outcomes = RankThreads.outcomes(2, TIMEOUT, rank -> {
                try (StoreClient client = store.client(rank, TIMEOUT)) {
                    JobToken ringToken = rank == 1 ? JobToken.of("not the job's token") : LoopbackStore.token();
                    TcpRingCommunicator.connect(client, ringToken, rank, 2, LoopbackStore.HOST, shortTimeout).close();
                    return null;
                }
            });
            for (RankThreads.Outcome<Object> o : outcomes) {
                assertTrue(o.failed(), "rank " + o.rank() + " must not form a ring with an impostor");
                assertTrue(o.error() instanceof CommunicationException, o.error().toString());
                // Whoever is refused says so; the other side may only see its peer give up and leave.
                assertTrue(o.message().contains("refused") || o.message().contains("could not connect to rank"),
                        o.message());
            }
        }
    }

    /** The rank read our garbage and hung up (with a reset if our bytes were still unread). */
    private static void assertHungUp(Socket s) throws Exception {
        s.setSoTimeout(5_000);
        try {
            s.getInputStream().readAllBytes();
        } catch (java.net.SocketTimeoutException e) {
            throw new AssertionError("the rank kept a garbage connection open");
        } catch (java.net.SocketException reset) {
            // closed with unread bytes: a reset, which is a hang-up too
        }
    }

    private static void assertRefused(InetSocketAddress address, JobToken token, int claimedRank) throws Exception {
        try (Socket s = new Socket()) {
            s.connect(address);
            s.setSoTimeout(5_000);
            HandshakeException e = assertThrows(HandshakeException.class, () -> Handshake.initiate(
                    s.getInputStream(), s.getOutputStream(), token, Handshake.Service.RING, claimedRank, 1));
            assertTrue(e.refusedByPeer(), e.getMessage());
        }
    }
}
