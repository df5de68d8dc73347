package dev.tp4j.comm.hierarchical;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class NodeLayoutTest {

    @Test
    void nodesAreNumberedByTheirLowestRankAndLedByIt() {
        NodeLayout layout = NodeLayout.of(new String[] {"b", "a", "b", "a", "c"});
        assertEquals("[0, 2] [1, 3] [4]", layout.toString());
        assertEquals(3, layout.nodes());
        assertEquals(1, layout.nodeOf(3));
        assertEquals(1, layout.localIndexOf(3));
        assertEquals(1, layout.leaderOf(1));
        assertEquals(2, layout.member(0, 1));
        assertTrue(layout.isHierarchical());
    }

    @Test
    void aHierarchyNeedsSeveralNodesAndSomeNodeWithSeveralRanks() {
        assertFalse(NodeLayout.of(new String[] {"a", "a"}).isHierarchical(), "one node: shared memory alone");
        assertFalse(NodeLayout.of(new String[] {"a", "b"}).isHierarchical(), "one rank per node: the flat ring");
        assertTrue(NodeLayout.of(new String[] {"a", "a", "b"}).isHierarchical());
    }
}
