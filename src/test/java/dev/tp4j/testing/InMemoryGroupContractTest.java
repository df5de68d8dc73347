package dev.tp4j.testing;

import dev.tp4j.comm.Communicator;
import dev.tp4j.comm.CommunicatorContract;
import dev.tp4j.testutil.CommGroup;
import dev.tp4j.testutil.Member;
import java.time.Duration;

/**
 * The communicator contract against the in-memory test double the layer tests run on: what they rely on
 * (results, rank-order sums, stats counts) must be what the real transports do. It models no failures and
 * checks no arguments; those parts of the contract are skipped here, saying so.
 */
class InMemoryGroupContractTest extends CommunicatorContract {

    @Override
    protected CommGroup<Communicator> open(int worldSize, Duration timeout) {
        InMemoryGroup group = InMemoryGroup.of(worldSize);
        return new CommGroup<>() {
            @Override
            public int worldSize() {
                return worldSize;
            }

            @Override
            public Member<Communicator> join(int rank) {
                return new Member<>(group.member(rank), null);
            }

            @Override
            public void close() {
            }
        };
    }

    @Override
    protected Capability rankOrderSums() {
        return Capability.SUPPORTED; // every rank sums the published arrays itself, in rank order
    }

    @Override
    protected Capability copiesOfAnyDType() {
        return Capability.unsupported("the in-memory group passes values as float arrays: F32 only");
    }

    @Override
    protected Capability argumentChecks() {
        return Capability.unsupported("the in-memory group is a test double that trusts its callers' arguments");
    }

    @Override
    protected Capability lostPeerDetection() {
        return Capability.unsupported("the in-memory group does not model a lost peer: closing a member does nothing");
    }

    @Override
    protected Capability silentPeerDiagnosis() {
        return Capability.unsupported("the in-memory group has no per-group timeout: a missing rank breaks its barrier"
                + " after a fixed 30 s, naming no one");
    }

    @Override
    protected Capability closeDuringCollective() {
        return Capability.unsupported("the in-memory group's close does nothing; a collective runs to its barrier");
    }
}
