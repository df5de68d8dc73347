package dev.tp4j.runtime;

import dev.tp4j.runtime.WorkerEnvironment.BadEnvironmentException;
import java.util.ArrayList;
import java.util.List;

/**
 * Slurm's two compact lists that a worker needs: a hostlist ({@code SLURM_STEP_NODELIST}, e.g.
 * {@code node[01-04,07],gpu3}) and tasks per node ({@code SLURM_STEP_TASKS_PER_NODE}, e.g. {@code 4(x2),3}).
 * Read here rather than through {@code scontrol show hostnames}: a worker must not depend on Slurm's
 * commands being installed where it runs.
 */
final class SlurmNodeLists {
    private SlurmNodeLists() {
    }

    /**
     * The first host of {@code hostlist} (variable {@code name}): the host of rank 0 under Slurm's block and
     * cyclic distributions, where torch.distributed's Slurm setups put the rendezvous too. Each bracket
     * contributes its first value as written, so zero padding is kept ({@code node[01-04]} → {@code node01}).
     */
    static String firstHost(String name, String hostlist) {
        String first = topLevelItems(name, hostlist)[0];
        StringBuilder host = new StringBuilder();
        int i = 0;
        while (i < first.length()) {
            char c = first.charAt(i);
            if (c != '[') {
                host.append(c);
                i++;
                continue;
            }
            int close = first.indexOf(']', i);
            String range = first.substring(i + 1, close);
            host.append(range.split(",", 2)[0].split("-", 2)[0]);
            i = close + 1;
        }
        if (host.length() == 0) {
            throw new BadEnvironmentException(name + "='" + hostlist + "' names no host");
        }
        return host.toString();
    }

    /**
     * How many tasks run on node {@code nodeIndex} (0-based, as {@code SLURM_NODEID}) according to
     * {@code tasksPerNode} (variable {@code name}): comma-separated counts, {@code N(xK)} standing for K nodes
     * with N tasks each.
     */
    static int tasksOnNode(String name, String tasksPerNode, int nodeIndex) {
        int node = 0;
        for (String item : tasksPerNode.split(",")) {
            String[] parts = item.trim().split("\\(x", 2);
            int count = positive(name, tasksPerNode, parts[0]);
            int repeat = parts.length == 1 ? 1 : positive(name, tasksPerNode, parts[1].replace(")", ""));
            if (nodeIndex < node + repeat) {
                return count;
            }
            node += repeat;
        }
        throw new BadEnvironmentException("SLURM_NODEID=" + nodeIndex + " is outside the " + node + " nodes of "
                + name + "='" + tasksPerNode + "'");
    }

    /** The comma-separated items of a hostlist, commas inside brackets kept within their item. */
    private static String[] topLevelItems(String name, String hostlist) {
        List<String> items = new ArrayList<>();
        int depth = 0;
        int start = 0;
        for (int i = 0; i < hostlist.length(); i++) {
            char c = hostlist.charAt(i);
            if (c == '[') {
                depth++;
            } else if (c == ']') {
                depth--;
            }
            if (depth < 0 || depth > 1) {
                throw new BadEnvironmentException(name + "='" + hostlist + "' has unbalanced brackets");
            }
            if (c == ',' && depth == 0) {
                items.add(hostlist.substring(start, i));
                start = i + 1;
            }
        }
        if (depth != 0) {
            throw new BadEnvironmentException(name + "='" + hostlist + "' has unbalanced brackets");
        }
        items.add(hostlist.substring(start));
        return items.stream().map(String::trim).toArray(String[]::new);
    }

    private static int positive(String name, String whole, String digits) {
        try {
            int n = Integer.parseInt(digits.trim());
            if (n >= 1) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below with the whole value
        }
        throw new BadEnvironmentException(name + "='" + whole + "' is not understood (expected e.g. 4 or 4(x2),3)");
    }
}
