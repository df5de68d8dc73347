package dev.tp4j.comm.shm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tp4j.comm.CommunicatorContract;
import dev.tp4j.testutil.CommGroup;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;

/**
 * The communicator contract over shared memory with the default slots (a 100k-element tensor is one
 * segment), plus its own invariant: no shared memory file stays behind, whatever a test did.
 */
class ShmCommunicatorContractTest extends CommunicatorContract {

    /** Bytes per slot for a group of {@code worldSize}. */
    int slotBytes(int worldSize) {
        return ShmCommunicator.DEFAULT_SLOT_BYTES;
    }

    @Override
    protected CommGroup<ShmCommunicator> open(int worldSize, Duration timeout) {
        return new ShmGroup(worldSize, timeout, slotBytes(worldSize));
    }

    @AfterEach
    void noFileStaysBehind() throws Exception {
        assertEquals(List.of(), ShmGroup.leftovers(), "files left in " + ShmRegion.directory());
    }

    @Override
    protected Capability rankOrderSums() {
        return Capability.SUPPORTED; // each element is summed once, by one rank, in rank order
    }

    @Override
    protected Capability copiesOfAnyDType() {
        return Capability.SUPPORTED;
    }

    @Override
    protected Capability argumentChecks() {
        return Capability.SUPPORTED;
    }

    @Override
    protected Capability lostPeerDetection() {
        return Capability.SUPPORTED;
    }

    @Override
    protected String closedPeerCause() {
        return "it closed its communicator";
    }

    @Override
    protected Capability silentPeerDiagnosis() {
        return Capability.SUPPORTED;
    }

    @Override
    protected Capability closeDuringCollective() {
        return Capability.SUPPORTED;
    }

    /** What this rank writes into shared memory. */
    @Override
    protected Long expectedSentBytes(Call call) {
        int n = call.worldSize();
        if (n == 1) {
            return 0L;
        }
        return switch (call.op()) {
            // all but its own chunk in, then its own chunk reduced out (or, in one phase, all of it in)
            case ALL_REDUCE -> 4L * call.elements();
            case REDUCE_SCATTER -> 4L * (call.elements() - call.chunks().count(call.rank()));
            case ALL_GATHER -> 4L * call.counts()[call.rank()];
            case BROADCAST -> call.rank() == call.root() ? 4L * call.elements() : 0L;
            case BARRIER -> 0L;
        };
    }
}
