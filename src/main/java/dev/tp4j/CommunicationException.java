package dev.tp4j;

/**
 * A collective or the rendezvous failed at run time: a peer was lost, did not answer in time, or sent
 * something it should not have. The message names the phase and the rank(s) at fault; exit status 1.
 */
public class CommunicationException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public CommunicationException(String message) {
        super(message);
    }

    public CommunicationException(String message, Throwable cause) {
        super(message, cause);
    }
}
