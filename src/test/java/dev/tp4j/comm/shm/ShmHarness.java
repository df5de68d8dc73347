package dev.tp4j.comm.shm;

import dev.tp4j.rendezvous.auth.JobToken;
import dev.tp4j.rendezvous.store.StoreClient;
import dev.tp4j.rendezvous.store.StoreServer;
import dev.tp4j.testutil.RankThreads;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.function.IntToLongFunction;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * A job of shared-memory ranks as threads in this JVM: one store server, and per rank a store client
 * and a {@link ShmCommunicator} with the given slot size. Ranks close only after every rank's task
 * returned, as {@code ProcessGroup} does.
 */
final class ShmHarness implements AutoCloseable {
    static final String TOKEN = "shm-test-token";

    @FunctionalInterface
    interface ShmTask<T> {
        T run(ShmCommunicator comm, StoreClient store) throws Exception;
    }

    final StoreServer server = StoreServer.start("127.0.0.1", 0, JobToken.of(TOKEN));
    private final int slotBytes;
    /** The pid each rank publishes (a test may hand a dead one to a rank). */
    IntToLongFunction pids = rank -> ProcessHandle.current().pid();

    ShmHarness(int slotBytes) {
        this.slotBytes = slotBytes;
    }

    <T> List<RankThreads.Outcome<T>> outcomes(int ranks, Duration timeout, ShmTask<T> task) throws InterruptedException {
        CyclicBarrier done = new CyclicBarrier(ranks);
        return RankThreads.outcomes(ranks, timeout.plusSeconds(10), rank -> {
            try (StoreClient store = StoreClient.connect("127.0.0.1", server.port(), JobToken.of(TOKEN), rank, timeout);
                 ShmCommunicator comm = ShmCommunicator.connect(store, ShmCommunicator.DEFAULT_KEY_PREFIX, rank, ranks,
                         timeout, slotBytes, pids.applyAsLong(rank))) {
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

    <T> List<T> run(int ranks, Duration timeout, ShmTask<T> task) throws InterruptedException {
        return RankThreads.valuesOf(outcomes(ranks, timeout, task));
    }

    /** The shared memory files this JVM's communicators left in the directory they use. */
    static List<Path> leftovers() throws IOException {
        String mine = "tp4j-" + ProcessHandle.current().pid() + "-";
        try (Stream<Path> files = Files.list(ShmRegion.directory())) {
            return files.filter(p -> p.getFileName().toString().startsWith(mine)).collect(Collectors.toList());
        }
    }

    @Override
    public void close() {
        server.close();
    }
}
