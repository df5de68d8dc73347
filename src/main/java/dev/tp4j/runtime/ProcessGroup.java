package dev.tp4j.runtime;

import dev.tp4j.rendezvous.HostId;
import dev.tp4j.rendezvous.RendezvousStore;
import dev.tp4j.rendezvous.StoreBarrier;
import dev.tp4j.CommunicationException;
import dev.tp4j.BadInputException;
import dev.tp4j.comm.Communicator;
import dev.tp4j.comm.shm.ShmCommunicator;
import dev.tp4j.comm.tcp.TcpRingCommunicator;
import dev.tp4j.rendezvous.auth.JobToken;
import dev.tp4j.rendezvous.store.StoreClient;
import dev.tp4j.rendezvous.store.StoreServer;
import java.time.Duration;

/**
 * This worker's membership in the job: rank 0 hosts the rendezvous store, every rank (rank 0 too)
 * connects to it as a client, and the ranks set up their collectives: through shared memory when all of
 * them run on one host (compared by {@link HostId}, published in the store), else a TCP ring.
 * {@link TransportChoice} ({@code TP4J_TRANSPORT}) overrides the choice.
 *
 * <p>{@link #close()} waits at a store barrier before anyone tears down (so no rank pulls a link from
 * under a peer that is still finishing), and rank 0 keeps the store up until the other ranks have
 * left it. After a failed collective the barrier is skipped: the job is already failing, and waiting
 * for a lost rank would only delay the report.
 */
public final class ProcessGroup implements AutoCloseable {
    private static final Duration FAILURE_LINGER = Duration.ofSeconds(2);

    private final WorkerEnvironment env;
    private final Duration timeout;
    private final StoreServer server;
    private final StoreClient store;
    private final Communicator communicator;
    private boolean closed;

    private ProcessGroup(WorkerEnvironment env, Duration timeout, StoreServer server, StoreClient store,
                         Communicator communicator) {
        this.env = env;
        this.timeout = timeout;
        this.server = server;
        this.store = store;
        this.communicator = communicator;
    }

    /**
     * Joins the job described by {@code env}: starts the store on rank 0 (binding
     * {@code MASTER_ADDR:MASTER_PORT}), connects to it, then to the ring neighbours. {@code timeout}
     * bounds the whole rendezvous and is the no-progress limit of every later collective.
     *
     * @throws dev.tp4j.BadInputException rank 0's port is taken or the address is not usable
     * @throws CommunicationException     a rank did not show up in time, or a peer failed the handshake
     */
    public static ProcessGroup init(WorkerEnvironment env, Duration timeout) {
        return init(env, timeout, TransportChoice.fromSystem());
    }

    /**
     * As {@link #init(WorkerEnvironment, Duration)} with the transport chosen by the caller.
     *
     * @throws BadInputException also when {@code shm} is asked for and the ranks are on different hosts
     */
    public static ProcessGroup init(WorkerEnvironment env, Duration timeout, TransportChoice transport) {
        return init(env, timeout, transport, HostId.current());
    }

    /** As {@link #init(WorkerEnvironment, Duration, TransportChoice)}, this rank claiming to run on {@code hostId}. */
    static ProcessGroup init(WorkerEnvironment env, Duration timeout, TransportChoice transport, String hostId) {
        JobToken token = JobToken.of(env.jobToken());
        StoreServer server = null;
        StoreClient store = null;
        try {
            if (env.rank() == 0) {
                server = StoreServer.start(env.masterAddr(), env.masterPort(), token);
            }
            store = StoreClient.connect(env.masterAddr(), env.masterPort(), token, env.rank(), timeout);
            Communicator comm;
            if (useSharedMemory(store, env, transport, hostId, timeout)) {
                comm = ShmCommunicator.connect(store, ShmCommunicator.DEFAULT_KEY_PREFIX, env.rank(), env.worldSize(),
                        timeout);
            } else {
                // The address this rank reached the store from is one the other ranks can reach it on too.
                String advertisedHost = store.localAddress().getHostAddress();
                comm = TcpRingCommunicator.connect(store, token, env.rank(), env.worldSize(), advertisedHost, timeout);
            }
            return new ProcessGroup(env, timeout, server, store, comm);
        } catch (RuntimeException e) {
            if (store != null) {
                store.close();
            }
            if (server != null) {
                server.close();
            }
            throw e;
        }
    }

    /**
     * Whether the job's collectives go through shared memory: every rank publishes its {@link HostId}
     * and reads the others', so all ranks decide alike. With one rank there is nothing to share.
     */
    private static boolean useSharedMemory(StoreClient store, WorkerEnvironment env, TransportChoice transport,
                                           String mine, Duration timeout) {
        if (transport == TransportChoice.tcp || env.worldSize() == 1) {
            return false;
        }
        String prefix = "tp4j/host";
        store.set(RendezvousStore.rankKey(prefix, env.rank()), mine);
        for (int r = 0; r < env.worldSize(); r++) {
            String theirs = r == env.rank() ? mine : store.getString(RendezvousStore.rankKey(prefix, r), timeout);
            if (!theirs.equals(mine)) {
                if (transport == TransportChoice.shm) {
                    throw new BadInputException(TransportChoice.ENV + "=shm needs every rank on one host, but rank " + r
                            + " runs on " + hostName(theirs) + " and rank " + env.rank() + " on " + hostName(mine)
                            + " (use auto or tcp)");
                }
                return false;
            }
        }
        return true;
    }

    private static String hostName(String hostId) {
        int slash = hostId.indexOf('/');
        return slash < 0 ? hostId : hostId.substring(0, slash) + " (" + hostId.substring(slash + 1) + ")";
    }

    public int rank() {
        return env.rank();
    }

    public int worldSize() {
        return env.worldSize();
    }

    public int localRank() {
        return env.localRank();
    }

    public int localWorldSize() {
        return env.localWorldSize();
    }

    public WorkerEnvironment environment() {
        return env;
    }

    public RendezvousStore store() {
        return store;
    }

    public Communicator communicator() {
        return communicator;
    }

    /**
     * Leaves the job. Throws {@link CommunicationException} (after releasing everything) if some rank
     * never reached the closing barrier.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        CommunicationException failure = null;
        if (!communicator.failed() && env.worldSize() > 1) {
            try {
                StoreBarrier.await(store, "close", env.rank(), env.worldSize(), timeout);
            } catch (CommunicationException e) {
                failure = e;
            }
        }
        communicator.close();
        store.close();
        if (server != null) {
            // After a failure the others only need the store long enough to read the diagnosis.
            boolean healthy = failure == null && !communicator.failed();
            Duration linger = healthy ? timeout : min(timeout, FAILURE_LINGER);
            try {
                server.awaitClientsGone(linger);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                server.close();
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    @Override
    public String toString() {
        return "ProcessGroup(rank " + rank() + " of " + worldSize() + ", " + communicator.describe() + ")";
    }
}
