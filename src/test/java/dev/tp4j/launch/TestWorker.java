package dev.tp4j.launch;

import java.util.concurrent.TimeUnit;

/**
 * A worker main class for the launcher tests. Runs its arguments as a little script:
 * {@code env} prints the worker-contract variables (and the property tp4j.test.marker); {@code ready} prints "ready pid=N";
 * {@code lines N LEN} prints N lines in small pieces (and every 10th on stderr);
 * {@code exit-if-rank R STATUS DELAY_MS} exits with STATUS after DELAY_MS when RANK is R;
 * {@code sleep MS}; {@code exit STATUS}.
 */
public final class TestWorker {

    static final String[] VARS = {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR",
        "MASTER_PORT", "TP4J_JOB_TOKEN", "TP4J_LAUNCHER_PID", "OPENBLAS_NUM_THREADS", "TP4J_BACKEND"};

    public static void main(String[] args) throws InterruptedException {
        LauncherWatchdog.startIfLaunched();
        String rank = System.getenv("RANK");
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "env" -> {
                    for (String v : VARS) {
                        System.out.println(v + "=" + System.getenv(v));
                    }
                    System.out.println("prop.tp4j.test.marker=" + System.getProperty("tp4j.test.marker"));
                }
                case "ready" -> System.out.println("ready pid=" + ProcessHandle.current().pid());
                case "lines" -> {
                    int n = Integer.parseInt(args[++i]);
                    int len = Integer.parseInt(args[++i]);
                    String tail = "x".repeat(len);
                    for (int k = 0; k < n; k++) {
                        // several writes per line, each flushed, so that a torn line would show up
                        System.out.print("rank " + rank);
                        System.out.flush();
                        System.out.print(" line " + k + " ");
                        System.out.flush();
                        System.out.print(tail);
                        System.out.flush();
                        System.out.print("\n");
                        System.out.flush();
                        if (k % 10 == 0) {
                            System.err.print("rank " + rank + " err " + k);
                            System.err.flush();
                            System.err.println();
                        }
                    }
                }
                case "exit-if-rank" -> {
                    String r = args[++i];
                    int status = Integer.parseInt(args[++i]);
                    long delay = Long.parseLong(args[++i]);
                    if (r.equals(rank)) {
                        TimeUnit.MILLISECONDS.sleep(delay);
                        System.err.println("rank " + rank + " fails on purpose");
                        System.exit(status);
                    }
                }
                case "sleep" -> TimeUnit.MILLISECONDS.sleep(Long.parseLong(args[++i]));
                case "exit" -> System.exit(Integer.parseInt(args[++i]));
                default -> throw new IllegalArgumentException("TestWorker: unknown step " + args[i]);
            }
        }
        System.out.flush();
    }
}
