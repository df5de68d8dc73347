package dev.tp4j.cli;

import java.io.Console;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * Whether a person is watching, and a way to draw on their terminal. A worker of {@code tp4j launch}
 * has its output piped through the launcher (which prefixes whole lines), so it learns from
 * {@link #ENV} that the launcher sits on a terminal and draws transient things (a progress bar) on the
 * controlling terminal, {@code /dev/tty}, leaving its piped output to whole lines.
 */
final class Terminal {
    /** Set by the launcher for its workers when its own output is an interactive terminal. */
    static final String ENV = "TP4J_INTERACTIVE";

    private Terminal() {
    }

    /** This process's own stdin and stdout are a terminal. */
    static boolean isInteractive() {
        Console console = System.console();
        if (console == null) {
            return false;
        }
        try { // Java 22+ returns a Console even when redirected; isTerminal() tells the difference.
            return (Boolean) Console.class.getMethod("isTerminal").invoke(console);
        } catch (ReflectiveOperationException e) {
            return true; // before Java 22 a non-null console is a terminal
        }
    }

    /** A person watches this worker: its launcher said so, or it runs on a terminal itself. */
    static boolean watched() {
        return "1".equals(System.getenv(ENV)) || isInteractive();
    }

    /** The controlling terminal for drawing, or null when there is none to open. */
    static PrintStream open() {
        try {
            OutputStream tty = new FileOutputStream("/dev/tty");
            return new PrintStream(tty, true, StandardCharsets.UTF_8);
        } catch (IOException | SecurityException e) {
            return null;
        }
    }
}
