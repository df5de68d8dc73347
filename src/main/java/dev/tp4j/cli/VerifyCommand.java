package dev.tp4j.cli;

import dev.tp4j.dist.BackendChoice;
import dev.tp4j.dist.WorkerEnvironment;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * PLACEHOLDER of branch `launcher`, only so that {@link Main} compiles here: the real {@code verify} task is
 * written on another branch and replaces this file. It checks nothing; it says who it is and exits 0.
 */
@Command(name = "verify", description = "Check the tensor-parallel layers against a float64 reference (placeholder).")
public final class VerifyCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        WorkerEnvironment env = WorkerEnvironment.fromSystem();
        spec.commandLine().getOut().println("verify placeholder: rank " + env.rank() + " of " + env.worldSize()
                + " (local " + env.localRank() + "), backend " + BackendChoice.fromSystem()
                + ", rendezvous " + env.masterAddr() + ":" + env.masterPort() + " - no checks in this build");
        spec.commandLine().getOut().flush();
        return 0;
    }
}
