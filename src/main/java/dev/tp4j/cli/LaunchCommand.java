package dev.tp4j.cli;

import dev.tp4j.BadInputException;
import dev.tp4j.runtime.Backends;
import dev.tp4j.backend.cuda.CudaAvailability;
import dev.tp4j.runtime.BackendChoice;
import dev.tp4j.launch.HostCapacity;
import dev.tp4j.launch.Launcher;
import dev.tp4j.launch.LocalDevices;
import dev.tp4j.runtime.TransportChoice;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code tp4j launch [options] TASK [task options]}: one worker JVM per device on this node, each running
 * {@code tp4j TASK [task options]} with the worker environment of DESIGN.md (see {@link Launcher}).
 *
 * <p>Options end at TASK: everything after it is the task's. The task's options are checked here, once,
 * with the task's own picocli spec, so a mistyped flag fails in the launcher (exit 2) instead of in every
 * worker. {@code --backend} reaches the workers as the environment variable {@link BackendChoice#ENV}
 * ({@code TP4J_BACKEND}); without {@code --backend} the workers keep a {@code TP4J_BACKEND} already set,
 * else {@code auto}. {@code --debug} given to the launcher is passed on to the workers.
 */
@Command(name = "launch",
        description = {
            "Start one worker JVM per device on this node, each running TASK (torchrun-style).",
            "Launch options go before TASK; everything after TASK is passed to the task.",
        },
        footer = {
            "",
            "Workers get RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR,",
            "MASTER_PORT, TP4J_JOB_TOKEN (new per job unless already set; required",
            "with --nnodes > 1), TP4J_BACKEND, TP4J_TRANSPORT and OPENBLAS_NUM_THREADS (cores/workers",
            "unless already set). Worker lines are prefixed with [rank]. When a worker",
            "fails, the others are stopped and tp4j exits with that worker's status.",
        })
public final class LaunchCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--nproc-per-node", paramLabel = "N|auto", defaultValue = "auto",
            description = "Workers on this node: a number, or auto = one per visible CUDA device "
                    + "(1 without a GPU or with --backend cpu). Default: ${DEFAULT-VALUE}.")
    String nprocPerNode = "auto";

    @Option(names = "--nnodes", paramLabel = "M", defaultValue = "1",
            description = "Nodes in the job; each runs `tp4j launch` with its --node-rank. Default: ${DEFAULT-VALUE}.")
    int nnodes = 1;

    @Option(names = "--node-rank", paramLabel = "R", defaultValue = "0",
            description = "This node's index, 0..M-1. Default: ${DEFAULT-VALUE}.")
    int nodeRank;

    @Option(names = "--master-addr", paramLabel = "A",
            description = "Address of node 0 (rank 0's rendezvous). Default: 127.0.0.1 on one node; "
                    + "required with --nnodes > 1.")
    String masterAddr;

    @Option(names = "--master-port", paramLabel = "P",
            description = "Rendezvous port. Default: a free port on one node, 29500 with --nnodes > 1.")
    Integer masterPort;

    @Option(names = "--backend", paramLabel = "auto|cpu|cuda",
            description = "Compute backend of the workers (passed as TP4J_BACKEND). "
                    + "Default: TP4J_BACKEND if set, else auto.")
    BackendChoice backend;

    @Option(names = "--transport", paramLabel = "auto|shm|tcp|hierarchical|nccl",
            description = "How the workers' collectives travel (passed as TP4J_TRANSPORT): nccl between GPUs (one "
                    + "rank per GPU), shm (shared memory, ranks on one host), tcp (one flat ring, anywhere), "
                    + "hierarchical (shm inside each host, the tcp ring between one leader per host). GPU ranks "
                    + "over shm or tcp stage through host memory, so several can share one GPU. auto: nccl when every "
                    + "rank has its own GPU, else shm on one host, else hierarchical when a host holds several ranks, "
                    + "else tcp. Default: TP4J_TRANSPORT if set, else auto.")
    TransportChoice transport;

    /** The option this one replaced: a one-line pointer to {@code --transport} instead of "unknown option". */
    @Option(names = "--comm", hidden = true, paramLabel = "X")
    void replacedCommOption(String value) {
        throw new ParameterException(spec.commandLine(), "--comm was replaced by --transport auto|shm|tcp|hierarchical|nccl "
                + "(--comm " + value + " is --transport " + value + ")");
    }

    @Option(names = "--oversubscribe", description = "Start --nproc-per-node workers even when this host cannot "
            + "hold them: more than 4 CPU ranks per core, or more worker JVMs (200 MiB each) than the available "
            + "memory (the container's cgroup limit included). Without it such a count exits 2 naming the limit.")
    boolean oversubscribe;

    @Option(names = "--tf32", description = "Let cuBLAS use TF32 tensor cores for fp32 GEMMs (CUDA ranks; "
            + "passed as TP4J_TF32=1). Faster, with a 10-bit mantissa in the products.")
    boolean tf32;

    @Parameters(index = "0", paramLabel = "TASK", description = "The task every worker runs (see tp4j --help).")
    String task;

    @Parameters(index = "1..*", paramLabel = "TASK_OPTION", description = "Options of the task.")
    List<String> taskArgs = new ArrayList<>();

    @Override
    public Integer call() throws InterruptedException {
        CommandLine self = spec.commandLine();
        // 1. The task and its options, checked once here.
        ParseResult taskParse = checkTask(self);
        if (taskParse.isUsageHelpRequested() || taskParse.isVersionHelpRequested()) {
            CommandLine taskCl = taskParse.commandSpec().commandLine();
            if (taskParse.isUsageHelpRequested()) {
                taskCl.usage(self.getOut());
            } else {
                taskCl.printVersionHelp(self.getOut());
            }
            return Main.EXIT_OK;
        }
        // 2. The launch options.
        if (masterPort != null && (masterPort < 1 || masterPort > 65535)) {
            throw new BadInputException("--master-port " + masterPort + " is outside 1..65535");
        }
        BackendChoice asked = backend != null ? backend : BackendChoice.fromSystem();
        TransportChoice transportAsked = transport != null ? transport : TransportChoice.fromSystem();
        // Refuse here, once, what every worker would refuse (--backend cuda or --transport nccl without a
        // usable GPU or NCCL, shm across nodes). The workers resolve auto themselves, together, and rank 0
        // prints the notice of a CPU fallback.
        Backends.Selection selection = asked == BackendChoice.cpu
                ? Backends.select(asked, null) : Backends.select(asked, CudaAvailability.get());
        BackendChoice chosen = selection.resolved();
        int nproc = procsPerNode(chosen);
        if (!oversubscribe) {
            HostCapacity.ofThisHost().check(nproc, chosen == BackendChoice.cpu);
        }
        if (taskParse.commandSpec().userObject() instanceof Preflight files) {
            files.preflight(nproc * nnodes, chosen == BackendChoice.cuda); // bad input: one line from here, not one per worker
        }
        transportAsked.checkBeforeLaunch(chosen,
                chosen == BackendChoice.cuda || transportAsked == TransportChoice.nccl ? CudaAvailability.get() : null,
                nproc, nnodes);
        Map<String, String> workerEnv = workerEnvironment(asked);
        workerEnv.put(TransportChoice.ENV, transportAsked.name());
        if (tf32) {
            workerEnv.put(Backends.TF32_ENV, "1");
        }

        List<String> workerArgs = new ArrayList<>();
        if (Main.isDebug(self)) {
            workerArgs.add("--debug");
        }
        workerArgs.add(task);
        workerArgs.addAll(taskArgs);

        Launcher launcher = Launcher.builder()
                .nprocPerNode(nproc)
                .nodes(nnodes, nodeRank)
                .masterAddr(masterAddr)
                .masterPort(masterPort == null ? 0 : masterPort)
                .command(Main.class.getName(), workerArgs)
                .jvmOptions(Launcher.inheritedJvmOptions())
                .extraEnvironment(workerEnv)
                .build();
        return launcher.run();
    }

    /** Variables for every worker: the backend as asked (workers resolve auto), and whether a person watches (progress bars). */
    private static Map<String, String> workerEnvironment(BackendChoice chosen) {
        Map<String, String> env = new java.util.HashMap<>();
        env.put(BackendChoice.ENV, chosen.name());
        if (System.getenv(Terminal.ENV) == null && Terminal.isInteractive()) {
            env.put(Terminal.ENV, "1");
        }
        return env;
    }

    private int procsPerNode(BackendChoice chosen) {
        if (!"auto".equalsIgnoreCase(nprocPerNode.trim())) {
            int n;
            try {
                n = Integer.parseInt(nprocPerNode.trim());
            } catch (NumberFormatException e) {
                throw new BadInputException("--nproc-per-node '" + nprocPerNode + "' is neither a number nor auto");
            }
            if (n < 1) {
                throw new BadInputException("--nproc-per-node must be at least 1, got " + n);
            }
            return n;
        }
        int n = chosen == BackendChoice.cuda ? CudaAvailability.get().devices().size()
                : LocalDevices.autoProcsPerNode(chosen);
        if (n < 1) {
            throw new BadInputException("--nproc-per-node auto with --backend " + chosen
                    + ": no CUDA device is visible (CUDA_VISIBLE_DEVICES, /dev/nvidia*)");
        }
        return n;
    }

    /** Parses the task's options with the task's own spec (a fresh instance); ParameterException on a bad one. */
    private ParseResult checkTask(CommandLine self) {
        List<String> tasks = taskNames(spec);
        if (!tasks.contains(task)) {
            throw new ParameterException(self, "unknown task '" + task + "' (tasks: " + String.join(", ", tasks) + ")");
        }
        CommandLine fresh = Main.commandLine(self.getOut(), self.getErr());
        List<String> args = new ArrayList<>();
        args.add(task);
        args.addAll(taskArgs);
        try {
            return fresh.parseArgs(args.toArray(String[]::new)).subcommand();
        } catch (ParameterException e) {
            List<String> unmatched = e instanceof CommandLine.UnmatchedArgumentException u ? u.getUnmatched()
                    : e.getCommandLine().getParseResult() == null ? List.of()
                    : e.getCommandLine().getParseResult().unmatched();
            for (String arg : unmatched) {
                String name = arg.contains("=") ? arg.substring(0, arg.indexOf('=')) : arg;
                if (spec.findOption(name) != null) {
                    throw new ParameterException(self, task + ": unknown option '" + name + "': " + name
                            + " is a launch option, put it before " + task, e);
                }
            }
            throw new ParameterException(self, task + ": " + Main.usageMessage(e), e);
        }
    }

    /** The tasks `tp4j launch` can start: every subcommand of the root but the launcher commands. */
    static List<String> taskNames(CommandSpec any) {
        List<String> names = new ArrayList<>();
        for (String name : any.root().subcommands().keySet()) {
            if (!Main.LAUNCHER_COMMANDS.contains(name)) {
                names.add(name);
            }
        }
        return names;
    }
}
