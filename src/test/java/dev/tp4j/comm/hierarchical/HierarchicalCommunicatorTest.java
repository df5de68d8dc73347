package dev.tp4j.comm.hierarchical;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tp4j.comm.CollectiveOp;
import dev.tp4j.comm.Link;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import dev.tp4j.testutil.CollectiveData;
import dev.tp4j.testutil.CommGroup;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** What the contract cannot see: which link carries what, and hosts whose ranks are not consecutive. */
class HierarchicalCommunicatorTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    /**
     * 2 nodes × 2 ranks, one all_reduce of N floats: only the leaders touch TCP, and each sends what a ring
     * of two sends, N floats (half in each phase), where a flat ring of four would send 1.5 N from every rank.
     */
    @Test
    @Timeout(60)
    void onlyLeadersSendBetweenNodesAndOnlyTheNodeSums() throws Exception {
        int n = 3 << 20; // 12 MiB: three pieces between nodes
        List<long[]> sent = CommGroup.run(new HierarchicalGroup(4, TIMEOUT), TIMEOUT, m -> {
            HierarchicalCommunicator comm = m.comm();
            try (Tensor buffer = m.allocate(Shape.of(n), DType.F32)) {
                comm.allReduce(buffer);
            }
            List<Link> links = comm.links();
            // Each link's steps (the node's all_reduce and broadcast, the leaders' all_reduce) over all its ops.
            long shm = links.get(0).stats().sentBytes();
            long tcp = links.size() > 1 ? links.get(1).stats().sentBytes() : -1;
            assertEquals(shm + Math.max(tcp, 0), comm.stats().snapshot().summary(CollectiveOp.ALL_REDUCE).sentBytes(),
                    "the collective's sent bytes are both links' together");
            return new long[] {links.size(), shm, tcp};
        });
        for (int r = 0; r < 4; r++) {
            boolean leader = r % 2 == 0;
            assertEquals(leader ? 2 : 1, sent.get(r)[0], "links of rank " + r);
            assertEquals(leader ? 4L * n : -1, sent.get(r)[2], "tcp bytes of rank " + r);
        }
    }

    /** Hosts a, b, a, b, a: node 0 = ranks 0, 2, 4 and node 1 = ranks 1, 3; rank order must still hold. */
    @Test
    @Timeout(60)
    void ranksOfANodeNeedNotBeConsecutive() throws Exception {
        NodeLayout layout = NodeLayout.of(new String[] {"a", "b", "a", "b", "a"});
        int[] sizes = {1, 7, 1021};
        float[][][] inputs = CollectiveData.inputs(5, sizes, 3);
        List<float[]> reduced = CommGroup.run(new HierarchicalGroup(layout, TIMEOUT), TIMEOUT, m -> {
            int rank = m.rank();
            float[] last = null;
            for (int s = 0; s < sizes.length; s++) {
                float[][] all = inputs[s];
                try (Tensor local = m.upload(all[rank]);
                     Tensor gathered = m.allocate(Shape.of(5L * sizes[s]), DType.F32)) {
                    m.comm().allGather(local, gathered);
                    float[] expected = new float[5 * sizes[s]];
                    for (int r = 0; r < 5; r++) {
                        System.arraycopy(all[r], 0, expected, r * sizes[s], sizes[s]);
                    }
                    assertArrayEquals(expected, m.download(gathered), "all_gather on rank " + rank);
                }
                try (Tensor buffer = m.upload(all[rank])) {
                    m.comm().allReduce(buffer);
                    last = m.download(buffer);
                    CollectiveData.assertCloseToSum(last, all, 0, "all_reduce of " + sizes[s] + " on rank " + rank);
                }
                for (int root = 0; root < 5; root++) {
                    try (Tensor buffer = rank == root ? m.upload(all[root]) : m.allocate(Shape.of(sizes[s]), DType.F32)) {
                        m.comm().broadcast(buffer, root);
                        assertArrayEquals(all[root], m.download(buffer), "broadcast from " + root + " on rank " + rank);
                    }
                }
            }
            return last;
        });
        for (int r = 1; r < 5; r++) {
            CollectiveData.assertBitwiseEqual(reduced.get(0), reduced.get(r), "all_reduce, rank 0 vs rank " + r);
        }
    }
}
