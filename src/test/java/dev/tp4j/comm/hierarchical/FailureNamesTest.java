package dev.tp4j.comm.hierarchical;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tp4j.comm.CollectiveOp;
import org.junit.jupiter.api.Test;

/** Inner links' messages in the job's terms: global ranks, the caller's collective; nothing else touched. */
class FailureNamesTest {
    /** Node 0 = ranks 0, 2, 4; node 1 = ranks 1, 3 (leaders 0 and 1): inner numbers differ from global ones. */
    private static final NodeLayout INTERLEAVED = NodeLayout.of(new String[] {"a", "b", "a", "b", "a"});

    @Test
    void ringRanksBecomeTheirNodesLeaders() {
        FailureNames onNode1 = new FailureNames(NodeLayout.of(new String[] {"a", "a", "b", "b"}), 1);
        assertEquals("all_reduce made no progress for 10s: rank 0 is not answering (rank 2 waits for its data)",
                onNode1.fromRing("all_reduce made no progress for 10s: rank 0 is not answering (rank 1 waits for its data)",
                        CollectiveOp.ALL_REDUCE));
        assertEquals("rank 2 lost during all_reduce: connection closed",
                onNode1.fromRing("rank 1 lost during broadcast: connection closed", CollectiveOp.ALL_REDUCE));
    }

    @Test
    void nodeRanksBecomeGlobalRanksListsIncluded() {
        FailureNames onNode0 = new FailureNames(INTERLEAVED, 0);
        assertEquals("all_gather made no progress for 1s: ranks 2 and 4 are not answering (rank 0 waits for them)",
                onNode0.fromNode("all_gather made no progress for 1s: ranks 1 and 2 are not answering (rank 0 waits for them)",
                        CollectiveOp.ALL_GATHER));
        assertEquals("rank 4 lost during barrier: its process (pid 1234) is gone",
                onNode0.fromNode("rank 2 lost during barrier: its process (pid 1234) is gone", CollectiveOp.BARRIER));
        FailureNames onNode1 = new FailureNames(INTERLEAVED, 1);
        assertEquals("ranks 1, 3 and 7 ...", onNode1.fromNode("ranks 0, 1 and 7 ...", null),
                "a number that is no member is left alone");
    }

    @Test
    void theCallersCollectiveIsNamedWhicheverStepFailed() {
        FailureNames names = new FailureNames(INTERLEAVED, 0);
        assertEquals("the communicator of rank 0 was closed during reduce_scatter",
                names.fromNode("the communicator of rank 0 was closed during all_reduce", CollectiveOp.REDUCE_SCATTER));
        assertEquals("rendezvous timed out after 3.0s waiting for key 'x/rank/1': rank 2 did not show up",
                names.fromNode("rendezvous timed out after 3.0s waiting for key 'x/rank/1': rank 1 did not show up", null));
    }
}
