package dev.tp4j.cli;

import dev.tp4j.runtime.BackendChoice;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code tp4j demo}: {@code tp4j launch --nproc-per-node 4 --backend cpu verify}, four CPU ranks on this machine. */
@Command(name = "demo",
        description = "Check the tensor-parallel layers on 4 CPU ranks: the same as "
                + "`tp4j launch --nproc-per-node 4 --backend cpu verify`.")
public final class DemoCommand implements Callable<Integer> {

    static final int RANKS = 4;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws InterruptedException {
        spec.commandLine().getErr().println("tp4j demo: tp4j launch --nproc-per-node " + RANKS + " --backend cpu verify");
        spec.commandLine().getErr().flush();
        LaunchCommand launch = new LaunchCommand();
        launch.spec = spec;
        launch.nprocPerNode = Integer.toString(RANKS);
        launch.backend = BackendChoice.cpu;
        launch.task = "verify";
        return launch.call();
    }
}
