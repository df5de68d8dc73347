package dev.tp4j.tensor;

import java.lang.management.ManagementFactory;
import java.util.Locale;
import java.util.Properties;

/**
 * JavaCPP's limits on native host memory, chosen for tp4j and set before JavaCPP reads them (in the
 * static initialiser of its {@code Pointer} class: {@link #configure()} must run first in {@code main}).
 *
 * <p>JavaCPP's defaults tie them to the Java heap: {@code maxBytes} (all memory allocated through
 * JavaCPP, such as host tensors) = {@code -Xmx}, by default a quarter of the machine, and
 * {@code maxPhysicalBytes} (the process's resident set) = 4 × {@code -Xmx}. tp4j keeps almost nothing on
 * the heap and everything large off it (a rank's weights while they are read, activations, checkpoint
 * slices), so on a 128 GiB GPU host a rank reading 40 GiB of weights would fail with a host
 * out-of-memory error that has nothing to do with the host's memory. tp4j's choice:
 * <ul>
 *   <li>{@code maxBytes} = the memory the operating system gives this process (physical memory, or the
 *       container's limit: the JVM reads cgroups). JavaCPP then refuses only what the machine cannot
 *       hold anyway, with a Java {@code OutOfMemoryError} naming the request, instead of the kernel's
 *       OOM killer; since tp4j frees its tensors explicitly ({@code close}), the garbage collection
 *       JavaCPP triggers near the limit has nothing to reclaim and the limit's only use is that error.</li>
 *   <li>{@code maxPhysicalBytes} = 0 (no check). The resident set counts memory JavaCPP does not own:
 *       the heap, the CUDA driver's context and pinned staging buffers, NCCL's buffers; comparing it to
 *       a multiple of the heap would fail GPU ranks for no reason, and checking it costs a look at the
 *       process's resident size on allocations.</li>
 * </ul>
 * A value given with {@code -Dorg.bytedeco.javacpp.maxBytes=...} (e.g. in {@code TP4J_JAVA_OPTS}) is
 * kept: the launcher passes JVM options on to its workers.
 */
public final class NativeMemoryLimits {
    static final String MAX_BYTES = "org.bytedeco.javacpp.maxBytes";
    static final String MAX_PHYSICAL_BYTES = "org.bytedeco.javacpp.maxPhysicalBytes";

    private NativeMemoryLimits() {
    }

    /** Sets tp4j's limits in the system properties, unless given already; call before any JavaCPP use. */
    public static void configure() {
        apply(System.getProperties(), availableMemory());
    }

    /** The limits for a process given {@code memory} bytes, where {@code props} does not set them. */
    static void apply(Properties props, long memory) {
        if (!isSet(props, MAX_BYTES) && memory > 0) {
            props.setProperty(MAX_BYTES, Long.toString(memory));
        }
        if (!isSet(props, MAX_PHYSICAL_BYTES)) {
            props.setProperty(MAX_PHYSICAL_BYTES, "0");
        }
    }

    /** JavaCPP also reads each property in lower case. */
    private static boolean isSet(Properties props, String name) {
        return props.getProperty(name) != null || props.getProperty(name.toLowerCase(Locale.ROOT)) != null;
    }

    /** Physical memory, or the container's limit (0 if the JVM cannot tell). */
    static long availableMemory() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getTotalMemorySize();
        }
        return 0;
    }
}
