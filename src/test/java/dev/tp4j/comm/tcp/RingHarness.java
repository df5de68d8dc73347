package dev.tp4j.comm.tcp;

import dev.tp4j.rendezvous.auth.JobToken;
import dev.tp4j.rendezvous.store.StoreClient;
import dev.tp4j.rendezvous.store.StoreServer;
import dev.tp4j.testutil.RankThreads;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;

/**
 * A job of ring ranks as threads in this JVM over loopback: one store server on a free port, and per
 * rank a store client and a {@link TcpRingCommunicator}. Ranks close only after every rank's task
 * returned, as {@code ProcessGroup} does, so no rank sees a finished peer as a lost one.
 */
final class RingHarness implements AutoCloseable {
    static final String TOKEN = "ring-test-token";

    @FunctionalInterface
    interface RingTask<T> {
        T run(TcpRingCommunicator comm, StoreClient store) throws Exception;
    }

    final StoreServer server = StoreServer.start("127.0.0.1", 0, JobToken.of(TOKEN));

    <T> List<RankThreads.Outcome<T>> outcomes(int ranks, Duration timeout, RingTask<T> task) throws InterruptedException {
        CyclicBarrier done = new CyclicBarrier(ranks);
        return RankThreads.outcomes(ranks, timeout.plusSeconds(10), rank -> {
            try (StoreClient store = StoreClient.connect("127.0.0.1", server.port(), JobToken.of(TOKEN), rank, timeout);
                 TcpRingCommunicator comm = TcpRingCommunicator.connect(store, JobToken.of(TOKEN), rank, ranks,
                         "127.0.0.1", timeout)) {
                try {
                    return task.run(comm, store);
                } finally {
                    try {
                        done.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
                    } catch (Exception e) {
                        // another rank failed or hung: close anyway, its failure is reported
                    }
                }
            }
        });
    }

    <T> List<T> run(int ranks, Duration timeout, RingTask<T> task) throws InterruptedException {
        return RankThreads.valuesOf(outcomes(ranks, timeout, task));
    }

    @Override
    public void close() {
        server.close();
    }
}
