package dev.tp4j.comm.hierarchical;

import dev.tp4j.testutil.CommGroup;
import dev.tp4j.testutil.LoopbackStore;
import dev.tp4j.testutil.Member;
import java.time.Duration;

/**
 * Hierarchical ranks as threads of this JVM, on two pretend hosts: the first half of the ranks (rounded
 * up) claim host "node-a", the rest "node-b". The layout is all the communicator knows of hosts, so each
 * half gets its own shared memory group (a real one, in /dev/shm) and the halves' leaders a real TCP ring
 * over loopback, as two machines would.
 */
final class HierarchicalGroup implements CommGroup<HierarchicalCommunicator> {
    private final LoopbackStore store = new LoopbackStore();
    private final NodeLayout layout;
    private final Duration timeout;

    HierarchicalGroup(int worldSize, Duration timeout) {
        this(twoHosts(worldSize), timeout);
    }

    HierarchicalGroup(NodeLayout layout, Duration timeout) {
        this.layout = layout;
        this.timeout = timeout;
    }

    /** Ranks {@code [0, ⌈n/2⌉)} on one host, the others on a second. */
    static NodeLayout twoHosts(int worldSize) {
        String[] hosts = new String[worldSize];
        for (int r = 0; r < worldSize; r++) {
            hosts[r] = r < (worldSize + 1) / 2 ? "node-a" : "node-b";
        }
        return NodeLayout.of(hosts);
    }

    @Override
    public int worldSize() {
        return layout.worldSize();
    }

    @Override
    public Member<HierarchicalCommunicator> join(int rank) {
        return store.member(rank, timeout, client -> HierarchicalCommunicator.connect(client, LoopbackStore.token(),
                HierarchicalCommunicator.DEFAULT_KEY_PREFIX, rank, layout, LoopbackStore.HOST, timeout));
    }

    @Override
    public void close() {
        store.close();
    }
}
