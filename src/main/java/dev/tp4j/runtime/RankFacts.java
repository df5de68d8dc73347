package dev.tp4j.runtime;

/**
 * What one rank tells the others at the rendezvous so that all of them choose the same transport:
 * the host it runs on ({@link dev.tp4j.rendezvous.HostId}), why it cannot use NCCL (null when it can) and
 * the GPU it computes on (its UUID; null on a CPU rank). The GPU is compared across ranks, not counted on
 * one: under {@code srun --gpus-per-task=1} every rank sees one device, its own, numbered 0.
 */
record RankFacts(String hostId, String ncclProblem, String gpu) {

    /** A rank with no GPU of its own to name. */
    RankFacts(String hostId, String ncclProblem) {
        this(hostId, ncclProblem, null);
    }

    /** The store value: the NCCL verdict, the GPU, then the host id (which may contain anything, newlines too). */
    String encode() {
        return oneLine(ncclProblem) + "\n" + oneLine(gpu) + "\n" + hostId;
    }

    static RankFacts decode(String value) {
        int first = value.indexOf('\n');
        int second = value.indexOf('\n', first + 1);
        String problem = value.substring(0, first);
        String gpu = value.substring(first + 1, second);
        return new RankFacts(value.substring(second + 1), problem.isEmpty() ? null : problem,
                gpu.isEmpty() ? null : gpu);
    }

    private static String oneLine(String text) {
        return text == null ? "" : text.replace('\n', ' ');
    }
}
