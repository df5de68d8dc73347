package dev.tp4j.launch;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;

/**
 * A launcher process for the tests: {@code TestLauncherMain NPROC STEPS...} launches NPROC {@link TestWorker}s
 * running STEPS (grace 1 s) and exits with the launcher's status. With {@code -Dtp4j.test.java=PATH} the
 * workers are started with PATH instead of java (a script standing in for a worker).
 */
public final class TestLauncherMain {

    public static void main(String[] args) throws InterruptedException {
        int nproc = Integer.parseInt(args[0]);
        Launcher.Builder launcher = Launcher.builder();
        String worker = System.getProperty("tp4j.test.java");
        if (worker != null) {
            launcher.java(Path.of(worker));
        }
        int status = launcher
                .nprocPerNode(nproc)
                .command(TestWorker.class.getName(), Arrays.asList(args).subList(1, args.length))
                .grace(Duration.ofSeconds(1))
                .build()
                .run();
        System.exit(status);
    }
}
