package dev.tp4j.comm.tcp;

import dev.tp4j.comm.CollectiveOp;
import dev.tp4j.CommunicationException;

/** A ring neighbour's connection closed or broke: that rank is gone (crashed, killed or closed). */
final class PeerLostException extends CommunicationException {
    private static final long serialVersionUID = 1L;

    private final int lostRank;

    PeerLostException(int lostRank, CollectiveOp op, String how) {
        super("rank " + lostRank + " lost during " + op + ": " + how);
        this.lostRank = lostRank;
    }

    int lostRank() {
        return lostRank;
    }
}
