package dev.tp4j.rendezvous.auth;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;

/**
 * Mutual challenge–response on a fresh connection, before any other byte is trusted. The side that
 * accepted the connection speaks first:
 *
 * <pre>
 * acceptor  → initiator: "TP4J" version service acceptorRank nonceA
 * initiator → acceptor : "TP4J" version claimedRank nonceB HMAC(token, "initiator", context)
 * acceptor  → initiator: ACCEPTED HMAC(token, "acceptor", context)   or   REFUSED, then close
 * </pre>
 *
 * <p>An acceptor whose read timeout passes first sends TIMED_OUT instead of a verdict and closes, so
 * the initiator can tell "too late" from "wrong token": on an overloaded host the two looked the same
 * (a closed connection), and ranks with the right token said "a wrong job token?". A refusal is always
 * an explicit REFUSED; a connection closed without any verdict is reported as the acceptor giving up.
 *
 * where the context is service, both ranks and both nonces, so a proof cannot be replayed on another
 * connection or for another rank. Both sides prove the token, so a worker also refuses a stranger that
 * listens where a peer should be. The caller sets the read timeout on the socket (a silent peer must not
 * stall it) and keeps the streams unbuffered or flushes them.
 */
public final class Handshake {
    /** Claimed or expected rank meaning "anyone who knows the token" (store clients, the store itself). */
    public static final int ANY_RANK = -1;

    private static final int MAGIC = 0x5450344A; // "TP4J"
    private static final byte VERSION = 1;
    private static final byte ACCEPTED = 0;
    private static final byte REFUSED = 1;
    private static final byte TIMED_OUT = 2;
    private static final byte[] INITIATOR = "initiator".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    private static final byte[] ACCEPTOR = "acceptor".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

    /** What the acceptor offers; a client that wanted the other one gives up at once. */
    public enum Service {
        STORE('S', "rendezvous store"),
        RING('R', "ring peer");

        private final byte code;
        private final String description;

        Service(char code, String description) {
            this.code = (byte) code;
            this.description = description;
        }

        static Service fromCode(byte code) {
            for (Service s : values()) {
                if (s.code == code) {
                    return s;
                }
            }
            return null;
        }
    }

    private Handshake() {
    }

    /**
     * Acceptor side. Returns the rank the initiator claimed once its proof checked out.
     *
     * @param expectedClaim the only rank allowed to connect, or {@link #ANY_RANK}
     */
    public static int accept(InputStream rawIn, OutputStream rawOut, JobToken token, Service service,
                             int myRank, int expectedClaim) throws IOException {
        DataInputStream in = new DataInputStream(rawIn);
        DataOutputStream out = new DataOutputStream(rawOut);
        byte[] nonceA = JobToken.newNonce();
        out.writeInt(MAGIC);
        out.writeByte(VERSION);
        out.writeByte(service.code);
        out.writeInt(myRank);
        out.write(nonceA);
        out.flush();

        try {
            int magic = in.readInt();
            if (magic != MAGIC) {
                throw new HandshakeException("not a tp4j peer (bad greeting)");
            }
            byte version = in.readByte();
            if (version != VERSION) {
                throw new HandshakeException("speaks tp4j handshake version " + version + ", this is " + VERSION);
            }
            int claimed = in.readInt();
            byte[] nonceB = readProof(in);
            byte[] proof = readProof(in);
            byte[] context = context(service, myRank, claimed, nonceA, nonceB);
            if (!token.verify(proof, INITIATOR, context)) {
                out.writeByte(REFUSED);
                out.flush();
                throw new HandshakeException("wrong job token");
            }
            if (expectedClaim != ANY_RANK && claimed != expectedClaim) {
                out.writeByte(REFUSED);
                out.flush();
                throw new HandshakeException("claims to be rank " + claimed + ", expected rank " + expectedClaim);
            }
            out.writeByte(ACCEPTED);
            out.write(token.prove(ACCEPTOR, context));
            out.flush();
            return claimed;
        } catch (SocketTimeoutException e) {
            try {
                out.writeByte(TIMED_OUT); // read after our greeting, whenever the initiator gets to it
                out.flush();
            } catch (IOException gone) {
                // the initiator is gone as well: nobody to tell
            }
            throw HandshakeException.timedOut("sent no valid handshake in time");
        } catch (EOFException e) {
            throw new HandshakeException("closed the connection during the handshake");
        }
    }

