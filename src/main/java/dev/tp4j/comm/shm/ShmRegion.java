package dev.tp4j.comm.shm;

import dev.tp4j.CommunicationException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * The memory-mapped file the ranks of one host share: a header (magic, nonce, geometry, a failure word,
 * one flag line per rank) followed by two sets of per-rank slots.
 *
 * <pre>
 *   0    magic (long)          8  nonce (long)       16 world size (int)   20 slot bytes (int)
 *   64   failure word (long): 0, or 1 + the rank that gave up first
 *   128 + 128·r      phase flag of rank r (long; the last phase it published)
 *   128 + 128·r + 64 closed flag of rank r (long; 1 once it closed its communicator)
 *   H + (set·n + r)·S  slot r of set 0 or 1 (S bytes each; H = the header rounded up to 4 KiB)
 * </pre>
 *
 * Rank 0 creates the file (owner read/write only) with a random name under {@code /dev/shm}, or under
 * {@code java.io.tmpdir} where there is no {@code /dev/shm}; it writes the whole file once so tmpfs
 * allocates the pages now (a full {@code /dev/shm} is an error here, not a SIGBUS later). The file is
 * unlinked as soon as every rank has mapped it; until then a shutdown hook removes it.
 */
final class ShmRegion {
    static final long MAGIC = 0x7470346a73686d31L; // "tp4jshm1"
    static final int FAILURE_OFFSET = 64;
    private static final int FLAGS_OFFSET = 128;
    private static final int FLAG_STRIDE = 128;
    private static final int PAGE = 4096;

    final Path path;
    final long nonce;
    final int worldSize;
    final int slotBytes;
    final int headerBytes;
    final ByteBuffer buffer;
    private Thread cleanup;

    private ShmRegion(Path path, long nonce, int worldSize, int slotBytes, ByteBuffer buffer) {
        this.path = path;
        this.nonce = nonce;
        this.worldSize = worldSize;
        this.slotBytes = slotBytes;
        this.headerBytes = headerBytes(worldSize);
        this.buffer = buffer;
    }

    static int headerBytes(int worldSize) {
        int raw = FLAGS_OFFSET + FLAG_STRIDE * worldSize;
        return (raw + PAGE - 1) / PAGE * PAGE;
    }

    static long fileBytes(int worldSize, int slotBytes) {
        return headerBytes(worldSize) + 2L * worldSize * slotBytes;
    }

    static int flagOffset(int rank) {
        return FLAGS_OFFSET + FLAG_STRIDE * rank;
    }

    static int closedOffset(int rank) {
        return FLAGS_OFFSET + FLAG_STRIDE * rank + 64;
    }

    /** Byte offset of rank {@code rank}'s slot in set {@code set}. */
    int slot(int set, int rank) {
        return headerBytes + (set * worldSize + rank) * slotBytes;
    }

    /** The directory for the file: {@code /dev/shm} where it is a writable directory, else the temp dir. */
    static Path directory() {
        Path shm = Path.of("/dev/shm");
        if (Files.isDirectory(shm) && Files.isWritable(shm)) {
            return shm;
        }
        return Path.of(System.getProperty("java.io.tmpdir"));
    }

