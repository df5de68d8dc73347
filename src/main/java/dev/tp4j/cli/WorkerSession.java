package dev.tp4j.cli;

import dev.tp4j.backend.Backend;
import dev.tp4j.backend.Backends;
import dev.tp4j.comm.Communicator;
import dev.tp4j.dist.BackendChoice;
import dev.tp4j.dist.ProcessGroup;
import dev.tp4j.dist.WorkerEnvironment;
import java.time.Duration;

/**
 * What every task's worker starts with: who it is (the environment contract), its backend, and its
 * process group with the others. Closing it leaves the group in order and releases the backend.
 */
final class WorkerSession implements AutoCloseable {
    private final WorkerEnvironment env;
    private final Backend backend;
    private final ProcessGroup group;

    private WorkerSession(WorkerEnvironment env, Backend backend, ProcessGroup group) {
        this.env = env;
        this.backend = backend;
        this.group = group;
    }

    static WorkerSession open(Duration timeout) {
        WorkerEnvironment env = WorkerEnvironment.fromSystem();
        Backend backend = Backends.open(BackendChoice.fromSystem(), env, System.err);
        try {
            return new WorkerSession(env, backend, ProcessGroup.init(env, timeout));
        } catch (RuntimeException e) {
            backend.close();
            throw e;
        }
    }

    WorkerEnvironment env() {
        return env;
    }

    Backend backend() {
        return backend;
    }

    Communicator comm() {
        return group.communicator();
    }

    boolean isRankZero() {
        return env.rank() == 0;
    }

    @Override
    public void close() {
        try {
            group.close();
        } finally {
            backend.close();
        }
    }
}
