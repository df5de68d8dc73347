package dev.tp4j.files;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The hidden file an output is written to before it is renamed over its target, so that a failed run
 * never leaves half a file under the target's name: {@code .NAME.<where>-<pid>.<random>.tmp} beside the
 * target (same directory, so the rename is atomic).
 *
 * <p>Nothing of it is left behind by an exit this JVM can catch: {@link #close()} removes it unless it
 * was {@link #commit() committed}, and a shutdown hook, registered only while it exists, removes it on
 * SIGTERM or Ctrl-C in the middle of a write. After SIGKILL (or a power cut) the next writer of the same
 * target removes it: {@link #beside} first removes the temporaries of that target whose writer is gone.
 * The name says who wrote it: {@code <where>} identifies the host and PID namespace (a directory shared
 * between hosts or containers holds pids of other machines, which say nothing here), {@code <pid>} the
 * writer, so a writer's file is removed only when its pid is dead, or alive but started after the file
 * was last written (the pid was reused). A live writer's file, and anything not matching the pattern, is
 * never touched.
 */
public final class TemporaryOutput implements AutoCloseable {

    private static final String WHERE = where();

    private final Path target;
    private final Path path;
    private final Thread hook;
    private final AtomicBoolean done = new AtomicBoolean();

    private TemporaryOutput(Path target, Path path) {
        this.target = target;
        this.path = path;
        this.hook = new Thread(this::discard, "tp4j-remove-" + path.getFileName());
    }

    /**
     * Removes the stale temporaries of {@code target} (see the class comment), then creates this writer's
     * empty one beside it, with the default permissions (those the output will have once renamed).
     */
    public static TemporaryOutput beside(Path target) throws IOException {
        Path absolute = target.toAbsolutePath();
        removeStale(absolute);
        long pid = ProcessHandle.current().pid();
        while (true) {
            Path candidate = absolute.resolveSibling("." + absolute.getFileName() + "." + WHERE + "-" + pid + "."
                    + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
            TemporaryOutput t = new TemporaryOutput(absolute, candidate);
            t.watch(); // before the file exists: a signal between the two must not leave it
            try {
                Files.newByteChannel(candidate, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE).close();
                return t;
            } catch (FileAlreadyExistsException e) {
                t.unwatch(); // another writer of ours drew the same name; draw again
            } catch (IOException | RuntimeException e) {
                t.unwatch();
                throw e;
            }
        }
    }

    /** Where to write. */
    public Path path() {
        return path;
    }

    /** Renames the finished file over the target (atomically, replacing it). */
    public void commit() throws IOException {
        Files.move(path, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        done.set(true);
        unwatch();
    }

    /** Removes the file unless it was committed. */
    @Override
    public void close() {
        discard();
        unwatch();
    }

    private void discard() {
        if (done.compareAndSet(false, true)) {
            try {
                Files.deleteIfExists(path);
            } catch (IOException e) {
                // what failed the write (or the signal) is the thing to report; the next writer removes it
            }
        }
    }

    private void watch() {
        try {
            Runtime.getRuntime().addShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the JVM is already exiting: the write fails and close() removes what it made
        }
    }

    private void unwatch() {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running or has run
        }
    }

    /**
     * Removes the temporaries of {@code target} left by writers that are gone (see the class comment);
     * returns what it removed. Files it cannot judge or remove are left as they are.
     */
    public static List<Path> removeStale(Path target) {
        Path absolute = target.toAbsolutePath();
        Path dir = absolute.getParent();
        Pattern ours = Pattern.compile("\\." + Pattern.quote(absolute.getFileName().toString())
                + "\\.([0-9a-f]{8})-(\\d{1,19})\\.[0-9a-f]{1,16}\\.tmp");
        List<Path> removed = new ArrayList<>();
        if (dir == null) {
            return removed;
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "." + globQuoted(absolute.getFileName().toString()) + ".*.tmp")) {
            for (Path file : files) {
                Matcher m = ours.matcher(file.getFileName().toString());
                if (!m.matches() || !m.group(1).equals(WHERE) || !Files.isRegularFile(file)) {
                    continue;
                }
                long pid;
                try {
                    pid = Long.parseLong(m.group(2));
                } catch (NumberFormatException e) {
                    continue;
                }
                if (writerGone(pid, file)) {
                    try {
                        Files.delete(file);
                        removed.add(file);
                    } catch (NoSuchFileException alreadyGone) {
                        // another writer cleaned it first
                    } catch (IOException e) {
                        // not ours to remove after all (permissions): leave it
                    }
                }
            }
        } catch (IOException e) {
            // an unreadable directory: the write itself will say what is wrong
        }
        return removed;
    }

    private static boolean writerGone(long pid, Path file) {
        if (pid == ProcessHandle.current().pid()) {
            return false; // this JVM's own writers remove their files themselves
        }
        Optional<ProcessHandle> process = ProcessHandle.of(pid);
        if (process.isEmpty() || !process.get().isAlive()) {
            return true;
        }
        Optional<Instant> started = process.get().info().startInstant();
        try {
            // A writer starts before it creates its file and writes it after; a process started after the
            // file's last write is another one that was given the same pid.
            return started.isPresent() && started.get().isAfter(Files.getLastModifiedTime(file).toInstant().plusSeconds(1));
        } catch (IOException e) {
            return false;
        }
    }

    private static String globQuoted(String name) {
        StringBuilder b = new StringBuilder();
        for (char c : name.toCharArray()) {
            if ("*?[]{}\\".indexOf(c) >= 0) {
                b.append('\\');
            }
            b.append(c);
        }
        return b.toString();
    }

    /**
     * 8 hex digits naming this host and PID namespace: the hash of the host name, the kernel's boot id and
     * the PID namespace. Pids mean something only where these three are the same.
     */
    private static String where() {
        String host = read(Path.of("/proc/sys/kernel/hostname")); // this UTS namespace's name, no DNS
        String boot = read(Path.of("/proc/sys/kernel/random/boot_id"));
        String pidNamespace;
        try {
            pidNamespace = Files.readSymbolicLink(Path.of("/proc/self/ns/pid")).toString();
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            pidNamespace = "";
        }
        return String.format("%08x", (host + "\n" + boot + "\n" + pidNamespace).hashCode());
    }

    private static String read(Path file) {
        try {
            return Files.readString(file, StandardCharsets.US_ASCII).trim();
        } catch (IOException | SecurityException e) {
            return "";
        }
    }
}
