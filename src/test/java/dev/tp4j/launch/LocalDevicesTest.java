package dev.tp4j.launch;

import dev.tp4j.runtime.BackendChoice;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.runtime.WorkerEnvironment.BadEnvironmentException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LocalDevicesTest {

    @TempDir
    Path dev;

    @Test
    void visibleDevicesListIsCountedLikeTheCudaRuntime() {
        assertEquals(3, LocalDevices.countVisible("0,1,2"));
        assertEquals(2, LocalDevices.countVisible("GPU-8f6c1b2a,GPU-77aa01cd"));
        assertEquals(0, LocalDevices.countVisible(""));
        assertEquals(0, LocalDevices.countVisible("-1"));
        assertEquals(1, LocalDevices.countVisible("3,-1,1"), "the list ends at an invalid entry");
        assertEquals(0, LocalDevices.countVisible("NoDevFiles"));
    }

    @Test
    void deviceFilesAreCountedWhenTheVariableIsUnset() throws Exception {
        for (String f : new String[] {"nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm", "nvidia-modeset"}) {
            Files.createFile(dev.resolve(f));
        }
        assertEquals(2, LocalDevices.cudaDeviceCount(Map.of(), dev));
        assertEquals(1, LocalDevices.cudaDeviceCount(Map.of("CUDA_VISIBLE_DEVICES", "1"), dev));
        assertEquals(0, LocalDevices.cudaDeviceCount(Map.of("CUDA_VISIBLE_DEVICES", ""), dev), "set but empty hides all");
        assertEquals(0, LocalDevices.cudaDeviceCount(Map.of(), dev.resolve("missing")));
    }

    @Test
    void autoIsOneRankPerGpuOrOneCpuRank() throws Exception {
        Path none = dev.resolve("none");
        Files.createDirectory(none);
        Files.createFile(dev.resolve("nvidia0"));
        Files.createFile(dev.resolve("nvidia1"));
        assertEquals(2, LocalDevices.autoProcsPerNode(BackendChoice.auto, Map.of(), dev));
        assertEquals(1, LocalDevices.autoProcsPerNode(BackendChoice.cpu, Map.of(), dev));
        assertEquals(2, LocalDevices.autoProcsPerNode(BackendChoice.cuda, Map.of(), dev));
        assertEquals(1, LocalDevices.autoProcsPerNode(BackendChoice.auto, Map.of(), none));
        assertEquals(0, LocalDevices.autoProcsPerNode(BackendChoice.cuda, Map.of(), none));
        assertEquals(4, LocalDevices.autoProcsPerNode(BackendChoice.auto, Map.of("CUDA_VISIBLE_DEVICES", "0,1,2,3"), none));
    }

    @Test
    void backendChoiceIsReadFromTheEnvironment() {
        assertEquals(BackendChoice.auto, BackendChoice.fromEnvironment(Map.of()));
        assertEquals(BackendChoice.auto, BackendChoice.fromEnvironment(Map.of(BackendChoice.ENV, " ")));
        assertEquals(BackendChoice.cuda, BackendChoice.fromEnvironment(Map.of(BackendChoice.ENV, "CUDA")));
        BadEnvironmentException e = assertThrows(BadEnvironmentException.class,
                () -> BackendChoice.fromEnvironment(Map.of(BackendChoice.ENV, "gpu")));
        assertTrue(e.getMessage().startsWith("TP4J_BACKEND='gpu'"), e.getMessage());
    }
}
