package dev.tp4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import dev.tp4j.BadInputException;
import dev.tp4j.backend.cuda.CudaAvailability;
import dev.tp4j.backend.cuda.CudaDeviceInfo;
import dev.tp4j.backend.cuda.NativeLoadFailure;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code --backend auto|cpu|cuda} decided against a given machine (no GPU needed). */
class BackendsSelectionTest {
    /** A machine whose CUDA runtime is missing, with the reason the probe would give. */
    private static final CudaAvailability NO_CUDART = CudaAvailability.unusable("cannot load the CUDA runtime bindings: "
            + NativeLoadFailure.describe(javacppFailure("libcudart.so.13")));
    private static final CudaAvailability NO_DEVICE = CudaAvailability.unusable(
            "cudaGetDeviceCount = 0: no CUDA device is visible (CUDA_VISIBLE_DEVICES='')");
    private static final CudaAvailability ONE_GPU = CudaAvailability.usable(
            List.of(new CudaDeviceInfo(0, "NVIDIA H100", 80L << 30, 9, 0)), null);

    static UnsatisfiedLinkError javacppFailure(String missing) {
        UnsatisfiedLinkError e = new UnsatisfiedLinkError("no jnicudart in java.library.path");
        e.initCause(new UnsatisfiedLinkError("/tmp/libjnicudart.so: " + missing
                + ": cannot open shared object file: No such file or directory"));
        return e;
    }

    @Test
    void autoFallsBackToCpuWithOneLineNamingWhy() {
        Backends.Selection s = Backends.select(BackendChoice.auto, NO_CUDART);
        assertEquals(BackendChoice.cpu, s.resolved());
        assertEquals(1, s.notice().lines().count());
        assertTrue(s.notice().contains("libcudart.so.13"), s.notice());
        assertTrue(s.notice().contains("running on CPU ranks"), s.notice());

        Backends.Selection d = Backends.select(BackendChoice.auto, NO_DEVICE);
        assertEquals(BackendChoice.cpu, d.resolved());
        assertTrue(d.notice().contains("cudaGetDeviceCount = 0"), d.notice());
    }

    @Test
    void cudaWithoutAGpuIsBadInputNamingTheLibraryOrDevice() {
        BadInputException e = assertThrows(BadInputException.class, () -> Backends.select(BackendChoice.cuda, NO_CUDART));
        assertTrue(e.getMessage().startsWith("--backend cuda: "), e.getMessage());
        assertTrue(e.getMessage().contains("libcudart.so.13 (the CUDA runtime) not found"), e.getMessage());
        assertEquals(1, e.getMessage().lines().count());

        BadInputException d = assertThrows(BadInputException.class, () -> Backends.select(BackendChoice.cuda, NO_DEVICE));
        assertTrue(d.getMessage().contains("no CUDA device is visible"), d.getMessage());
    }

    @Test
    void aUsableGpuIsChosenByAutoAndCuda() {
        assertEquals(BackendChoice.cuda, Backends.select(BackendChoice.auto, ONE_GPU).resolved());
        assertNull(Backends.select(BackendChoice.auto, ONE_GPU).notice());
        assertEquals(BackendChoice.cuda, Backends.select(BackendChoice.cuda, ONE_GPU).resolved());
    }

    @Test
    void cpuNeverLooksAtCuda() {
        Backends.Selection s = Backends.select(BackendChoice.cpu, null);
        assertEquals(BackendChoice.cpu, s.resolved());
        assertNull(s.notice());
    }

    @Test
    void ranksBeyondTheDevicesShareThemRoundRobin() {
        CudaAvailability two = CudaAvailability.usable(List.of(new CudaDeviceInfo(0, "a", 1, 8, 0),
                new CudaDeviceInfo(1, "b", 1, 8, 0)), null);
        assertEquals(0, Backends.deviceFor(0, two).index());
        assertEquals(1, Backends.deviceFor(1, two).index());
        assertEquals(0, Backends.deviceFor(2, two).index());
    }

    @Test
    void tf32IsOptIn() {
        assertEquals(false, Backends.tf32(Map.of()));
        assertEquals(true, Backends.tf32(Map.of(Backends.TF32_ENV, "1")));
        assertEquals(true, Backends.tf32(Map.of(Backends.TF32_ENV, "true")));
        assertEquals(false, Backends.tf32(Map.of(Backends.TF32_ENV, "0")));
    }

    /** On this machine, whatever it is: without a usable GPU, cuda is refused with the probe's reason. */
    @Test
    void thisMachineWithoutAGpu() {
        CudaAvailability here = CudaAvailability.get();
        assumeFalse(here.usable(), "a CUDA device is usable here");
        BadInputException e = assertThrows(BadInputException.class, () -> Backends.checkAvailable(BackendChoice.cuda));
        assertTrue(e.getMessage().contains(here.reason()), e.getMessage());
        Backends.checkAvailable(BackendChoice.auto);
        Backends.checkAvailable(BackendChoice.cpu);
    }
}
