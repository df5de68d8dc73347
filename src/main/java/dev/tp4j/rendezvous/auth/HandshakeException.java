package dev.tp4j.rendezvous.auth;

import java.io.IOException;

/**
 * A connection that did not pass the handshake: not a tp4j peer, a wrong token, a rank that was not
 * expected. The message is one line meant for a log or an error report, without a stack trace.
 */
public class HandshakeException extends IOException {
    private static final long serialVersionUID = 1L;

    private final boolean refusedByPeer;

    public HandshakeException(String message) {
        this(message, false);
    }

    private HandshakeException(String message, boolean refusedByPeer) {
        super(message);
        this.refusedByPeer = refusedByPeer;
    }

    /** The other side checked our proof and said no: retrying with the same token cannot help. */
    public static HandshakeException refused(String message) {
        return new HandshakeException(message, true);
    }

    public boolean refusedByPeer() {
        return refusedByPeer;
    }
}
