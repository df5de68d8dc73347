package dev.tp4j.runtime;

import dev.tp4j.BadInputException;
import dev.tp4j.backend.cuda.CudaAvailability;
import java.util.Map;

/**
 * Which transport carries a worker's collectives ({@code --comm auto|nccl|tcp}, environment variable
 * {@value #ENV}). CPU ranks always use the TCP ring. CUDA ranks use NCCL, or the TCP ring with device
 * tensors staged through host memory — the only way several ranks can share one GPU (NCCL refuses that).
 */
public enum CommChoice {
    auto, nccl, tcp;

    public static final String ENV = "TP4J_COMM";

    public static CommChoice fromEnvironment(Map<String, String> env) {
        return EnvironmentChoice.parse(env, ENV, CommChoice.class, auto);
    }

    public static CommChoice fromSystem() {
        return fromEnvironment(System.getenv());
    }

    /**
     * The transport for ranks on {@code backend} (already resolved: cpu or cuda) with {@code localRanks}
     * ranks on this host. {@code auto} is NCCL when NCCL loads and every local rank has a GPU of its own,
     * else TCP. {@code nccl} where it cannot run is bad input (exit 2) saying why.
     */
    public static CommChoice resolve(CommChoice choice, BackendChoice backend, CudaAvailability cuda, int localRanks) {
        if (backend != BackendChoice.cuda) {
            if (choice == nccl) {
                throw new BadInputException("--comm nccl needs CUDA ranks, but the ranks run on CPU"
                        + (cuda != null && cuda.reason() != null ? " (" + cuda.reason() + ")" : "")
                        + "; use --comm tcp or auto");
            }
            return tcp;
        }
        if (choice == tcp) {
            return tcp;
        }
        String problem = null;
        if (!cuda.ncclUsable()) {
            problem = cuda.ncclReason();
        } else if (localRanks > cuda.devices().size()) {
            problem = localRanks + " ranks on this host but " + cuda.devices().size() + " GPU"
                    + (cuda.devices().size() == 1 ? "" : "s") + ": NCCL refuses two ranks on one GPU";
        }
        if (problem == null) {
            return nccl;
        }
        if (choice == nccl) {
            throw new BadInputException("--comm nccl: " + problem + "; use --comm tcp (staged through host memory)");
        }
        return tcp;
    }

    /** {@link #resolve} for its refusal only; the launcher calls it before starting any worker. */
    public static void check(CommChoice choice, BackendChoice backend, CudaAvailability cuda, int localRanks) {
        if (backend == BackendChoice.cuda || choice == nccl) {
            resolve(choice, backend, cuda, localRanks);
        }
    }
}
