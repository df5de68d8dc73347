package dev.tp4j.launch;

import java.time.Duration;
import java.util.Arrays;

/**
 * A launcher process for the tests: {@code TestLauncherMain NPROC STEPS...} launches NPROC {@link TestWorker}s
 * running STEPS (grace 1 s) and exits with the launcher's status.
 */
public final class TestLauncherMain {

    public static void main(String[] args) throws InterruptedException {
        int nproc = Integer.parseInt(args[0]);
        int status = Launcher.builder()
                .nprocPerNode(nproc)
                .command(TestWorker.class.getName(), Arrays.asList(args).subList(1, args.length))
                .grace(Duration.ofSeconds(1))
                .build()
                .run();
        System.exit(status);
    }
}
