package dev.tp4j.launch;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Copies the output of worker processes to the launcher's stdout and stderr, one whole line at a time,
 * each prefixed with its rank ({@code "[3] "}). A line is written with a single write under one lock
 * shared by both streams, so lines of different workers never interleave mid-line, even when stdout and
 * stderr end up in the same file. Bytes pass through unchanged (no charset decoding).
 */
final class RankOutput {

    /** A line longer than this is cut into pieces (each written as a line) rather than held in memory. */
    static final int MAX_LINE = 1 << 16;

    private final OutputStream out;
    private final OutputStream err;
    private final Object lock = new Object();

    RankOutput(OutputStream out, OutputStream err) {
        this.out = out;
        this.err = err;
    }

    /** Writes {@code "tp4j: " + text} as one line on stderr. */
    void message(String text) {
        byte[] b = ("tp4j: " + text + "\n").getBytes(StandardCharsets.UTF_8);
        write(err, b, b.length);
    }

    /** A daemon thread that copies {@code in} to stdout (or stderr) line by line until end of stream. */
    Thread pump(InputStream in, boolean toErr, String prefix, String threadName) {
        OutputStream target = toErr ? err : out;
        byte[] pre = prefix.getBytes(StandardCharsets.UTF_8);
        Thread t = new Thread(() -> copyLines(in, target, pre), threadName);
        t.setDaemon(true);
        t.start();
        return t;
    }

    private void copyLines(InputStream in, OutputStream target, byte[] prefix) {
        byte[] buf = new byte[8192];
        byte[] line = new byte[prefix.length + 256];
        System.arraycopy(prefix, 0, line, 0, prefix.length);
        int len = prefix.length;
        try (in) {
            int n;
            while ((n = in.read(buf)) > 0) {
                for (int i = 0; i < n; i++) {
                    byte b = buf[i];
                    if (len == line.length) {
                        line = Arrays.copyOf(line, line.length * 2);
                    }
                    line[len++] = b;
                    if (b == '\n' || len - prefix.length >= MAX_LINE) {
                        if (b != '\n') {
                            line = ensure(line, len + 1);
                            line[len++] = '\n';
                        }
                        write(target, line, len);
                        len = prefix.length;
                    }
                }
            }
        } catch (IOException e) {
            // The worker's end closed abnormally: flush what we have below.
        }
        if (len > prefix.length) {
            line = ensure(line, len + 1);
            line[len++] = '\n';
            write(target, line, len);
        }
    }

    private static byte[] ensure(byte[] a, int size) {
        return a.length >= size ? a : Arrays.copyOf(a, size);
    }

    private void write(OutputStream target, byte[] b, int len) {
        synchronized (lock) {
            try {
                target.write(b, 0, len);
                target.flush();
            } catch (IOException e) {
                // Our own stdout/stderr is gone (e.g. a closed pipe): keep draining the worker.
            }
        }
    }
}
