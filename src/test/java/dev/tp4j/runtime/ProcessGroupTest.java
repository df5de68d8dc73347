package dev.tp4j.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.BadInputException;
import dev.tp4j.comm.CollectiveOp;
import dev.tp4j.CommunicationException;
import dev.tp4j.comm.Communicator;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import dev.tp4j.testutil.FreePort;
import dev.tp4j.testutil.RankThreads;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Workers as threads: rendezvous from the worker environment, a working ring, a clean goodbye. */
@Timeout(60)
class ProcessGroupTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(15);
    private static final String TOKEN = "pg-test-token";

    @ParameterizedTest(name = "world size {0}")
    @ValueSource(ints = {1, 3})
    void ranksMeetReduceAndLeaveCleanly(int worldSize) throws Exception {
        int port = FreePort.pick();
        List<float[]> sums = RankThreads.run(worldSize, TIMEOUT.plusSeconds(10), rank -> {
            try (ProcessGroup group = ProcessGroup.init(env(rank, worldSize, port), TIMEOUT);
                 Tensor t = Tensor.hostOf(Shape.of(2), new float[] {1, rank})) {
                assertEquals(rank, group.rank());
                assertEquals(worldSize, group.worldSize());
                assertEquals(rank, group.localRank());
                assertEquals(worldSize, group.localWorldSize());
                Communicator comm = group.communicator();
                assertEquals(rank, comm.rank());
                comm.allReduce(t);
                assertEquals(1, comm.stats().snapshot().count(CollectiveOp.ALL_REDUCE));
                group.store().set("hello/rank/" + rank, "hi");
                return t.toFloatArray();
            }
        });
        float expectedRankSum = worldSize * (worldSize - 1) / 2f;
        for (float[] sum : sums) {
            assertArrayEquals(new float[] {worldSize, expectedRankSum}, sum);
        }
        // Rank 0 took its store down on the way out: nothing listens there any more. (Re-binding the port
        // would race with other processes on this machine that may get the number as an ephemeral port.)
        try (Socket probe = new Socket()) {
            assertThrows(ConnectException.class, () -> probe.connect(new InetSocketAddress("127.0.0.1", port), 2_000));
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"auto, shared memory (", "shm, shared memory (", "tcp, tcp ring, rank "})
    void ranksOnOneHostShareMemoryUnlessTcpIsAskedFor(TransportChoice transport, String described) throws Exception {
        int port = FreePort.pick();
        List<float[]> sums = RankThreads.run(2, TIMEOUT.plusSeconds(10), rank -> {
            try (ProcessGroup group = ProcessGroup.init(env(rank, 2, port), TIMEOUT, transport);
                 Tensor t = Tensor.hostOf(Shape.of(3), new float[] {1, rank, 0.5f})) {
                assertTrue(group.communicator().describe().startsWith(described), group.communicator().describe());
                group.communicator().allReduce(t);
                return t.toFloatArray();
            }
        });
        assertArrayEquals(new float[] {2, 1, 1}, sums.get(0));
        assertArrayEquals(new float[] {2, 1, 1}, sums.get(1));
    }

    @Test
    void ranksOnDifferentHostsUseTcpOrRefuseShm() throws Exception {
        int port = FreePort.pick();
        List<String> described = RankThreads.run(2, TIMEOUT.plusSeconds(10), rank -> {
            try (ProcessGroup group = ProcessGroup.init(env(rank, 2, port), TIMEOUT, TransportChoice.auto, "host" + rank)) {
                group.communicator().barrier();
                return group.communicator().describe();
            }
        });
        assertTrue(described.get(0).startsWith("tcp ring"), described.get(0));
        int port2 = FreePort.pick();
        List<RankThreads.Outcome<Object>> refused = RankThreads.outcomes(2, TIMEOUT.plusSeconds(10), rank -> {
            try (ProcessGroup group = ProcessGroup.init(env(rank, 2, port2), TIMEOUT, TransportChoice.shm, "host" + rank)) {
                return group;
            }
        });
        // Rank 0 always decides (it waits for rank 1's host id); rank 1 may find the store already gone.
        RankThreads.Outcome<Object> first = refused.get(0);
        assertTrue(first.error() instanceof BadInputException, String.valueOf(first.error()));
        assertEquals("TP4J_TRANSPORT=shm needs every rank on one host, but rank 1 runs on host1 and rank 0 on host0"
                + " (use auto, hierarchical or tcp)", first.message());
        assertTrue(refused.get(1).error() instanceof BadInputException
                || refused.get(1).error() instanceof CommunicationException, String.valueOf(refused.get(1).error()));
    }

    /** Two pretend hosts of two ranks each: auto composes shared memory and a ring of leaders; tcp stays flat. */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"auto, hierarchical, rank ", "hierarchical, hierarchical, rank ", "tcp, tcp ring, rank "})
    void ranksOnSeveralHostsWithSeveralEachAreHierarchicalUnlessTcpIsAskedFor(TransportChoice asked, String described)
            throws Exception {
        int port = FreePort.pick();
        List<float[]> sums = RankThreads.run(4, TIMEOUT.plusSeconds(10), rank -> {
            try (ProcessGroup group = ProcessGroup.init(env(rank, 4, port), TIMEOUT, asked, "host" + rank / 2);
                 Tensor t = Tensor.hostOf(Shape.of(3), new float[] {1, rank, 0.5f})) {
                assertTrue(group.communicator().describe().startsWith(described), group.communicator().describe());
                assertEquals(asked == TransportChoice.tcp ? TransportChoice.tcp : TransportChoice.hierarchical,
                        group.transport());
                group.communicator().allReduce(t);
                return t.toFloatArray();
            }
        });
        for (float[] sum : sums) {
            assertArrayEquals(new float[] {4, 6, 2}, sum);
        }
    }

    @Test
    void aTransportNotUnderstoodIsBadInputNamingTheVariable() {
        BadInputException e = assertThrows(BadInputException.class,
                () -> TransportChoice.fromEnvironment(java.util.Map.of("TP4J_TRANSPORT", "rdma")));
        assertEquals("TP4J_TRANSPORT='rdma' is not one of auto, shm, tcp, hierarchical, nccl", e.getMessage());
        assertEquals(TransportChoice.auto, TransportChoice.fromEnvironment(java.util.Map.of()));
        assertEquals(TransportChoice.tcp, TransportChoice.fromEnvironment(java.util.Map.of("TP4J_TRANSPORT", " TCP ")));
    }

    @Test
    void otherRanksWaitForRankZeroToStartTheStore() throws Exception {
        int port = FreePort.pick();
        RankThreads.run(3, TIMEOUT.plusSeconds(10), rank -> {
            if (rank == 0) {
                Thread.sleep(400); // rank 0's JVM is the slow one to start
            }
            try (ProcessGroup group = ProcessGroup.init(env(rank, 3, port), TIMEOUT)) {
                group.communicator().barrier();
                return null;
            }
        });
    }

    @Test
    void aTakenMasterPortIsBadInputNamingTheFlag() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            int port = taken.getLocalPort();
            BadInputException e = assertThrows(BadInputException.class,
                    () -> ProcessGroup.init(env(0, 2, port), TIMEOUT));
            assertEquals("port " + port + " on 127.0.0.1 is already in use (--master-port)", e.getMessage());
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"tcp, connection closed", "shm, it closed its communicator"})
    void afterALostRankTheOthersFailFastAndStillCloseQuickly(TransportChoice transport, String how) throws Exception {
        int port = FreePort.pick();
        CyclicBarrier crashed = new CyclicBarrier(3);
        List<RankThreads.Outcome<String>> outcomes = RankThreads.outcomes(3, TIMEOUT.plusSeconds(10), rank -> {
            ProcessGroup group = ProcessGroup.init(env(rank, 3, port), TIMEOUT, transport);
            try (Tensor t = Tensor.hostOf(Shape.of(1000), new float[1000])) {
                group.communicator().allReduce(t);
                if (rank == 2) {
                    // A crash: sockets vanish, no goodbye.
                    group.communicator().close();
                    group.store().close();
                    crashed.await(5, TimeUnit.SECONDS);
                    return null;
                }
                crashed.await(5, TimeUnit.SECONDS);
                CommunicationException e = assertThrows(CommunicationException.class, () -> group.communicator().allReduce(t));
                long start = System.nanoTime();
                group.close();
                assertTrue(System.nanoTime() - start < 5_000_000_000L, "close after a failure does not wait out the timeout");
                return e.getMessage();
            }
        });
        assertEquals("rank 2 lost during all_reduce: " + how, outcomes.get(0).value(), String.valueOf(outcomes.get(0).error()));
        assertEquals("rank 2 lost during all_reduce: " + how, outcomes.get(1).value(), String.valueOf(outcomes.get(1).error()));
    }

    @Test
    void aRankThatNeverClosesIsNamedByTheOthersClose() throws Exception {
        int port = FreePort.pick();
        Duration shortTimeout = Duration.ofMillis(1500);
        List<RankThreads.Outcome<String>> outcomes = RankThreads.outcomes(3, TIMEOUT, rank -> {
            ProcessGroup group = ProcessGroup.init(env(rank, 3, port), shortTimeout);
            group.communicator().barrier();
            if (rank == 1) {
                Thread.sleep(shortTimeout.toMillis() * 2); // stuck elsewhere; leaves without saying goodbye
                group.communicator().close();
                group.store().close();
                return null;
            }
            CommunicationException e = assertThrows(CommunicationException.class, group::close);
            return e.getMessage();
        });
        for (int rank : new int[] {0, 2}) {
            assertEquals("barrier 'close' timed out after 1.5s: rank 1 did not arrive", outcomes.get(rank).value(),
                    String.valueOf(outcomes.get(rank).error()));
        }
    }

    private static WorkerEnvironment env(int rank, int worldSize, int port) {
        return new WorkerEnvironment(rank, worldSize, rank, worldSize, "127.0.0.1", port, TOKEN, "torchrun");
    }
}
