package dev.tp4j.launch;

import dev.tp4j.runtime.BackendChoice;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * How many worker processes {@code --nproc-per-node auto} starts on this host: one per visible CUDA device,
 * or one CPU rank when there is none (or when the CPU backend was chosen).
 *
 * <p>For now the count is read without touching the CUDA driver: the entries of
 * {@code CUDA_VISIBLE_DEVICES} when it is set, else the {@code /dev/nvidia<N>} device files. Replace
 * {@link #cudaDeviceCount} with a driver query when the CUDA backend lands.
 */
public final class LocalDevices {

    private LocalDevices() {
    }

    /** Worker processes for {@code --nproc-per-node auto} on this host. */
    public static int autoProcsPerNode(BackendChoice backend) {
        return autoProcsPerNode(backend, System.getenv(), Path.of("/dev"));
    }

    static int autoProcsPerNode(BackendChoice backend, Map<String, String> env, Path devDir) {
        if (backend == BackendChoice.cpu) {
            return 1;
        }
        int gpus = cudaDeviceCount(env, devDir);
        if (backend == BackendChoice.cuda) {
            return gpus; // may be 0: the caller reports that no device is visible
        }
        return Math.max(1, gpus);
    }

    /** CUDA devices this process may use: {@code CUDA_VISIBLE_DEVICES} when set, else /dev/nvidia[0-9]*. */
    public static int cudaDeviceCount() {
        return cudaDeviceCount(System.getenv(), Path.of("/dev"));
    }

    static int cudaDeviceCount(Map<String, String> env, Path devDir) {
        String visible = env.get("CUDA_VISIBLE_DEVICES");
        if (visible != null) {
            return countVisible(visible);
        }
        int n = 0;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(devDir, "nvidia[0-9]*")) {
            for (Path p : ds) {
                if (p.getFileName().toString().matches("nvidia[0-9]+")) {
                    n++;
                }
            }
        } catch (IOException | SecurityException e) {
            return 0;
        }
        return n;
    }

    /**
     * Entries of a CUDA_VISIBLE_DEVICES value. As in the CUDA runtime, the list ends at the first entry
     * that names no device ("-1", "NoDevFiles", an empty item), so "" and "-1" hide every device.
     */
    static int countVisible(String value) {
        int n = 0;
        for (String item : value.split(",", -1)) {
            String s = item.trim();
            if (s.isEmpty() || s.startsWith("-") || s.equalsIgnoreCase("NoDevFiles")) {
                break;
            }
            n++;
        }
        return n;
    }
}
