package dev.tp4j.testutil;

import dev.tp4j.comm.Communicator;
import dev.tp4j.rendezvous.auth.JobToken;
import dev.tp4j.rendezvous.store.StoreClient;
import dev.tp4j.rendezvous.store.StoreServer;
import java.time.Duration;
import java.util.function.Function;

/** A job's rendezvous store served on loopback in this JVM, as rank 0 serves it, with a client per rank. */
public final class LoopbackStore implements AutoCloseable {
    public static final String HOST = "127.0.0.1";
    public static final String TOKEN = "test-job-token";

    private final StoreServer server = StoreServer.start(HOST, 0, token());

    public static JobToken token() {
        return JobToken.of(TOKEN);
    }

    public int port() {
        return server.port();
    }

    /** A client authenticated with the job's token, as rank {@code rank}. */
    public StoreClient client(int rank, Duration timeout) {
        return StoreClient.connect(HOST, server.port(), token(), rank, timeout);
    }

    /**
     * Rank {@code rank} joins a group through its own client of this store: {@code connect} makes its
     * communicator, and the member closes the client after it. A failed join closes the client at once.
     */
    public <C extends Communicator> Member<C> member(int rank, Duration timeout, Function<StoreClient, C> connect) {
        StoreClient client = client(rank, timeout);
        try {
            return new Member<>(connect.apply(client), null, client);
        } catch (RuntimeException e) {
            client.close();
            throw e;
        }
    }

    @Override
    public void close() {
        server.close();
    }
}
