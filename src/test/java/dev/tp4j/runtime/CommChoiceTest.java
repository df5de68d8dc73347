package dev.tp4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.BadInputException;
import dev.tp4j.backend.cuda.CudaAvailability;
import dev.tp4j.backend.cuda.CudaDeviceInfo;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code --comm auto|nccl|tcp} decided against a given machine (no GPU needed). */
class CommChoiceTest {
    private static final CudaDeviceInfo GPU = new CudaDeviceInfo(0, "gpu", 1L << 30, 8, 0);
    private static final CudaAvailability ONE_GPU_NCCL = CudaAvailability.usable(List.of(GPU), null);
    private static final CudaAvailability ONE_GPU_NO_NCCL = CudaAvailability.usable(List.of(GPU),
            "cannot load NCCL: libnccl.so.2 (NCCL) not found on the library path");
    private static final CudaAvailability CPU_ONLY = CudaAvailability.unusable("cannot load the CUDA runtime bindings: "
            + "libcuda.so.1 (the NVIDIA driver's CUDA library) not found on the library path");

    @Test
    void cpuRanksAlwaysUseTcp() {
        assertEquals(CommChoice.tcp, CommChoice.resolve(CommChoice.auto, BackendChoice.cpu, CPU_ONLY, 4));
        assertEquals(CommChoice.tcp, CommChoice.resolve(CommChoice.tcp, BackendChoice.cpu, CPU_ONLY, 4));
        BadInputException e = assertThrows(BadInputException.class,
                () -> CommChoice.resolve(CommChoice.nccl, BackendChoice.cpu, CPU_ONLY, 1));
        assertTrue(e.getMessage().contains("--comm nccl") && e.getMessage().contains("libcuda.so.1"), e.getMessage());
    }

    @Test
    void autoIsNcclWhenEveryRankHasItsOwnGpu() {
        assertEquals(CommChoice.nccl, CommChoice.resolve(CommChoice.auto, BackendChoice.cuda, ONE_GPU_NCCL, 1));
        assertEquals(CommChoice.tcp, CommChoice.resolve(CommChoice.auto, BackendChoice.cuda, ONE_GPU_NCCL, 2));
        assertEquals(CommChoice.tcp, CommChoice.resolve(CommChoice.auto, BackendChoice.cuda, ONE_GPU_NO_NCCL, 1));
        assertEquals(CommChoice.tcp, CommChoice.resolve(CommChoice.tcp, BackendChoice.cuda, ONE_GPU_NCCL, 1));
    }

    @Test
    void ncclWhereItCannotRunSaysWhy() {
        BadInputException shared = assertThrows(BadInputException.class,
                () -> CommChoice.resolve(CommChoice.nccl, BackendChoice.cuda, ONE_GPU_NCCL, 2));
        assertTrue(shared.getMessage().contains("NCCL refuses two ranks on one GPU"), shared.getMessage());
        assertTrue(shared.getMessage().contains("--comm tcp"), shared.getMessage());
        BadInputException missing = assertThrows(BadInputException.class,
                () -> CommChoice.resolve(CommChoice.nccl, BackendChoice.cuda, ONE_GPU_NO_NCCL, 1));
        assertTrue(missing.getMessage().contains("libnccl.so.2"), missing.getMessage());
    }

    @Test
    void environment() {
        assertEquals(CommChoice.auto, CommChoice.fromEnvironment(Map.of()));
        assertEquals(CommChoice.tcp, CommChoice.fromEnvironment(Map.of(CommChoice.ENV, " TCP ")));
        assertThrows(BadInputException.class, () -> CommChoice.fromEnvironment(Map.of(CommChoice.ENV, "mpi")));
    }
}
