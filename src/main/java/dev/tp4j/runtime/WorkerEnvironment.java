package dev.tp4j.runtime;

import dev.tp4j.BadInputException;
import java.util.Map;

/**
 * Who this worker is in the job, read from the environment a launcher set: torchrun's variables
 * first, then Slurm's, then Open MPI's; with none of them, one rank alone.
 *
 * @param rank           global rank, 0 ≤ rank < worldSize
 * @param worldSize      number of ranks in the job
 * @param localRank      rank among the workers on this host (selects the GPU)
 * @param localWorldSize workers on this host (divides the CPU cores)
 * @param masterAddr     host of rank 0's rendezvous store
 * @param masterPort     port of the store
 * @param jobToken       the job's shared secret, or null when none was given
 * @param source         which convention supplied the values ("torchrun", "slurm", "openmpi", "single")
 */
public record WorkerEnvironment(int rank, int worldSize, int localRank, int localWorldSize,
                                String masterAddr, int masterPort, String jobToken, String source) {

    public static final String DEFAULT_MASTER_ADDR = "127.0.0.1";
    public static final int DEFAULT_MASTER_PORT = 29500;

    public WorkerEnvironment {
        if (worldSize < 1) {
            throw new BadEnvironmentException("WORLD_SIZE must be >= 1, got " + worldSize);
        }
        if (rank < 0 || rank >= worldSize) {
            throw new BadEnvironmentException("RANK " + rank + " is outside 0.." + (worldSize - 1));
        }
        if (localWorldSize < 1 || localRank < 0 || localRank >= localWorldSize) {
            throw new BadEnvironmentException("LOCAL_RANK " + localRank + " is outside 0.." + (localWorldSize - 1));
        }
        if (masterPort < 0 || masterPort > 65535) {
            throw new BadEnvironmentException("MASTER_PORT " + masterPort + " is not a TCP port");
        }
    }

    public static WorkerEnvironment fromSystem() {
        return from(System.getenv());
    }

    /** Reads the contract from {@code env}; throws {@link BadEnvironmentException} naming a bad variable. */
    public static WorkerEnvironment from(Map<String, String> env) {
        String addr = env.getOrDefault("MASTER_ADDR", DEFAULT_MASTER_ADDR);
        int port = intVar(env, "MASTER_PORT", DEFAULT_MASTER_PORT);
        String token = env.get("TP4J_JOB_TOKEN");
        if (env.containsKey("RANK") || env.containsKey("WORLD_SIZE")) {
            int world = intVar(env, "WORLD_SIZE", 1);
            int rank = intVar(env, "RANK", 0);
            int localWorld = intVar(env, "LOCAL_WORLD_SIZE", world);
            int localRank = intVar(env, "LOCAL_RANK", rank % localWorld);
            return new WorkerEnvironment(rank, world, localRank, localWorld, addr, port, token, "torchrun");
        }
        if (env.containsKey("SLURM_PROCID")) {
            int world = intVar(env, "SLURM_NTASKS", 1);
            int rank = intVar(env, "SLURM_PROCID", 0);
            int localRank = intVar(env, "SLURM_LOCALID", 0);
            int localWorld = localWorldFromSlurm(env, world);
            return new WorkerEnvironment(rank, world, localRank, localWorld, addr, port, token, "slurm");
        }
        if (env.containsKey("OMPI_COMM_WORLD_RANK")) {
            int world = intVar(env, "OMPI_COMM_WORLD_SIZE", 1);
            int rank = intVar(env, "OMPI_COMM_WORLD_RANK", 0);
            int localRank = intVar(env, "OMPI_COMM_WORLD_LOCAL_RANK", 0);
            int localWorld = intVar(env, "OMPI_COMM_WORLD_LOCAL_SIZE", world);
            return new WorkerEnvironment(rank, world, localRank, localWorld, addr, port, token, "openmpi");
        }
        return new WorkerEnvironment(0, 1, 0, 1, addr, port, token, "single");
    }

    /**
     * Slurm gives tasks per node as e.g. "4" or "4(x2),3"; SLURM_NTASKS_PER_NODE when set by --ntasks-per-node.
     * Without either, assume all tasks share the node.
     */
    private static int localWorldFromSlurm(Map<String, String> env, int world) {
        String perNode = env.get("SLURM_NTASKS_PER_NODE");
        if (perNode == null) {
            perNode = env.get("SLURM_TASKS_PER_NODE");
        }
        if (perNode == null || perNode.isBlank()) {
            return world;
        }
        String first = perNode.split("[(,]")[0].trim();
        try {
            return Integer.parseInt(first);
        } catch (NumberFormatException e) {
            throw new BadEnvironmentException("SLURM_TASKS_PER_NODE '" + perNode + "' is not understood");
        }
    }

    private static int intVar(Map<String, String> env, String name, int fallback) {
        String v = env.get(name);
        if (v == null || v.isBlank()) {
            return fallback;
        }
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new BadEnvironmentException(name + "='" + v + "' is not an integer");
        }
    }

    /** A worker-environment variable that is malformed or inconsistent: bad input, exit 2. */
    public static final class BadEnvironmentException extends BadInputException {
        private static final long serialVersionUID = 1L;

        public BadEnvironmentException(String message) {
            super(message);
        }
    }
}
