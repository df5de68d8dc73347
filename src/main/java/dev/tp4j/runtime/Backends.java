package dev.tp4j.runtime;

import dev.tp4j.backend.Backend;
import dev.tp4j.BadInputException;
import dev.tp4j.backend.cpu.CpuBackend;
import dev.tp4j.backend.cuda.CudaAvailability;
import dev.tp4j.backend.cuda.CudaBackend;
import dev.tp4j.backend.cuda.CudaDeviceInfo;
import java.io.PrintStream;
import java.util.Map;

/** Opens the backend a worker asked for ({@code --backend auto|cpu|cuda}) for its place on this host. */
public final class Backends {
    /** Environment variable: {@code 1}/{@code true} lets cuBLAS use TF32 tensor cores ({@code --tf32}). */
    public static final String TF32_ENV = "TP4J_TF32";

    private Backends() {
    }

    /** What a choice resolves to on a machine: CUDA or CPU, and the one-line notice to print (or null). */
    public record Selection(BackendChoice resolved, String notice) {
        public boolean cuda() {
            return resolved == BackendChoice.cuda;
        }
    }

    /**
     * The decision, separate from opening anything so that it is testable without a GPU: {@code cpu} is
     * CPU; {@code auto} is CUDA when {@code cuda} is usable, else CPU with a notice saying why;
     * {@code cuda} without a usable GPU is bad input (exit 2) naming the missing library or device.
     */
    public static Selection select(BackendChoice choice, CudaAvailability cuda) {
        switch (choice) {
            case cpu:
                return new Selection(BackendChoice.cpu, null);
            case cuda:
                if (!cuda.usable()) {
                    throw new BadInputException("--backend cuda: no usable GPU: " + cuda.reason()
                            + "; use --backend cpu or auto");
                }
                return new Selection(BackendChoice.cuda, null);
            case auto:
            default:
                if (cuda.usable()) {
                    return new Selection(BackendChoice.cuda, null);
                }
                return new Selection(BackendChoice.cpu, "tp4j: no usable CUDA GPU (" + cuda.reason()
                        + "); running on CPU ranks");
        }
    }

    /**
     * Opens this worker's backend. The notice of an {@code auto} fallback is printed by rank 0 only (a
     * launcher that already resolved {@code auto} passes the result on, so workers print nothing).
     */
    public static Backend open(BackendChoice choice, WorkerEnvironment env, PrintStream notices) {
        Selection s = choice == BackendChoice.cpu ? select(choice, null) : select(choice, CudaAvailability.get());
        if (s.notice() != null && env.rank() == 0) {
            notices.println(s.notice());
        }
        if (s.cuda()) {
            CudaAvailability cuda = CudaAvailability.get();
            CudaDeviceInfo device = deviceFor(env.localRank(), cuda);
            return new CudaBackend(device, tf32(System.getenv()));
        }
        return cpu(env);
    }

    /**
     * {@code cuda:LOCAL_RANK} (after CUDA_VISIBLE_DEVICES). With more local ranks than devices, ranks share
     * devices round-robin — only the {@code tcp} communicator supports that (NCCL refuses two ranks on one GPU).
     */
    static CudaDeviceInfo deviceFor(int localRank, CudaAvailability cuda) {
        return cuda.devices().get(localRank % cuda.devices().size());
    }

    /** Whether {@value #TF32_ENV} asks for TF32. */
    public static boolean tf32(Map<String, String> env) {
        String v = env.get(TF32_ENV);
        return v != null && (v.trim().equals("1") || v.trim().equalsIgnoreCase("true"));
    }

    /** Bad input (exit 2) when the choice cannot be served on this machine, naming what is missing. */
    public static void checkAvailable(BackendChoice choice) {
        if (choice != BackendChoice.cpu) {
            select(choice, CudaAvailability.get());
        }
    }

    /** OpenBLAS threads: OPENBLAS_NUM_THREADS when the user or launcher set it, else cores / local ranks. */
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
