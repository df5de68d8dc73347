package dev.tp4j.launch;

import dev.tp4j.runtime.BackendChoice;
import dev.tp4j.runtime.WorkerEnvironment;
import dev.tp4j.BadInputException;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Starts one worker JVM per local rank and supervises them, like {@code torchrun} does for Python:
 * {@code <this java> <jvm options> -cp <classpath> <main class> <args...>}, each with the worker
 * environment of DESIGN.md ({@code RANK}, {@code WORLD_SIZE}, {@code LOCAL_RANK}, {@code LOCAL_WORLD_SIZE},
 * {@code MASTER_ADDR}, {@code MASTER_PORT}, {@code TP4J_JOB_TOKEN}) plus {@code TP4J_LAUNCHER_PID} (watched
 * by {@link LauncherWatchdog}) and {@code OPENBLAS_NUM_THREADS}.
 *
 * <p>Every worker line is copied to this process's stdout/stderr prefixed with {@code "[rank] "}. Workers
 * are supervised from the first one started: when a worker exits non-zero, even while others are still
 * being started, the launcher names it in one line, starts no more, stops the others (SIGTERM, then
 * SIGKILL after the grace period) and {@link #run()} returns that worker's status; when all exit 0 it
 * returns 0. A shutdown hook stops the starting and the workers when the launcher itself is interrupted
 * (Ctrl-C, SIGTERM). No worker is left running on any path. Whether the host can hold the workers is
 * {@link HostCapacity}'s question, asked before the launcher is built.
 */
public final class Launcher {

    /** The job's shared secret (64 hex digits); generated per job unless the environment already has one. */
    public static final String ENV_JOB_TOKEN = "TP4J_JOB_TOKEN";
    /** The launcher's pid, so that a worker can stop itself when the launcher is gone. */
    public static final String ENV_LAUNCHER_PID = LauncherWatchdog.ENV;
    public static final String ENV_OPENBLAS_THREADS = "OPENBLAS_NUM_THREADS";
    public static final Duration DEFAULT_GRACE = Duration.ofSeconds(5);

    private final Config cfg;
    private final RankOutput output;
    private final List<Worker> workers = new ArrayList<>();
    private final Object lock = new Object();
    private volatile boolean stopping;

    private Launcher(Config cfg) {
        this.cfg = cfg;
        this.output = new RankOutput(cfg.out, cfg.err);
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * Starts the workers and waits for all of them. Returns 0 when every worker exited 0, else the status
     * of the first worker that failed. Throws {@link BadInputException} (before anything is started) for a
     * port that is in use or an address that cannot be used, {@link LaunchException} when a worker JVM
     * cannot be started.
     */
    public int run() throws InterruptedException {
        Job job = resolve();
        Thread hook = new Thread(this::onShutdown, "tp4j-launcher-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            return spawnAndSupervise(job);
        } finally {
            stopAll(); // nothing left behind: also when interrupted or when spawning failed
            for (Worker w : snapshot()) {
                w.joinPumps(2000);
            }
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running or has run
            }
        }
    }

    // ---------------------------------------------------------------------------------------------- setup

    /** A checked configuration (see {@link Builder}). */
    private record Config(int nprocPerNode, int nnodes, int nodeRank, String masterAddr, int masterPort,
                          String mainClass, List<String> args, List<String> jvmOptions, Path java,
                          String classpath, Map<String, String> env, Map<String, String> extraEnv,
                          Duration grace, OutputStream out, OutputStream err) {
    }

    /** The values every worker of this job shares, decided before anything is started. */
    record Job(String masterAddr, int masterPort, String token, int blasThreads) {
    }

    private Job resolve() {
        int local = cfg.nprocPerNode;
        boolean checksPort = cfg.nnodes == 1 || cfg.nodeRank == 0;
        String addr = cfg.masterAddr;
        InetAddress inet = null;
        if (checksPort) {
            try {
                inet = InetAddress.getByName(addr);
            } catch (UnknownHostException e) {
                throw new BadInputException("--master-addr " + addr + ": unknown host");
            }
        }
        int port = cfg.masterPort;
        if (port == 0) {
            port = freePort(inet, addr);
        } else if (checksPort) {
            checkPortFree(inet, addr, port, cfg.nnodes == 1);
        }
        String token = cfg.env.get(ENV_JOB_TOKEN);
        if (token == null || token.isBlank()) {
            if (cfg.nnodes > 1) {
                throw new BadInputException("--nnodes " + cfg.nnodes + " needs " + ENV_JOB_TOKEN
                        + " set to the same secret on every node (e.g. export " + ENV_JOB_TOKEN
                        + "=$(openssl rand -hex 32))");
            }
            token = newJobToken();
        }
        int blas = Math.max(1, Runtime.getRuntime().availableProcessors() / local);
        return new Job(addr, port, token, blas);
    }

    private static int freePort(InetAddress inet, String addr) {
        try (ServerSocket s = new ServerSocket(0, 1, inet)) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new BadInputException("--master-addr " + addr + ": cannot open a port there ("
                    + e.getMessage() + ")");
        }
    }

    private static void checkPortFree(InetAddress inet, String addr, int port, boolean singleNode) {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true); // a port in TIME_WAIT is usable; one that is listened on is not
            s.bind(new InetSocketAddress(inet, port), 1);
        } catch (BindException e) {
            String m = String.valueOf(e.getMessage());
            if (m.contains("in use")) {
                throw new BadInputException("--master-port " + port + " is already in use on " + addr);
            }
            if (singleNode) {
                throw new BadInputException("--master-addr " + addr + ": cannot listen on port " + port
                        + " there (" + m + ")");
            }
            // Another node's address (e.g. behind NAT): rank 0's rendezvous will say what is wrong.
        } catch (IOException e) {
            if (singleNode) {
                throw new BadInputException("--master-port " + port + ": cannot listen on " + addr
                        + " (" + e.getMessage() + ")");
            }
        }
    }

    /** A fresh job secret: 32 random bytes from {@link SecureRandom} as 64 lowercase hex digits. */
    public static String newJobToken() {
        byte[] b = new byte[32];
        new SecureRandom().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    /** The environment of local rank {@code localRank}: the launcher's own plus the worker contract. */
    Map<String, String> workerEnvironment(Job job, int localRank) {
        Map<String, String> env = new LinkedHashMap<>(cfg.env);
        env.putAll(cfg.extraEnv);
        int rank = cfg.nodeRank * cfg.nprocPerNode + localRank;
        env.put("RANK", Integer.toString(rank));
        env.put("WORLD_SIZE", Integer.toString(cfg.nnodes * cfg.nprocPerNode));
        env.put("LOCAL_RANK", Integer.toString(localRank));
        env.put("LOCAL_WORLD_SIZE", Integer.toString(cfg.nprocPerNode));
        env.put("MASTER_ADDR", job.masterAddr());
        env.put("MASTER_PORT", Integer.toString(job.masterPort()));
        env.put(ENV_JOB_TOKEN, job.token());
        env.put(ENV_LAUNCHER_PID, Long.toString(ProcessHandle.current().pid()));
        String blas = cfg.env.get(ENV_OPENBLAS_THREADS);
        if (blas == null || blas.isBlank()) { // a value the user set is kept
            env.put(ENV_OPENBLAS_THREADS, Integer.toString(job.blasThreads()));
        }
        return env;
    }

    List<String> workerCommand() {
        List<String> cmd = new ArrayList<>();
        cmd.add(cfg.java.toString());
        cmd.addAll(cfg.jvmOptions);
        cmd.add("-cp");
        cmd.add(cfg.classpath);
        cmd.add(cfg.mainClass);
        cmd.addAll(cfg.args);
        return cmd;
    }

    /**
     * Starts the workers one by one and supervises them from the first: a worker that fails while others
     * are still being started ends the job at once, and no further worker is started (with hundreds of
     * workers, starting them all before looking took minutes). A signal stops the starting too
     * ({@link #onShutdown} sets {@code stopping}). Returns the status of the first worker that failed, else 0.
     */
    private int spawnAndSupervise(Job job) throws InterruptedException {
        List<String> cmd = workerCommand();
        BlockingQueue<Worker> exits = new LinkedBlockingQueue<>();
        int started = 0;
        int alive = 0;
        int status = 0;
        long forceAt = Long.MAX_VALUE;
        while (true) {
            boolean spawning = started < cfg.nprocPerNode && !stopping;
            if (!spawning && alive == 0) {
                return status;
            }
            Worker w;
            if (spawning) {
                w = exits.poll(); // between two starts: has one of the started ones exited?
                if (w == null) {
                    if (spawn(job, cmd, started, exits)) {
                        alive++;
                    }
                    started++;
                    continue;
                }
            } else if (forceAt == Long.MAX_VALUE) {
                w = exits.take();
            } else {
                w = exits.poll(Math.max(1, forceAt - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (w == null) {
                    forceAll();
                    forceAt = Long.MAX_VALUE;
                    continue;
                }
            }
            alive--;
            int code = w.process.exitValue();
            if (code != 0 && status == 0 && !stopping) {
                status = code;
                synchronized (lock) {
                    stopping = true; // no worker is started after this
                }
                w.joinPumps(500); // its last words first
                String others = alive > 0 ? "; stopping the other " + (alive == 1 ? "rank" : alive + " ranks") : "";
                String unstarted = started < cfg.nprocPerNode
                        ? (alive > 0 ? " and" : ";") + " starting no more (" + started + " of " + cfg.nprocPerNode
                        + " were started)" : "";
                output.message("rank " + w.rank + " exited with " + describeStatus(code) + others + unstarted);
                terminateAll();
                forceAt = System.nanoTime() + cfg.grace.toNanos();
            }
        }
    }

    /**
     * Starts local rank {@code local} and has its exit reported to {@code exits}; false when the launcher
     * is already stopping. {@link LaunchException} when the JVM cannot be started (the others are then
     * stopped by {@link #run()}).
     */
    private boolean spawn(Job job, List<String> cmd, int local, BlockingQueue<Worker> exits) {
        int rank = cfg.nodeRank * cfg.nprocPerNode + local;
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().clear();
        pb.environment().putAll(workerEnvironment(job, local));
        synchronized (lock) { // the shutdown hook sees every worker started before it set stopping
            if (stopping) {
                return false;
            }
            Process p;
            try {
                p = pb.start();
            } catch (IOException e) {
                stopping = true;
                throw new LaunchException("cannot start the worker of rank " + rank + " (" + cmd.get(0)
                        + "): " + e.getMessage(), e);
            }
            try {
                p.getOutputStream().close(); // workers read no input
            } catch (IOException ignored) {
                // nothing to do
            }
            Worker w = new Worker(rank, p);
            w.pumps.add(output.pump(p.getInputStream(), false, "[" + rank + "] ", "tp4j-out-" + rank));
            w.pumps.add(output.pump(p.getErrorStream(), true, "[" + rank + "] ", "tp4j-err-" + rank));
            workers.add(w);
            p.onExit().thenRun(() -> exits.add(w));
            return true;
        }
    }

    // ------------------------------------------------------------------------------------- supervision

    /** "status 3", or "status 137 (killed by signal 9)" for a status above 128. */
    public static String describeStatus(int status) {
        if (status > 128 && status < 128 + 65) {
            return "status " + status + " (killed by signal " + (status - 128) + ")";
        }
        return "status " + status;
    }

    private void onShutdown() {
        synchronized (lock) {
            stopping = true;
        }
        long alive = snapshot().stream().filter(w -> w.process.isAlive()).count();
        if (alive > 0) {
            output.message("interrupted; stopping " + alive + (alive == 1 ? " worker" : " workers"));
        }
        stopAll();
    }

    /** SIGTERM to every live worker, SIGKILL to those still alive after the grace period; waits for all. */
    private void stopAll() {
        synchronized (lock) {
            stopping = true;
        }
        List<Worker> ws = snapshot();
        if (ws.stream().noneMatch(w -> w.process.isAlive())) {
            return;
        }
        terminateAll();
        long deadline = System.nanoTime() + cfg.grace.toNanos();
        for (Worker w : ws) {
            try {
                w.process.waitFor(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        forceAll();
        for (Worker w : ws) {
            boolean interrupted = Thread.interrupted();
            try {
                w.process.waitFor(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                interrupted = true;
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void terminateAll() {
        signalAll(false);
    }

    private void forceAll() {
        signalAll(true);
    }

    /**
     * SIGTERM (or SIGKILL) to every worker and its own children. The process table is read once for all
     * workers: asking each worker for its descendants reads every process of the host, and a thousand
     * workers made that a million reads of /proc, minutes of a stop.
     */
    private void signalAll(boolean force) {
        List<Worker> ws = snapshot();
        if (ws.stream().noneMatch(w -> w.process.isAlive())) {
            return;
        }
        Map<Long, List<ProcessHandle>> children = new HashMap<>();
        ProcessHandle.allProcesses().forEach(h -> h.parent().ifPresent(
                parent -> children.computeIfAbsent(parent.pid(), k -> new ArrayList<>()).add(h)));
        for (Worker w : ws) {
            List<ProcessHandle> descendants = new ArrayList<>();
            Deque<Long> todo = new ArrayDeque<>(List.of(w.process.pid()));
            while (!todo.isEmpty()) {
                for (ProcessHandle c : children.getOrDefault(todo.pop(), List.of())) {
                    descendants.add(c);
                    todo.push(c.pid());
                }
            }
            w.terminate(force, descendants);
        }
    }

    private List<Worker> snapshot() {
        synchronized (lock) {
            return new ArrayList<>(workers);
        }
    }

    private static final class Worker {
        final int rank;
        final Process process;
        final List<Thread> pumps = new ArrayList<>(2);
        final List<ProcessHandle> children = new ArrayList<>();

        Worker(int rank, Process process) {
            this.rank = rank;
            this.process = process;
        }

        synchronized void terminate(boolean force, List<ProcessHandle> descendants) {
            children.addAll(descendants); // a worker's own children go too, also once they are orphaned
            for (ProcessHandle h : children) {
                if (force) {
                    h.destroyForcibly();
                } else {
                    h.destroy();
                }
            }
            if (process.isAlive()) {
                if (force) {
                    process.destroyForcibly();
                } else {
                    process.destroy();
                }
            }
        }

        void joinPumps(long millis) {
            long deadline = System.currentTimeMillis() + millis;
            for (Thread t : pumps) {
                try {
                    t.join(Math.max(1, deadline - System.currentTimeMillis()));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------ helpers

    /** The java executable of this JVM. */
    public static Path currentJava() {
        Optional<String> cmd = ProcessHandle.current().info().command();
        if (cmd.isPresent() && Files.isExecutable(Path.of(cmd.get()))) {
            return Path.of(cmd.get());
        }
        return Path.of(System.getProperty("java.home"), "bin", "java");
    }

    /**
     * This JVM's own options (heap, GC, -D properties, agents), for workers to start the same way. Options
     * that cannot be shared by several JVMs are left out: a debugger port, a CDS archive dump.
     */
    public static List<String> inheritedJvmOptions() {
        List<String> opts = new ArrayList<>();
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (a.startsWith("-agentlib:jdwp") || a.startsWith("-Xrunjdwp") || a.equals("-Xdebug")
                    || a.startsWith("-XX:ArchiveClassesAtExit") || a.startsWith("-XX:DumpLoadedClassList")
                    || a.startsWith("-Djava.class.path=")) {
                continue;
            }
            opts.add(a);
        }
        return opts;
    }

    /** A worker could not be started (the java binary is missing, too many processes, ...): exit 1. */
    public static final class LaunchException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public LaunchException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** What to start and where; {@link #build()} checks it and names the flag at fault. */
    public static final class Builder {
        private int nprocPerNode = 1;
        private int nnodes = 1;
        private int nodeRank;
        private String masterAddr;
        private int masterPort;
        private String mainClass;
        private List<String> args = List.of();
        private List<String> jvmOptions = List.of();
        private Path java = currentJava();
        private String classpath = System.getProperty("java.class.path");
        private Map<String, String> env = System.getenv();
        private Map<String, String> extraEnv = Map.of();
        private Duration grace = DEFAULT_GRACE;
        private OutputStream out = System.out;
        private OutputStream err = System.err;

        private Builder() {
        }

        /** Workers on this node (≥ 1). */
        public Builder nprocPerNode(int n) {
            this.nprocPerNode = n;
            return this;
        }

        /** Nodes in the job (≥ 1) and this node's index among them. */
        public Builder nodes(int nnodes, int nodeRank) {
            this.nnodes = nnodes;
            this.nodeRank = nodeRank;
            return this;
        }

        /** Host of rank 0's rendezvous store; null: 127.0.0.1 on a single node, required on several. */
        public Builder masterAddr(String addr) {
            this.masterAddr = addr;
            return this;
        }

        /**
         * Port of the rendezvous store; 0 picks a free one on a single node (29500 on several nodes, where
         * every node must agree). An explicit port that is in use fails {@link #run()} before anything starts.
         */
        public Builder masterPort(int port) {
            this.masterPort = port;
            return this;
        }

        /** The worker's main class and its arguments. */
        public Builder command(String mainClass, List<String> args) {
            this.mainClass = mainClass;
            this.args = List.copyOf(args);
            return this;
        }

        /** JVM options for the workers (default none; see {@link #inheritedJvmOptions()}). */
        public Builder jvmOptions(List<String> options) {
            this.jvmOptions = List.copyOf(options);
            return this;
        }

        public Builder java(Path java) {
            this.java = java;
            return this;
        }

        /** The workers' classpath (default: this JVM's {@code java.class.path}). */
        public Builder classpath(String classpath) {
            this.classpath = classpath;
            return this;
        }

        /** The environment the workers inherit (default: this process's). */
        public Builder environment(Map<String, String> env) {
            this.env = Map.copyOf(env);
            return this;
        }

        /** Variables added to every worker's environment (e.g. {@link BackendChoice#ENV}). */
        public Builder extraEnvironment(Map<String, String> extra) {
            this.extraEnv = Map.copyOf(extra);
            return this;
        }

        /** How long a stopped worker has between SIGTERM and SIGKILL. */
        public Builder grace(Duration grace) {
            this.grace = grace;
            return this;
        }

        /** Where the workers' prefixed stdout and stderr lines (and the launcher's messages) go. */
        public Builder output(OutputStream out, OutputStream err) {
            this.out = out;
            this.err = err;
            return this;
        }

        /** Checks the configuration: {@link BadInputException} naming the flag at fault. */
        public Launcher build() {
            if (nprocPerNode < 1) {
                throw new BadInputException("--nproc-per-node must be at least 1, got " + nprocPerNode);
            }
            if (nnodes < 1) {
                throw new BadInputException("--nnodes must be at least 1, got " + nnodes);
            }
            if (nodeRank < 0 || nodeRank >= nnodes) {
                throw new BadInputException("--node-rank " + nodeRank + " is outside 0.." + (nnodes - 1)
                        + " (--nnodes " + nnodes + ")");
            }
            if (masterPort < 0 || masterPort > 65535) {
                throw new BadInputException("--master-port " + masterPort + " is outside 1..65535");
            }
            String addr = masterAddr;
            if (addr == null || addr.isBlank()) {
                if (nnodes > 1) {
                    throw new BadInputException("--nnodes " + nnodes
                            + " needs --master-addr (the address of node 0, the same on every node)");
                }
                addr = WorkerEnvironment.DEFAULT_MASTER_ADDR;
            }
            int port = masterPort == 0 && nnodes > 1 ? WorkerEnvironment.DEFAULT_MASTER_PORT : masterPort;
            Objects.requireNonNull(mainClass, "command");
            Objects.requireNonNull(classpath, "classpath");
            return new Launcher(new Config(nprocPerNode, nnodes, nodeRank, addr.trim(), port, mainClass, args,
                    jvmOptions, java, classpath, env, extraEnv, grace, out, err));
        }
    }
}
