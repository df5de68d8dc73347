package dev.tp4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** What reaches the file descriptor, write by write. */
@Timeout(10)
class WholeLineOutputTest {
    /** Records each write it is given as one string. */
    private static final class Writes extends OutputStream {
        final List<String> writes = new ArrayList<>();

        @Override
        public void write(int b) {
            writes.add(String.valueOf((char) b));
        }

        @Override
        public void write(byte[] b, int off, int len) {
            writes.add(new String(b, off, len, StandardCharsets.UTF_8));
        }
    }

    @Test
    void aPrintfLineLeavesInOneWrite() {
        Writes fd = new Writes();
        PrintStream out = new PrintStream(new WholeLineOutput(fd), false, StandardCharsets.UTF_8);
        out.printf("  %-10s %8.2e %s%n", "row", 1.5e-7, "ok");
        out.print("verify: all ");
        out.print(4);
        out.println(" checks passed");
        assertEquals(List.of("  row        1.50e-07 ok\n", "verify: all 4 checks passed\n"), fd.writes);
    }

    @Test
    void textWithoutANewlineLeavesOnFlush() {
        Writes fd = new Writes();
        PrintStream out = new PrintStream(new WholeLineOutput(fd), false, StandardCharsets.UTF_8);
        out.print("Hello");
        assertEquals(List.of(), fd.writes);
        out.flush();
        out.print(" world\nand ");
        out.flush();
        assertEquals(List.of("Hello", " world\n", "and "), fd.writes);
    }

    @Test
    void aLineLongerThanWhatIsHeldLeavesUnbroken() {
        ByteArrayOutputStream fd = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(new WholeLineOutput(fd), false, StandardCharsets.UTF_8);
        String longLine = "x".repeat(WholeLineOutput.MAX_HELD + 10);
        out.print(longLine);
        assertEquals(longLine.length(), fd.size());
        out.println("Δ");
        assertEquals(longLine + "Δ\n", fd.toString(StandardCharsets.UTF_8));
    }
}
