package dev.tp4j.runtime;

import dev.tp4j.BadInputException;
import dev.tp4j.backend.cuda.CudaAvailability;
import java.util.Map;

/**
 * How a worker's collectives travel ({@code launch --transport}, environment variable {@value #ENV}):
 * <ul>
 *   <li>{@code nccl}: NCCL between GPUs, one rank per GPU;</li>
 *   <li>{@code shm}: shared memory between the ranks of one host (refused when they are on several);</li>
 *   <li>{@code tcp}: the TCP ring, between any ranks (flat: every rank on the ring, whatever its host);</li>
 *   <li>{@code hierarchical}: shared memory inside each host and the TCP ring between one leader per host
 *       ({@link dev.tp4j.comm.hierarchical.HierarchicalCommunicator});</li>
 *   <li>{@code auto}: NCCL when every rank has a GPU of its own, else shared memory when every rank is on
 *       one host, else hierarchical when some host holds more than one rank, else TCP. Decided by all
 *       ranks together at the rendezvous ({@link TransportAgreement}).</li>
 * </ul>
 * GPU ranks over shm or TCP stage their device tensors through host memory: the only way several ranks
 * can share one GPU (NCCL refuses that).
 */
public enum TransportChoice {
    auto, shm, tcp, hierarchical, nccl;

    /** The environment variable that carries the choice to a worker. */
    public static final String ENV = "TP4J_TRANSPORT";

    /** The choice in {@code env}, {@link #auto} when unset or blank; a value not understood is bad input. */
    public static TransportChoice fromEnvironment(Map<String, String> env) {
        return EnvironmentChoice.parse(env, ENV, TransportChoice.class, auto);
    }

    public static TransportChoice fromSystem() {
        return fromEnvironment(System.getenv());
    }

    /**
     * Why this host's ranks cannot use NCCL, or null when they can: they compute on {@code backend}
     * (resolved: cpu or cuda) with {@code localRanks} of them on this host. The launcher's check, which sees
     * every GPU of the host; a worker may see only its own ({@link #ncclProblemOfOneRank}).
     */
    public static String ncclProblem(BackendChoice backend, CudaAvailability cuda, int localRanks) {
        if (backend != BackendChoice.cuda) {
            return "the ranks run on CPU" + (cuda != null && cuda.reason() != null ? " (" + cuda.reason() + ")" : "");
        }
        if (!cuda.ncclUsable()) {
            return cuda.ncclReason();
        }
        if (localRanks > cuda.devices().size()) {
            return localRanks + " ranks on this host but " + cuda.devices().size() + " GPU"
                    + (cuda.devices().size() == 1 ? "" : "s") + ": NCCL refuses two ranks on one GPU";
        }
        return null;
    }

    /**
     * Why this one rank cannot use NCCL, or null when it can. Not whether its host's ranks outnumber the GPUs
     * it sees: under {@code srun --gpus-per-task=1} each rank sees one GPU, its own, and the ranks compare
     * their GPUs' UUIDs at the rendezvous instead ({@link TransportAgreement}).
     */
    public static String ncclProblemOfOneRank(BackendChoice backend, CudaAvailability cuda) {
        return ncclProblem(backend, cuda, 1);
    }

    /**
     * What the launcher refuses before starting any worker, in one line: {@code nccl} where this host's
     * ranks cannot use it, {@code shm} across several nodes. Everything else is decided by the workers.
     */
    public void checkBeforeLaunch(BackendChoice backend, CudaAvailability cuda, int localRanks, int nodes) {
        if (this == nccl) {
            String problem = ncclProblem(backend, cuda, localRanks);
            if (problem != null) {
                throw new BadInputException("--transport nccl: " + problem + "; use --transport auto, shm or tcp");
            }
        }
        if (this == shm && nodes > 1) {
            throw new BadInputException("--transport shm needs every rank on one host, but the job spans " + nodes
                    + " nodes; use --transport auto, hierarchical or tcp");
        }
    }
}
