package dev.tp4j.comm.tcp;

import java.io.IOException;
import java.nio.channels.SocketChannel;

/**
 * A rank's two authenticated ring connections, in non-blocking mode: it only writes to {@code toNext}
 * (rank r+1) and only reads from {@code fromPrev} (rank r-1). With two ranks these are two different
 * connections to the same peer, so both directions stream at once.
 */
record RingLinks(SocketChannel toNext, String nextEndpoint, SocketChannel fromPrev, String prevEndpoint) {

    void close() {
        closeQuietly(toNext);
        closeQuietly(fromPrev);
    }

    static void closeQuietly(java.nio.channels.Channel c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (IOException e) {
            // already gone: nothing left to release
        }
    }
}
