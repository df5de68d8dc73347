package dev.tp4j.comm.tcp;

import dev.tp4j.testutil.CommGroup;
import dev.tp4j.testutil.LoopbackStore;
import dev.tp4j.testutil.Member;
import java.time.Duration;

/** TCP ring ranks as threads of this JVM over loopback: a store, and per rank a store client and a ring communicator. */
final class RingGroup implements CommGroup<TcpRingCommunicator> {
    private final LoopbackStore store = new LoopbackStore();
    private final int worldSize;
    private final Duration timeout;

    RingGroup(int worldSize, Duration timeout) {
        this.worldSize = worldSize;
        this.timeout = timeout;
    }

    @Override
    public int worldSize() {
        return worldSize;
    }

    /** The job's store, for tests that join it as someone other than a rank. */
    LoopbackStore store() {
        return store;
    }

    @Override
    public Member<TcpRingCommunicator> join(int rank) {
        return store.member(rank, timeout, client -> TcpRingCommunicator.connect(client, LoopbackStore.token(), rank,
                worldSize, LoopbackStore.HOST, timeout));
    }

    @Override
    public void close() {
        store.close();
    }
}
