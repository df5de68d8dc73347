package dev.tp4j.comm.hierarchical;

import dev.tp4j.comm.CommunicatorContract;
import dev.tp4j.testutil.CommGroup;
import java.time.Duration;
import java.util.List;

/**
 * The communicator contract for shared memory inside a node and the TCP ring between node leaders, with
 * the ranks split over two pretend hosts ({@link HierarchicalGroup}): tp 2 is one rank per node, tp 3 two
 * and one, tp 4 two and two, so every step (inside a node, between nodes, back inside) is exercised.
 */
class HierarchicalCommunicatorContractTest extends CommunicatorContract {

    @Override
    protected CommGroup<HierarchicalCommunicator> open(int worldSize, Duration timeout) {
        return new HierarchicalGroup(worldSize, timeout);
    }

    @Override
    protected Capability rankOrderSums() {
        return Capability.unsupported("each node sums its ranks in rank order, then the ring sums the node sums in"
                + " ring order: every rank gets the same bits, but not always those of the rank-order sum");
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

    /** A leader's close is seen first by its ring neighbours (the connection) or by its node (the flag). */
    @Override
    protected List<String> closedPeerCauses() {
        return List.of("it closed its communicator", "connection closed");
    }

    @Override
    protected Capability silentPeerDiagnosis() {
        return Capability.SUPPORTED;
    }

    @Override
    protected Capability closeDuringCollective() {
        return Capability.SUPPORTED;
    }
}
