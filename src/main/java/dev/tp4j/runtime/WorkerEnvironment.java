package dev.tp4j.runtime;

import dev.tp4j.BadInputException;
import java.util.Map;

/**
 * Who this worker is in the job, read from the environment a launcher set; with no launcher's variables,
 * one rank alone.
 *
 * <p>Launchers nest (Slurm allocates, mpirun or srun starts tasks, torchrun or {@code tp4j launch} may start
 * workers inside a task), and a worker inherits every outer launcher's variables as well as its own. So the
 * innermost launcher's variables decide, in this order: torchrun's names ({@code RANK}, {@code WORLD_SIZE},
 * ...: torchrun, {@code tp4j launch}, or set by hand), then Open MPI's ({@code OMPI_COMM_WORLD_*}: mpirun
 * runs inside Slurm allocations, never the reverse, so a rank of mpirun in a batch script still carries the
 * script's {@code SLURM_PROCID=0}), then a Slurm job step's ({@code SLURM_PROCID}, {@code SLURM_NTASKS},
 * {@code SLURM_LOCALID}, only with {@code SLURM_STEP_ID}: a batch script's own process is no task of a step).
 *
 * <p>Contradictions are bad input naming the variables: inside one launcher's set (a rank not below the
 * world size, a local rank not below the local world size), and torchrun's names contradicting the
 * Open MPI or Slurm task they run in (a smaller world, or the same world with another rank), unless a
 * launcher marked them as its own workers ({@link #NESTED_LAUNCHER_MARKERS}). An environment that cannot work is refused too: ranks on several
 * hosts with no {@code MASTER_ADDR} (except under Slurm, where it is derived, as below).
 *
 * <p>Under a Slurm step without {@code MASTER_ADDR}/{@code MASTER_PORT}, as torch.distributed's Slurm
 * setups do: the first host of {@code SLURM_STEP_NODELIST} (else {@code SLURM_JOB_NODELIST}) and port
 * {@code 15000 + 10 × (SLURM_JOB_ID mod 1000) + (SLURM_STEP_ID mod 10)}, so two jobs or two steps sharing a
 * node do not meet at one port.
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
    /** The first port derived for a Slurm step; see the class comment. */
    public static final int SLURM_PORT_BASE = 15000;
    /**
     * Variables by which a launcher marks the workers it started: torchrun's, and {@code tp4j launch}'s
     * watchdog variable. With one of them, torchrun's names describe a job inside an outer task.
     */
    static final String NESTED_LAUNCHER_MARKERS = "TORCHELASTIC_RUN_ID or TP4J_LAUNCHER_PID";

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
        String token = env.get("TP4J_JOB_TOKEN");
        RankClaim torchrun = torchrun(env);
        RankClaim openmpi = openMpi(env);
        RankClaim slurm = slurmStep(env);
        RankClaim outer = openmpi != null ? openmpi : slurm;
        RankClaim mine = torchrun != null ? torchrun : outer;
        if (torchrun != null && outer != null && !isNested(env)) {
            torchrun.mustAgreeWith(outer);
        }
        String addr = env.get("MASTER_ADDR");
        Integer port = isBlank(env.get("MASTER_PORT")) ? null : intVar(env, "MASTER_PORT", 0);
        if (mine == null) {
            return new WorkerEnvironment(0, 1, 0, 1, orDefault(addr), port == null ? DEFAULT_MASTER_PORT : port, token,
                    "single");
        }
        if (mine == slurm) {
            addr = isBlank(addr) ? slurmFirstHost(env) : addr;
            port = port == null ? slurmPort(env) : port;
        } else if (isBlank(addr) && mine.localWorldSize() < mine.worldSize()) {
            throw new BadEnvironmentException("MASTER_ADDR is not set, but only " + mine.localWorldText() + " of "
                    + mine.worldVar() + "=" + mine.worldSize() + " ranks run on this host: set it to rank 0's host"
                    + " on every host" + ("openmpi".equals(mine.source()) ? " (mpirun -x MASTER_ADDR)" : ""));
        }
        return new WorkerEnvironment(mine.rank(), mine.worldSize(), mine.localRank(), mine.localWorldSize(),
                orDefault(addr), port == null ? DEFAULT_MASTER_PORT : port, token, mine.source());
    }

    /** torchrun's names, or null when neither RANK nor WORLD_SIZE is set. */
    private static RankClaim torchrun(Map<String, String> env) {
        boolean hasRank = !isBlank(env.get("RANK"));
        boolean hasWorld = !isBlank(env.get("WORLD_SIZE"));
        if (!hasRank && !hasWorld) {
            return null;
        }
        int world = intVar(env, "WORLD_SIZE", 1);
        int rank = intVar(env, "RANK", 0);
        // One of the pair alone is a half-configured environment, unless it can only mean rank 0 of 1.
        if (!hasWorld && rank != 0) {
            throw new BadEnvironmentException("RANK=" + rank + " is set but WORLD_SIZE is not");
        }
        if (!hasRank && world != 1) {
            throw new BadEnvironmentException("WORLD_SIZE=" + world + " is set but RANK is not");
        }
        int localWorld = intVar(env, "LOCAL_WORLD_SIZE", world);
        boolean hasLocalRank = !isBlank(env.get("LOCAL_RANK"));
        int localRank = intVar(env, "LOCAL_RANK", Math.floorMod(rank, Math.max(localWorld, 1)));
        return new RankClaim("torchrun", "RANK", rank, "WORLD_SIZE", world, hasLocalRank ? "LOCAL_RANK" : null,
                localRank, "LOCAL_WORLD_SIZE=" + localWorld, localWorld).consistent();
    }

    /** Open MPI's names (mpirun sets all four for every rank it starts), or null without them. */
    private static RankClaim openMpi(Map<String, String> env) {
        if (isBlank(env.get("OMPI_COMM_WORLD_RANK"))) {
            return null;
        }
        int world = required(env, "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK");
        int rank = intVar(env, "OMPI_COMM_WORLD_RANK", 0);
        int localRank = required(env, "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_RANK");
        int localWorld = required(env, "OMPI_COMM_WORLD_LOCAL_SIZE", "OMPI_COMM_WORLD_RANK");
        return new RankClaim("openmpi", "OMPI_COMM_WORLD_RANK", rank, "OMPI_COMM_WORLD_SIZE", world,
                "OMPI_COMM_WORLD_LOCAL_RANK", localRank, "OMPI_COMM_WORLD_LOCAL_SIZE=" + localWorld, localWorld)
                .consistent();
    }

    /** A Slurm job step's task (srun sets SLURM_STEP_ID for its tasks; a batch script has none), or null. */
    private static RankClaim slurmStep(Map<String, String> env) {
        if (isBlank(env.get("SLURM_PROCID")) || isBlank(env.get("SLURM_STEP_ID"))) {
            return null;
        }
        int world = required(env, "SLURM_NTASKS", "SLURM_PROCID");
        int rank = intVar(env, "SLURM_PROCID", 0);
        int localRank = required(env, "SLURM_LOCALID", "SLURM_PROCID");
        String perNodeVar = isBlank(env.get("SLURM_STEP_TASKS_PER_NODE")) ? "SLURM_TASKS_PER_NODE"
                : "SLURM_STEP_TASKS_PER_NODE";
        String perNode = env.get(perNodeVar);
        if (isBlank(perNode)) {
            // Without the layout, all tasks are taken to share this node.
            return new RankClaim("slurm", "SLURM_PROCID", rank, "SLURM_NTASKS", world, "SLURM_LOCALID", localRank,
                    "SLURM_NTASKS=" + world, world).consistent();
        }
        int node = intVar(env, "SLURM_NODEID", 0);
        int localWorld = SlurmNodeLists.tasksOnNode(perNodeVar, perNode, node);
        return new RankClaim("slurm", "SLURM_PROCID", rank, "SLURM_NTASKS", world, "SLURM_LOCALID", localRank,
                perNodeVar + "='" + perNode + "' (" + localWorld + " on SLURM_NODEID=" + node + ")", localWorld)
                .consistent();
    }

    private static String slurmFirstHost(Map<String, String> env) {
        for (String name : new String[] {"SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST", "SLURM_NODELIST"}) {
            String list = env.get(name);
            if (!isBlank(list)) {
                return SlurmNodeLists.firstHost(name, list.trim());
            }
        }
        return DEFAULT_MASTER_ADDR;
    }

    private static int slurmPort(Map<String, String> env) {
        int job = intVar(env, "SLURM_JOB_ID", 0);
        int step = intVar(env, "SLURM_STEP_ID", 0);
        return SLURM_PORT_BASE + 10 * Math.floorMod(job, 1000) + Math.floorMod(step, 10);
    }

    private static boolean isNested(Map<String, String> env) {
        return !isBlank(env.get("TORCHELASTIC_RUN_ID")) || !isBlank(env.get("TP4J_LAUNCHER_PID"));
    }

    /** A variable a launcher always sets along with {@code setBy}: its absence means a hand-made environment. */
    private static int required(Map<String, String> env, String name, String setBy) {
        if (isBlank(env.get(name))) {
            throw new BadEnvironmentException(setBy + " is set but " + name + " is not");
        }
        return intVar(env, name, 0);
    }

    private static String orDefault(String addr) {
        return isBlank(addr) ? DEFAULT_MASTER_ADDR : addr.trim();
    }

    private static boolean isBlank(String v) {
        return v == null || v.isBlank();
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
