package dev.tp4j.comm.hierarchical;

import dev.tp4j.comm.CollectiveOp;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Rewrites an inner link's failure message in the terms of the whole job. The links number their own
 * members (the ring between leaders counts nodes, a node's shared memory group counts its ranks) and
 * name their own step (the broadcast that ends an all_reduce); the user knows global ranks and the
 * collective they called. So "rank 1 lost during broadcast" seen on node 0's ring becomes, e.g., "rank 2
 * lost during all_reduce" when node 1's leader is rank 2. Only numbers after "rank"/"ranks" are
 * rewritten (lists such as "ranks 1, 2 and 3" included); pids, ports and sizes stay as they are.
 */
final class FailureNames {
    private static final Pattern RANKS = Pattern.compile("\\b(ranks? )(\\d+(?:(?:, | and )\\d+)*)");
    private static final Pattern NUMBER = Pattern.compile("\\d+");

    private final NodeLayout layout;
    private final int node;

    FailureNames(NodeLayout layout, int node) {
        this.layout = layout;
        this.node = node;
    }

    /** A message of the ring between leaders, whose rank k is node k's leader; {@code outer} null keeps op names. */
    String fromRing(String message, CollectiveOp outer) {
        return renameOp(renameRanks(message, true), outer);
    }

    /** A message of this node's shared memory group, whose rank i is the node's i-th rank. */
    String fromNode(String message, CollectiveOp outer) {
        return renameOp(renameRanks(message, false), outer);
    }

    private String renameRanks(String message, boolean ring) {
        if (message == null) {
            return null;
        }
        Matcher m = RANKS.matcher(message);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            Matcher numbers = NUMBER.matcher(m.group(2));
            StringBuilder list = new StringBuilder();
            while (numbers.find()) {
                int inner = Integer.parseInt(numbers.group());
                numbers.appendReplacement(list, Integer.toString(global(inner, ring)));
            }
            numbers.appendTail(list);
            m.appendReplacement(out, Matcher.quoteReplacement(m.group(1) + list));
        }
        m.appendTail(out);
        return out.toString();
    }

    private int global(int inner, boolean ring) {
        if (ring) {
            return inner >= 0 && inner < layout.nodes() ? layout.leaderOf(inner) : inner;
        }
        return inner >= 0 && inner < layout.size(node) ? layout.member(node, inner) : inner;
    }

    /**
     * Every collective's name in the message becomes the caller's: a recorded diagnosis may come from
     * another rank's step (its broadcast while this rank was in its all_reduce), and to the user both were
     * in the collective they called.
     */
    private static String renameOp(String message, CollectiveOp outer) {
        if (message == null || outer == null) {
            return message;
        }
        String out = message;
        for (CollectiveOp op : CollectiveOp.values()) {
            if (op != outer) {
                out = out.replace(op.label(), outer.label());
            }
        }
        return out;
    }
}
