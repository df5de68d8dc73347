package dev.tp4j.rendezvous.store;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.ProtocolException;
import java.nio.charset.StandardCharsets;

/**
 * The store's request/response framing, after the handshake. One request at a time per connection:
 *
 * <pre>
 * request : op key [value | timeoutMillis | delta]
 * response: status [value | counter | flag | message]
 * </pre>
 *
 * Keys are UTF-8 with a 16-bit length, values a 32-bit length; both are bounded so that a confused
 * peer cannot make the server allocate without limit.
 */
final class StoreProtocol {
    static final byte SET = 1;
    static final byte GET = 2;
    static final byte ADD = 3;
    static final byte CONTAINS = 4;
    static final byte SET_IF_ABSENT = 5;

    static final byte OK = 0;
    static final byte TIMEOUT = 1;
    static final byte ERROR = 2;

    static final int MAX_KEY_BYTES = 4096;
    static final int MAX_VALUE_BYTES = 64 << 20;

    private StoreProtocol() {
    }

    static void writeKey(DataOutputStream out, String key) throws IOException {
        byte[] bytes = key.getBytes(StandardCharsets.UTF_8);
        if (bytes.length > MAX_KEY_BYTES) {
            throw new IllegalArgumentException("store key longer than " + MAX_KEY_BYTES + " bytes: " + key);
        }
        out.writeShort(bytes.length);
        out.write(bytes);
    }

    static String readKey(DataInputStream in) throws IOException {
        int length = in.readUnsignedShort();
        if (length > MAX_KEY_BYTES) {
            throw new ProtocolException("key of " + length + " bytes");
        }
        byte[] bytes = new byte[length];
        in.readFully(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    static void writeValue(DataOutputStream out, byte[] value) throws IOException {
        if (value.length > MAX_VALUE_BYTES) {
            throw new IllegalArgumentException("store value of " + value.length + " bytes exceeds " + MAX_VALUE_BYTES);
        }
        out.writeInt(value.length);
        out.write(value);
    }

    static byte[] readValue(DataInputStream in) throws IOException {
        int length = in.readInt();
        if (length < 0 || length > MAX_VALUE_BYTES) {
            throw new ProtocolException("value of " + length + " bytes");
        }
        byte[] bytes = new byte[length];
        in.readFully(bytes);
        return bytes;
    }
}
