package dev.tp4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The real probe on whatever machine runs the tests. On a CPU-only machine it must come back (not crash
 * the JVM, not throw) with a one-line reason; on a GPU machine it must list the devices.
 */
class CudaAvailabilityTest {

    @Test
    void probeNeverThrowsAndExplainsItself() {
        CudaAvailability cuda = assertDoesNotThrow(CudaAvailability::get);
        if (cuda.usable()) {
            assertFalse(cuda.devices().isEmpty());
            assertNotNull(cuda.cublasVersion());
            assertNotNull(cuda.nvrtcVersion());
        } else {
            String why = cuda.reason();
            assertNotNull(why);
            assertEquals(1, why.lines().count(), why);
            assertTrue(why.contains(".so") || why.contains("cudaGetDeviceCount"), why);
            assertTrue(cuda.devices().isEmpty());
            assertFalse(cuda.ncclUsable());
            assertNotNull(cuda.ncclReason());
        }
        // Probed once: a second call answers the same without loading anything again.
        assertTrue(cuda == CudaAvailability.get());
    }

    @Test
    void versionEncodings() {
        assertEquals("13.1", CudaAvailability.cudaVersionString(13010));
        assertEquals("12.9", CudaAvailability.cudaVersionString(12090));
        assertEquals("13.1.0", CudaAvailability.tripleVersionString(130100));
        assertEquals("2.27.7", CudaAvailability.tripleVersionString(22707));
        assertEquals("2.8.4", CudaAvailability.tripleVersionString(2804));
    }

    @Test
    void deviceInfoGivesTheNvrtcArchitecture() {
        CudaDeviceInfo h100 = new CudaDeviceInfo(0, "NVIDIA H100 80GB HBM3", 85_520_809_984L, 9, 0);
        assertEquals("sm_90", h100.arch());
        assertTrue(h100.toString().contains("compute capability 9.0"), h100.toString());
        assertTrue(h100.toString().contains("79.6 GiB"), h100.toString());
    }
}