    /**
     * Initiator side: proves the token as {@code myRank} and checks that the acceptor offers
     * {@code service}, is {@code expectedAcceptorRank} (or {@link #ANY_RANK}) and knows the token too.
     */
    public static void initiate(InputStream rawIn, OutputStream rawOut, JobToken token, Service service,
                                int myRank, int expectedAcceptorRank) throws IOException {
        DataInputStream in = new DataInputStream(rawIn);
        DataOutputStream out = new DataOutputStream(rawOut);
        try {
            if (in.readInt() != MAGIC) {
                throw new HandshakeException("the " + service.description + " is not a tp4j endpoint (bad greeting)");
            }
            byte version = in.readByte();
            if (version != VERSION) {
                throw new HandshakeException("the " + service.description + " speaks handshake version " + version
                        + ", this is " + VERSION);
            }
            Service offered = Service.fromCode(in.readByte());
            if (offered != service) {
                throw new HandshakeException("expected a " + service.description + ", found a "
                        + (offered == null ? "stranger" : offered.description));
            }
            int acceptorRank = in.readInt();
            if (expectedAcceptorRank != ANY_RANK && acceptorRank != expectedAcceptorRank) {
                throw new HandshakeException("expected rank " + expectedAcceptorRank + ", found rank " + acceptorRank);
            }
            byte[] nonceA = readProof(in);
            byte[] nonceB = JobToken.newNonce();
            byte[] context = context(service, acceptorRank, myRank, nonceA, nonceB);
            out.writeInt(MAGIC);
            out.writeByte(VERSION);
            out.writeInt(myRank);
            out.write(nonceB);
            out.write(token.prove(INITIATOR, context));
            out.flush();

            byte verdict = in.readByte();
            if (verdict == TIMED_OUT) {
                throw HandshakeException.timedOut("handshake timed out: the " + service.description
                        + " stopped waiting for this rank's proof before it arrived (an overloaded host?)");
            }
            if (verdict != ACCEPTED) {
                throw HandshakeException.refused("the " + service.description
                        + " refused this rank's job token or rank (TP4J_JOB_TOKEN must be the same on every rank)");
            }
            if (!token.verify(readProof(in), ACCEPTOR, context)) {
                throw new HandshakeException("the " + service.description + " could not prove the job token");
            }
        } catch (SocketTimeoutException e) {
            throw HandshakeException.timedOut("handshake timed out: the " + service.description
                    + " did not answer in time");
        } catch (EOFException | SocketException e) {
            // A wrong token is refused with REFUSED, never by a bare close: this is an acceptor that gave up
            // on us (its handshake deadline) or went away.
            throw HandshakeException.timedOut("the " + service.description + " closed the connection during the"
                    + " handshake without a verdict (it stopped waiting for this rank, or it shut down)");
        }
    }

    private static byte[] readProof(DataInputStream in) throws IOException {
        byte[] bytes = new byte[JobToken.PROOF_BYTES];
        in.readFully(bytes);
        return bytes;
    }

    private static byte[] context(Service service, int acceptorRank, int initiatorRank, byte[] nonceA, byte[] nonceB) {
        return ByteBuffer.allocate(1 + 4 + 4 + nonceA.length + nonceB.length)
                .put(service.code).putInt(acceptorRank).putInt(initiatorRank).put(nonceA).put(nonceB)
                .array();
    }
}
