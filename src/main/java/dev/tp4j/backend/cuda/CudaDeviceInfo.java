package dev.tp4j.backend.cuda;

/**
 * One CUDA device as the runtime reports it. {@code uuid} ({@code GPU-xxxxxxxx-…}, as nvidia-smi prints it)
 * names the physical GPU whatever {@code CUDA_VISIBLE_DEVICES} renumbered it to; null where unknown.
 */
public record CudaDeviceInfo(int index, String name, long totalMemoryBytes, int major, int minor, String uuid) {

    public CudaDeviceInfo(int index, String name, long totalMemoryBytes, int major, int minor) {
        this(index, name, totalMemoryBytes, major, minor, null);
    }

    /** {@code GPU-} and the 16 bytes in nvidia-smi's 8-4-4-4-12 grouping of hex digits. */
    public static String uuidText(byte[] bytes) {
        StringBuilder s = new StringBuilder("GPU-");
        for (int i = 0; i < bytes.length; i++) {
            if (i == 4 || i == 6 || i == 8 || i == 10) {
                s.append('-');
            }
            s.append(String.format(java.util.Locale.ROOT, "%02x", bytes[i] & 0xff));
        }
        return s.toString();
    }

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
