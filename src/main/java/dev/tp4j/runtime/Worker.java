package dev.tp4j.runtime;

import dev.tp4j.backend.Backend;
import dev.tp4j.comm.Communicator;
import java.time.Duration;

/**
 * What a worker is: who it is (the environment contract), its backend, and its process group with the
 * others, which holds its one communicator. Every task's worker starts here; closing it leaves the group
 * in order and releases the backend.
 */
public final class Worker implements AutoCloseable {
    private final WorkerEnvironment env;
    private final Backend backend;
    private final ProcessGroup group;

    private Worker(WorkerEnvironment env, Backend backend, ProcessGroup group) {
        this.env = env;
        this.backend = backend;
        this.group = group;
    }

    /**
     * Environment → backend ({@value BackendChoice#ENV}) → process group over the transport
     * ({@value TransportChoice#ENV}), each step bounded by {@code timeout}.
     */
    public static Worker open(Duration timeout) {
        WorkerEnvironment env = WorkerEnvironment.fromSystem();
        TransportChoice transport = TransportChoice.fromSystem();
        Backend backend = Backends.open(BackendChoice.fromSystem(), env, System.out);
        try {
            return new Worker(env, backend, ProcessGroup.join(env, timeout, transport, backend));
        } catch (RuntimeException e) {
            backend.close();
            throw e;
        }
    }

    public WorkerEnvironment env() {
        return env;
    }

    public Backend backend() {
        return backend;
    }

    public Communicator comm() {
        return group.communicator();
    }

    public boolean isRankZero() {
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
