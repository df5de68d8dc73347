package dev.tp4j.cli;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.Charset;
import java.util.Arrays;

/**
 * Standard output that reaches the file descriptor a whole line per write. The JVM's own {@code System.out}
 * writes every {@code print} through at once, so a report line made by {@code printf} left a worker in a
 * dozen writes of a few bytes; {@code mpirun --tag-output}, which tags each piece it reads from a rank's
 * pipe, then tagged one line many times. Text without a newline still goes out on {@link #flush()}
 * (generate streams its tokens so), and when a line outgrows {@link #MAX_HELD} bytes.
 */
final class WholeLineOutput extends OutputStream {
    /** Bytes held back at most while waiting for a newline. */
    static final int MAX_HELD = 64 * 1024;

    private final OutputStream out;
    private byte[] held = new byte[256];
    private int count;

    WholeLineOutput(OutputStream out) {
        this.out = out;
    }

    /** {@code System.out} replaced by one over this class, in the encoding it had. */
    static void install() {
        String encoding = System.getProperty("stdout.encoding", System.getProperty("sun.stdout.encoding"));
        Charset charset = encoding == null ? Charset.defaultCharset() : Charset.forName(encoding);
        System.setOut(new PrintStream(new WholeLineOutput(new FileOutputStream(FileDescriptor.out)), false, charset));
    }

    @Override
    public synchronized void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) throws IOException {
        if (count + len > held.length) {
            held = Arrays.copyOf(held, Math.max(held.length * 2, count + len));
        }
        System.arraycopy(b, off, held, count, len);
        count += len;
        int end = count;
        while (end > 0 && held[end - 1] != '\n') {
            end--;
        }
        if (count > MAX_HELD) {
            end = count;
        }
        if (end > 0) {
            out.write(held, 0, end);
            System.arraycopy(held, end, held, 0, count - end);
            count -= end;
        }
    }

    @Override
    public synchronized void flush() throws IOException {
        if (count > 0) {
            out.write(held, 0, count);
            count = 0;
        }
        out.flush();
    }

    @Override
    public synchronized void close() throws IOException {
        flush();
        out.close();
    }
}
