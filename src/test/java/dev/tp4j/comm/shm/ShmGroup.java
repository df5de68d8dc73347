package dev.tp4j.comm.shm;

import dev.tp4j.testutil.CommGroup;
import dev.tp4j.testutil.LoopbackStore;
import dev.tp4j.testutil.Member;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.IntToLongFunction;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Shared-memory ranks as threads of this JVM: a store on loopback, and per rank a store client and a
 * {@link ShmCommunicator} with the given slot size, publishing the pid {@code pids} gives it (this JVM's,
 * unless a test hands a rank a dead one).
 */
final class ShmGroup implements CommGroup<ShmCommunicator> {
    private final LoopbackStore store = new LoopbackStore();
    private final int worldSize;
    private final Duration timeout;
    private final int slotBytes;
    private final IntToLongFunction pids;

    ShmGroup(int worldSize, Duration timeout, int slotBytes) {
        this(worldSize, timeout, slotBytes, rank -> ProcessHandle.current().pid());
    }

    ShmGroup(int worldSize, Duration timeout, int slotBytes, IntToLongFunction pids) {
        this.worldSize = worldSize;
        this.timeout = timeout;
        this.slotBytes = slotBytes;
        this.pids = pids;
    }

    @Override
    public int worldSize() {
        return worldSize;
    }

    @Override
    public Member<ShmCommunicator> join(int rank) {
        return store.member(rank, timeout, client -> ShmCommunicator.connect(client, ShmCommunicator.DEFAULT_KEY_PREFIX,
                rank, worldSize, timeout, slotBytes, pids.applyAsLong(rank)));
    }

    /** The shared memory files this JVM's communicators left in the directory they use. */
    static List<Path> leftovers() throws IOException {
        String mine = "tp4j-" + ProcessHandle.current().pid() + "-";
        try (Stream<Path> files = Files.list(ShmRegion.directory())) {
            return files.filter(p -> p.getFileName().toString().startsWith(mine)).collect(Collectors.toList());
        }
    }

    @Override
    public void close() {
        store.close();
    }
}
