package dev.tp4j.backend.cuda;

/** One CUDA device as the runtime reports it. */
public record CudaDeviceInfo(int index, String name, long totalMemoryBytes, int major, int minor) {

    /** e.g. {@code sm_90}: what NVRTC compiles for. */
    public String arch() {
        return "sm_" + major + minor;
    }

    @Override
    public String toString() {
        return "cuda:" + index + " " + name + ", " + String.format(java.util.Locale.ROOT, "%.1f", totalMemoryBytes / (1024.0 * 1024 * 1024))
                + " GiB, compute capability " + major + "." + minor;
    }
}
