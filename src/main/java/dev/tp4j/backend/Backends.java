package dev.tp4j.backend;

import dev.tp4j.BadInputException;
import dev.tp4j.backend.cpu.CpuBackend;
import dev.tp4j.dist.BackendChoice;
import dev.tp4j.dist.LocalDevices;
import dev.tp4j.dist.WorkerEnvironment;

/** Opens the backend a worker asked for ({@code --backend auto|cpu|cuda}) for its place on this host. */
public final class Backends {
    private Backends() {
    }

    /**
     * {@code auto} is CUDA when a device is visible, otherwise CPU with a one-line notice; {@code cuda}
     * without CUDA support is bad input (exit 2) naming what is missing.
     */
    public static Backend open(BackendChoice choice, WorkerEnvironment env, java.io.PrintStream notices) {
        checkAvailable(choice);
        switch (choice) {
            case auto:
                if (LocalDevices.cudaDeviceCount() > 0 && env.rank() == 0) {
                    notices.println("tp4j: a CUDA device is visible but this build has no CUDA backend yet; "
                            + "running on CPU ranks");
                }
                return cpu(env);
            case cpu:
            default:
                return cpu(env);
        }
    }

    /** OpenBLAS threads: OPENBLAS_NUM_THREADS when the user or launcher set it, else cores / local ranks. */
    /** Bad input (exit 2) when the choice cannot be served on this machine, naming what is missing. */
    public static void checkAvailable(BackendChoice choice) {
        if (choice == BackendChoice.cuda) {
            throw new BadInputException("--backend cuda: this build of tp4j has no CUDA backend yet "
                    + "(CPU ranks only); use --backend cpu or auto");
        }
    }

    private static Backend cpu(WorkerEnvironment env) {
        String set = System.getenv("OPENBLAS_NUM_THREADS");
        int threads = CpuBackend.threadsPerRank(env.localWorldSize());
        if (set != null && !set.isBlank()) {
            try {
                threads = Integer.parseInt(set.trim());
            } catch (NumberFormatException e) {
                throw new BadInputException("OPENBLAS_NUM_THREADS='" + set + "' is not an integer");
            }
        }
        return new CpuBackend(threads);
    }
}
