package dev.tp4j.rendezvous.auth;

import java.io.IOException;

/**
 * A connection that did not pass the handshake: not a tp4j peer, a wrong token, a rank that was not
 * expected. The message is one line meant for a log or an error report, without a stack trace.
 */
public class HandshakeException extends IOException {
    private static final long serialVersionUID = 1L;

    private final boolean refusedByPeer;
    private final boolean timedOut;

    public HandshakeException(String message) {
        this(message, false, false);
    }

    private HandshakeException(String message, boolean refusedByPeer, boolean timedOut) {
        super(message);
        this.refusedByPeer = refusedByPeer;
        this.timedOut = timedOut;
    }

    /** The other side checked our proof and said no: retrying with the same token cannot help. */
    public static HandshakeException refused(String message) {
        return new HandshakeException(message, true, false);
    }

    /**
     * One side stopped waiting for the other before the handshake was done: nothing was refused, and a
     * new connection may pass (an overloaded host answers late, not wrongly).
     */
    public static HandshakeException timedOut(String message) {
        return new HandshakeException(message, false, true);
    }

    public boolean refusedByPeer() {
        return refusedByPeer;
    }

    public boolean timedOut() {
        return timedOut;
    }
}
