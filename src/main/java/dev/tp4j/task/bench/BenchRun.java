package dev.tp4j.task.bench;

import dev.tp4j.backend.Backend;
import dev.tp4j.comm.Communicator;
import java.util.ArrayList;
import java.util.List;

/** Runs every benchmark on every rank of the group, in the same order; rank 0's figures are reported. */
public final class BenchRun {
    private final Backend backend;
    private final Communicator comm;
    private final BenchOptions options;

    public BenchRun(Backend backend, Communicator comm, BenchOptions options) {
        this.backend = backend;
        this.comm = comm;
        this.options = options;
    }

    public List<BenchResult> run() {
        List<BenchResult> results = new ArrayList<>();
        if (!options.collectivesOnly()) {
            results.addAll(GemmBench.run(backend, comm, options));
        }
        results.addAll(CollectiveBench.run(backend, comm, options));
        if (!options.collectivesOnly()) {
            results.addAll(MlpBench.run(backend, comm, options));
        }
        return results;
    }
}
