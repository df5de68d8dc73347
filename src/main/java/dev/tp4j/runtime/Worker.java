package dev.tp4j.runtime;

import dev.tp4j.backend.Backend;
import dev.tp4j.backend.cuda.CudaAvailability;
import dev.tp4j.backend.cuda.CudaBackend;
import dev.tp4j.comm.Communicator;
import dev.tp4j.comm.HostStagedCommunicator;
import dev.tp4j.comm.nccl.NcclCommunicator;
import java.time.Duration;

/**
 * What every task's worker starts with: who it is (the environment contract), its backend, and its
 * process group with the others. Closing it leaves the group in order and releases the backend.
 */
public final class Worker implements AutoCloseable {
    private final WorkerEnvironment env;
    private final Backend backend;
    private final ProcessGroup group;
    private final Communicator comm;

    private Worker(WorkerEnvironment env, Backend backend, ProcessGroup group, Communicator comm) {
        this.env = env;
        this.backend = backend;
        this.group = group;
        this.comm = comm;
    }

    public static Worker open(Duration timeout) {
        WorkerEnvironment env = WorkerEnvironment.fromSystem();
        Backend backend = Backends.open(BackendChoice.fromSystem(), env, System.out);
        ProcessGroup group = null;
        try {
            CommChoice commChoice = CommChoice.resolve(CommChoice.fromSystem(),
                    backend instanceof CudaBackend ? BackendChoice.cuda : BackendChoice.cpu,
                    backend instanceof CudaBackend || CommChoice.fromSystem() == CommChoice.nccl ? CudaAvailability.get() : null,
                    env.localWorldSize());
            group = ProcessGroup.init(env, timeout);
            Communicator comm = group.communicator();
            if (commChoice == CommChoice.nccl) {
                comm = NcclCommunicator.create(group.store(), env.rank(), env.worldSize(), (CudaBackend) backend, timeout);
            } else if (!backend.device().isCpu()) {
                // CUDA ranks over the TCP ring: device tensors are staged through host memory.
                comm = new HostStagedCommunicator(comm, backend);
            }
            return new Worker(env, backend, group, comm);
        } catch (RuntimeException e) {
            if (group != null) {
                try {
                    group.close();
                } catch (RuntimeException closing) {
                    e.addSuppressed(closing);
                }
            }
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
        return comm;
    }

    public boolean isRankZero() {
        return env.rank() == 0;
    }

    @Override
    public void close() {
        try {
            if (comm != group.communicator()) {
                comm.close();
            }
            group.close();
        } finally {
            backend.close();
        }
    }
}
