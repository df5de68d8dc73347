package dev.tp4j.comm.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tp4j.comm.CommunicatorContract;
import dev.tp4j.testutil.CommGroup;
import java.time.Duration;
import java.util.List;

/** The communicator contract over the TCP ring on loopback, with the ring's traffic model and wording. */
class TcpRingCommunicatorContractTest extends CommunicatorContract {

    @Override
    protected CommGroup<TcpRingCommunicator> open(int worldSize, Duration timeout) {
        return new RingGroup(worldSize, timeout);
    }

    @Override
    protected Capability rankOrderSums() {
        return Capability.unsupported("the ring sums each chunk in ring order, starting after the rank that owns it;"
                + " every rank gets the same bits, but not always those of the rank-order sum");
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
        return "connection closed";
    }

    @Override
    protected Capability silentPeerDiagnosis() {
        return Capability.SUPPORTED;
    }

    @Override
    protected Capability closeDuringCollective() {
        return Capability.SUPPORTED;
    }

    /** The rank that receives from the silent one waits for its data, and says so. */
    @Override
    protected void assertSilentPeerDiagnoses(int silentRank, List<String> messages) {
        int next = (silentRank + 1) % messages.size();
        assertEquals("all_reduce made no progress for 800ms: rank " + silentRank + " is not answering (rank " + next
                + " waits for its data)", messages.get(next));
    }

    /** The ring algorithms' traffic: what this rank sends to the next one. */
    @Override
    protected Long expectedSentBytes(Call call) {
        int n = call.worldSize();
        int rank = call.rank();
        if (n == 1) {
            return 0L;
        }
        return switch (call.op()) {
            // reduce-scatter then all-gather: every chunk but one in each phase (all but r+1, then all but r+2)
            case ALL_REDUCE -> 4L * (2L * call.elements() - call.chunks().count((rank + 1) % n)
                    - call.chunks().count((rank + 2) % n));
            case REDUCE_SCATTER -> null; // shifted phases; not modelled here
            // every block but the next rank's own passes through
            case ALL_GATHER -> 4L * (call.elements() - call.counts()[(rank + 1) % n]);
            // a chain from the root: everyone but its end (root - 1) forwards the whole buffer
            case BROADCAST -> (rank + 1) % n == call.root() ? 0L : 4L * call.elements();
            // n - 1 rounds of a one-byte token
            case BARRIER -> n - 1L;
        };
    }
}
