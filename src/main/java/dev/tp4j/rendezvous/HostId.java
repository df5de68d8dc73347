package dev.tp4j.rendezvous;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What tells whether two ranks can share memory through {@code /dev/shm}: the host name, the kernel's
 * boot id and the mount namespace, where Linux offers them. Two processes of one machine (or of one
 * container) agree; two containers on one host differ (each has its own {@code /dev/shm} unless they
 * share the mount namespace), and so fall back to TCP, which is correct, if slower.
 */
public final class HostId {
    private HostId() {
    }

    public static String current() {
        String host = hostName();
        String boot = "";
        try {
            boot = Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).strip();
        } catch (IOException | RuntimeException e) {
            // not Linux: the host name alone
        }
        String mounts = "";
        try {
            mounts = Files.readSymbolicLink(Path.of("/proc/self/ns/mnt")).toString();
        } catch (IOException | RuntimeException e) {
            // no namespaces to tell apart
        }
        return host + (boot.isEmpty() ? "" : "/" + boot) + (mounts.isEmpty() ? "" : "/" + mounts);
    }

    /**
     * The kernel's host name (this UTS namespace's), read without a lookup: a host whose name does not
     * resolve (a container or network namespace without an entry for it) still has one, where
     * {@code InetAddress.getLocalHost()} fails and every such host would be "unknown-host".
     */
    private static String hostName() {
        try {
            String uts = Files.readString(Path.of("/proc/sys/kernel/hostname")).strip();
            if (!uts.isEmpty()) {
                return uts;
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: ask the JDK
        }
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return System.getenv().getOrDefault("HOSTNAME", "unknown-host");
        }
    }
}
