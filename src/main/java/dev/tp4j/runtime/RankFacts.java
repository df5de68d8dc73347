package dev.tp4j.runtime;

/**
 * What one rank tells the others at the rendezvous so that all of them choose the same transport:
 * the host it runs on ({@link dev.tp4j.rendezvous.HostId}) and why it cannot use NCCL (null when it can).
 */
record RankFacts(String hostId, String ncclProblem) {

    /** The store value: the NCCL verdict first (a host id may contain anything after its first line). */
    String encode() {
        return (ncclProblem == null ? "" : ncclProblem.replace('\n', ' ')) + "\n" + hostId;
    }

    static RankFacts decode(String value) {
        int newline = value.indexOf('\n');
        String problem = value.substring(0, newline);
        return new RankFacts(value.substring(newline + 1), problem.isEmpty() ? null : problem);
    }
}