    static ShmRegion create(int worldSize, int slotBytes) {
        long size = fileBytes(worldSize, slotBytes);
        if (size > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("shared memory of " + size + " bytes for " + worldSize
                    + " ranks is over 2 GiB; use smaller slots");
        }
        removeStale(directory());
        SecureRandom random = new SecureRandom();
        byte[] name = new byte[12];
        random.nextBytes(name);
        long nonce = random.nextLong();
        Path dir = directory();
        Path path = dir.resolve("tp4j-" + ProcessHandle.current().pid() + "-" + HexFormat.of().formatHex(name));
        try {
            Files.createFile(path, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        } catch (IOException | UnsupportedOperationException e) {
            throw new CommunicationException("cannot create the shared memory file in " + dir + ": " + e.getMessage());
        }
        ShmRegion region = null;
        try {
            ByteBuffer mapped = map(path, size, true);
            region = new ShmRegion(path, nonce, worldSize, slotBytes, mapped);
            region.registerCleanup();
            mapped.putLong(8, nonce);
            mapped.putInt(16, worldSize);
            mapped.putInt(20, slotBytes);
            mapped.putLong(0, MAGIC);
            ((MappedByteBuffer) mapped).force();
            return region;
        } catch (IOException | RuntimeException e) {
            if (region != null) {
                region.unlink();
            } else {
                deleteQuietly(path);
            }
            throw new CommunicationException("cannot set up the shared memory file " + path + " (" + size
                    + " bytes): " + e.getMessage());
        }
    }

    /**
     * Removes files of this kind whose creator is gone and that are older than ten minutes: left by a
     * rank 0 killed (SIGKILL, no shutdown hook) in the milliseconds between creating its file and the
     * others mapping it. A live job's file lives only for those milliseconds, so the age rule cannot
     * touch it even where pids of another namespace look dead from here.
     */
    private static void removeStale(Path dir) {
        long cutoff = System.currentTimeMillis() - 10 * 60_000L;
        try (java.util.stream.Stream<Path> files = Files.list(dir)) {
            files.filter(f -> {
                String name = f.getFileName().toString();
                if (!name.startsWith("tp4j-")) {
                    return false;
                }
                int dash = name.indexOf('-', 5);
                try {
                    long pid = Long.parseLong(name.substring(5, dash < 0 ? name.length() : dash));
                    return ProcessHandle.of(pid).isEmpty() && Files.getLastModifiedTime(f).toMillis() < cutoff;
                } catch (NumberFormatException | IOException e) {
                    return false;
                }
            }).forEach(ShmRegion::deleteQuietly);
        } catch (IOException | RuntimeException e) {
            // best effort: a directory we cannot list holds nothing of ours to clean
        }
    }

    /** Maps the file rank 0 created and checks it is the one announced. */
    static ShmRegion open(Path path, long nonce, int worldSize, int slotBytes) {
        long size = fileBytes(worldSize, slotBytes);
        ByteBuffer mapped;
        try {
            mapped = map(path, size, false);
        } catch (IOException e) {
            throw new CommunicationException("cannot map the shared memory file " + path + " that rank 0 created: "
                    + e.getMessage() + " (are the ranks really on one host? TP4J_TRANSPORT=tcp avoids shared memory)");
        }
        if (mapped.getLong(0) != MAGIC || mapped.getLong(8) != nonce || mapped.getInt(16) != worldSize
                || mapped.getInt(20) != slotBytes) {
            throw new CommunicationException("the shared memory file " + path + " is not the one rank 0 announced");
        }
        return new ShmRegion(path, nonce, worldSize, slotBytes, mapped);
    }

    private static ByteBuffer map(Path path, long size, boolean fill) throws IOException {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            if (fill) {
                // Writing every page makes tmpfs allocate it now: no space is an IOException here rather
                // than a SIGBUS on first touch in the middle of a collective.
                ByteBuffer zeros = ByteBuffer.allocateDirect(1 << 20);
                long at = 0;
                while (at < size) {
                    zeros.clear().limit((int) Math.min(zeros.capacity(), size - at));
                    while (zeros.hasRemaining()) {
                        at += ch.write(zeros, at);
                    }
                }
            } else if (ch.size() != size) {
                throw new IOException("it has " + ch.size() + " bytes, expected " + size);
            }
            // The mapping outlives the channel. It is never unmapped explicitly (Java 17 has no safe
            // unmap): the GC releases it once the communicator is gone, so a thread still inside a copy
            // when another thread closes the communicator can never touch unmapped memory.
            return ch.map(FileChannel.MapMode.READ_WRITE, 0, size).order(ByteOrder.nativeOrder());
        }
    }

    private void registerCleanup() {
        Path p = path;
        cleanup = new Thread(() -> deleteQuietly(p), "tp4j-shm-cleanup");
        Runtime.getRuntime().addShutdownHook(cleanup);
    }

    /** Removes the file's name; the mappings stay valid. Idempotent. */
    void unlink() {
        deleteQuietly(path);
        Thread hook = cleanup;
        cleanup = null;
        if (hook != null) {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook runs anyway; the file is already gone
            }
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            // nothing more to do: it is in a tmpfs or temp dir and holds no secrets beyond the job's tensors
        }
    }
}
