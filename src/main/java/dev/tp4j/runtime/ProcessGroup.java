package dev.tp4j.runtime;

import dev.tp4j.BadInputException;
import dev.tp4j.CommunicationException;
import dev.tp4j.backend.Backend;
import dev.tp4j.backend.cuda.CudaAvailability;
import dev.tp4j.backend.cuda.CudaBackend;
import dev.tp4j.backend.cuda.CudaDeviceInfo;
import dev.tp4j.comm.Communicator;
import dev.tp4j.comm.HostStagedCommunicator;
import dev.tp4j.comm.hierarchical.HierarchicalCommunicator;
import dev.tp4j.comm.hierarchical.NodeLayout;
import dev.tp4j.comm.nccl.NcclCommunicator;
import dev.tp4j.comm.shm.ShmCommunicator;
import dev.tp4j.comm.tcp.TcpRingCommunicator;
import dev.tp4j.rendezvous.HostId;
import dev.tp4j.rendezvous.RendezvousStore;
import dev.tp4j.rendezvous.StoreBarrier;
import dev.tp4j.rendezvous.auth.JobToken;
import dev.tp4j.rendezvous.store.StoreClient;
import dev.tp4j.rendezvous.store.StoreServer;
import java.time.Duration;

/**
 * This worker's membership in the job: rank 0 hosts the rendezvous store, every rank (rank 0 too)
 * connects to it as a client, the ranks agree on one transport ({@link TransportAgreement}) and connect
 * exactly one {@link Communicator} over it: NCCL, shared memory, the TCP ring, or shared memory inside
 * each host with the ring between hosts (device tensors staged through host memory when GPU ranks use
 * one of the last three).
 *
 * <p>{@link #close()} waits at a store barrier before anyone tears down (so no rank pulls a link from
 * under a peer that is still finishing), and rank 0 keeps the store up until the other ranks have
 * left it. After a failed collective of that communicator the barrier is skipped: the job is already
 * failing, and waiting for a lost rank would only delay the report.
 */
public final class ProcessGroup implements AutoCloseable {
    private static final Duration FAILURE_LINGER = Duration.ofSeconds(2);

    private final WorkerEnvironment env;
    private final Duration timeout;
    private final StoreServer server;
    private final StoreClient store;
    private final TransportChoice transport;
    private final Communicator communicator;
    private boolean closed;

    private ProcessGroup(WorkerEnvironment env, Duration timeout, StoreServer server, StoreClient store,
                         TransportChoice transport, Communicator communicator) {
        this.env = env;
        this.timeout = timeout;
        this.server = server;
        this.store = store;
        this.transport = transport;
        this.communicator = communicator;
    }

    /**
     * Joins the job described by {@code env} with ranks computing on {@code backend}: starts the store on
     * rank 0 (binding {@code MASTER_ADDR:MASTER_PORT}), connects to it, agrees on the transport with the
     * other ranks and connects over it. {@code timeout} bounds the whole rendezvous and is the
     * no-progress limit of every later collective.
     *
     * @throws BadInputException      rank 0's port is taken or the address is not usable; the asked transport
     *                                cannot serve these ranks
     * @throws CommunicationException a rank did not show up in time, or a peer failed the handshake
     */
    public static ProcessGroup join(WorkerEnvironment env, Duration timeout, TransportChoice asked, Backend backend) {
        RankFacts mine;
        if (backend instanceof CudaBackend) {
            CudaAvailability cuda = CudaAvailability.get();
            mine = new RankFacts(HostId.current(), TransportChoice.ncclProblemOfOneRank(BackendChoice.cuda, cuda),
                    gpuIdentity(Backends.deviceFor(env.localRank(), cuda)));
        } else {
            mine = new RankFacts(HostId.current(), TransportChoice.ncclProblemOfOneRank(BackendChoice.cpu, null));
        }
        return join(env, timeout, asked, backend, mine);
    }

    /**
     * The GPU a rank computes on, as the ranks compare it: its UUID, or where the runtime gave none its
     * index, which two ranks with different {@code CUDA_VISIBLE_DEVICES} may share without sharing the GPU
     * (then NCCL is refused where it might have worked, never allowed where it cannot).
     */
    static String gpuIdentity(CudaDeviceInfo device) {
        return device.uuid() != null ? device.uuid() : "cuda:" + device.index();
    }

    /** CPU ranks on host tensors, the transport from {@value TransportChoice#ENV}: tests and tools. */
    public static ProcessGroup init(WorkerEnvironment env, Duration timeout) {
        return init(env, timeout, TransportChoice.fromSystem());
    }

    /** CPU ranks on host tensors over {@code transport}. */
    public static ProcessGroup init(WorkerEnvironment env, Duration timeout, TransportChoice transport) {
        return init(env, timeout, transport, HostId.current());
    }

    /** As {@link #init(WorkerEnvironment, Duration, TransportChoice)}, this rank claiming to run on {@code hostId}. */
    static ProcessGroup init(WorkerEnvironment env, Duration timeout, TransportChoice transport, String hostId) {
        return join(env, timeout, transport, null,
                new RankFacts(hostId, TransportChoice.ncclProblem(BackendChoice.cpu, null, env.localWorldSize())));
    }

    /** @param backend the ranks' backend, or null for host tensors only */
    private static ProcessGroup join(WorkerEnvironment env, Duration timeout, TransportChoice asked, Backend backend,
                                     RankFacts mine) {
        JobToken token = JobToken.of(env.jobToken());
        StoreServer server = null;
        StoreClient store = null;
        try {
            if (env.rank() == 0) {
                server = StoreServer.start(env.masterAddr(), env.masterPort(), token);
            }
            store = StoreClient.connect(env.masterAddr(), env.masterPort(), token, env.rank(), timeout);
            TransportAgreement.Agreement agreed = TransportAgreement.agree(store, env.rank(), env.worldSize(), asked, mine,
                    timeout);
            Communicator comm = connect(agreed, store, token, env, backend, timeout);
            return new ProcessGroup(env, timeout, server, store, agreed.transport(), comm);
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

    /** The one communicator of this worker over the agreed transport (never {@code auto}). */
    private static Communicator connect(TransportAgreement.Agreement agreed, StoreClient store, JobToken token,
                                        WorkerEnvironment env, Backend backend, Duration timeout) {
        Communicator host;
        switch (agreed.transport()) {
            case nccl:
                return NcclCommunicator.create(store, env.rank(), env.worldSize(), (CudaBackend) backend, timeout);
            case shm:
                host = ShmCommunicator.connect(store, ShmCommunicator.DEFAULT_KEY_PREFIX, env.rank(), env.worldSize(),
                        timeout);
                break;
            case tcp:
                // The address this rank reached the store from is one the other ranks can reach it on too.
                host = TcpRingCommunicator.connect(store, token, env.rank(), env.worldSize(),
                        store.localAddress().getHostAddress(), timeout);
                break;
            case hierarchical:
                // Each node's leader binds the ring where it reached the store, as the flat ring's ranks do.
                host = HierarchicalCommunicator.connect(store, token, HierarchicalCommunicator.DEFAULT_KEY_PREFIX,
                        env.rank(), NodeLayout.of(agreed.hostIds()), store.localAddress().getHostAddress(), timeout);
                break;
            default:
                throw new IllegalStateException("transport not agreed: " + agreed.transport());
        }
        return backend == null || backend.device().isCpu() ? host : new HostStagedCommunicator(host, backend);
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

    /** The transport the ranks agreed on: shm, tcp or nccl. */
    public TransportChoice transport() {
        return transport;
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
