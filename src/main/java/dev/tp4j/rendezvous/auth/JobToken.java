package dev.tp4j.rendezvous.auth;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The job's shared secret ({@code TP4J_JOB_TOKEN}), used only to compute and check HMAC-SHA256 proofs;
 * the secret itself never leaves the process.
 *
 * <p>The HMAC key is SHA-256 of a label and the token rather than the token's bytes: {@code SecretKeySpec}
 * refuses an empty key, and single-process dev runs have no token but still run the same handshake.
 */
public final class JobToken {
    /** Length in bytes of nonces and proofs. */
    public static final int PROOF_BYTES = 32;

    private static final SecureRandom RANDOM = new SecureRandom();

    private final SecretKeySpec key;
    private final boolean empty;

    private JobToken(String secret) {
        this.empty = secret.isEmpty();
        this.key = new SecretKeySpec(deriveKey(secret), "HmacSHA256");
    }

    /** The token for {@code secret}; null means none was configured (an empty token). */
    public static JobToken of(String secret) {
        return new JobToken(secret == null ? "" : secret);
    }

    public static JobToken none() {
        return of("");
    }

    public boolean isEmpty() {
        return empty;
    }

    /** HMAC-SHA256 of the concatenated parts. */
    public byte[] prove(byte[]... parts) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(key);
            for (byte[] part : parts) {
                mac.update(part);
            }
            return mac.doFinal();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is not available in this JVM", e);
        }
    }

    /** Whether {@code proof} is the HMAC of the parts; compares in constant time. */
    public boolean verify(byte[] proof, byte[]... parts) {
        return MessageDigest.isEqual(proof, prove(parts));
    }

    public static byte[] newNonce() {
        byte[] nonce = new byte[PROOF_BYTES];
        RANDOM.nextBytes(nonce);
        return nonce;
    }

    private static byte[] deriveKey(String secret) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update("tp4j job token\0".getBytes(StandardCharsets.US_ASCII));
            return sha.digest(secret.getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("SHA-256 is not available in this JVM", e);
        }
    }

    @Override
    public String toString() {
        return empty ? "JobToken(none)" : "JobToken(set)";
    }
}
