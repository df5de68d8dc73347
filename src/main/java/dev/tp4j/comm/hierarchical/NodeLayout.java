package dev.tp4j.comm.hierarchical;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Which ranks share a node (a host whose ranks can share memory), from every rank's host id: nodes are
 * numbered in the order of their lowest rank, a node's ranks are in rank order, and its lowest rank is
 * its leader (the one on the TCP ring between nodes). Every rank builds it from the same host ids, so
 * every rank holds the same layout; the ranks of a node need not be consecutive.
 */
public final class NodeLayout {
    private final int[] nodeOf;
    private final int[] localIndexOf;
    private final int[][] members;

    private NodeLayout(int[] nodeOf, int[] localIndexOf, int[][] members) {
        this.nodeOf = nodeOf;
        this.localIndexOf = localIndexOf;
        this.members = members;
    }

    /** {@code hostIds[r]} is where rank r runs; equal ids are one node. */
    public static NodeLayout of(String[] hostIds) {
        if (hostIds.length == 0) {
            throw new IllegalArgumentException("no ranks");
        }
        Map<String, List<Integer>> byHost = new LinkedHashMap<>();
        for (int r = 0; r < hostIds.length; r++) {
            byHost.computeIfAbsent(hostIds[r], h -> new ArrayList<>()).add(r);
        }
        int[] nodeOf = new int[hostIds.length];
        int[] localIndexOf = new int[hostIds.length];
        int[][] members = new int[byHost.size()][];
        int node = 0;
        for (List<Integer> ranks : byHost.values()) {
            members[node] = ranks.stream().mapToInt(Integer::intValue).toArray();
            for (int i = 0; i < members[node].length; i++) {
                nodeOf[members[node][i]] = node;
                localIndexOf[members[node][i]] = i;
            }
            node++;
        }
        return new NodeLayout(nodeOf, localIndexOf, members);
    }

    public int worldSize() {
        return nodeOf.length;
    }

    public int nodes() {
        return members.length;
    }

    /** The node rank {@code rank} runs on. */
    public int nodeOf(int rank) {
        return nodeOf[rank];
    }

    /** Rank {@code rank}'s place among its node's ranks (0 for the leader). */
    public int localIndexOf(int rank) {
        return localIndexOf[rank];
    }

    /** How many ranks node {@code node} holds. */
    public int size(int node) {
        return members[node].length;
    }

    /** The {@code i}-th rank of node {@code node}, in rank order. */
    public int member(int node, int i) {
        return members[node][i];
    }

    /** The rank that represents node {@code node} on the ring between nodes: its lowest. */
    public int leaderOf(int node) {
        return members[node][0];
    }

    /** Whether the job spans several nodes and some node holds more than one rank: where a hierarchy pays. */
    public boolean isHierarchical() {
        if (nodes() < 2) {
            return false;
        }
        for (int[] m : members) {
            if (m.length > 1) {
                return true;
            }
        }
        return false;
    }

    /** {@code "[0, 1] [2, 3]"}: the ranks of each node. */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        for (int[] m : members) {
            sb.append(sb.length() == 0 ? "" : " ").append(Arrays.toString(m));
        }
        return sb.toString();
    }
}
