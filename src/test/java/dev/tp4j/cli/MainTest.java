package dev.tp4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.BadInputException;
import dev.tp4j.CommunicationException;
import dev.tp4j.files.OutputWriteException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Exit statuses and failure messages of {@code tp4j}, through a test task that fails on demand. */
class MainTest {

    @Command(name = "boom")
    static final class Boom implements Callable<Integer> {
        @Option(names = "--kind")
        String kind = "none";

        @Override
        public Integer call() {
            switch (kind) {
                case "bad-input" -> throw new BadInputException("--checkpoint /x.safetensors: no such file");
                case "comm" -> throw new CommunicationException("all_reduce: lost rank 3\n(connection reset)");
                case "wrapped" -> throw new IllegalStateException("while loading", new BadInputException("tensor 'w' missing"));
                case "runtime" -> throw new IllegalStateException("something broke");
                case "npe" -> throw new NullPointerException();
                case "error" -> throw new OutOfMemoryError("Java heap space");
                case "mismatch" -> {
                    return 1;
                }
                default -> {
                    return 0;
                }
            }
        }
    }

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        CommandLine cl = Main.commandLine(new PrintWriter(out), new PrintWriter(err));
        cl.addSubcommand(new CommandLine(new Boom()));
        cl.setOut(new PrintWriter(out)); // again, for the subcommand added after
        cl.setErr(new PrintWriter(err));
        return Main.execute(cl, args);
    }

    private void assertOneLine(String expected) {
        assertEquals(expected + System.lineSeparator(), err.toString());
        assertEquals("", out.toString());
    }

    @Test
    void successAndMismatch() {
        assertEquals(0, run("boom"));
        assertEquals("", err.toString());
        assertEquals(1, run("boom", "--kind", "mismatch"));
    }

    @Test
    void badInputIsTwoWithOneLine() {
        assertEquals(2, run("boom", "--kind", "bad-input"));
        assertOneLine("tp4j: --checkpoint /x.safetensors: no such file");
    }

    @Test
    void badInputAnywhereInTheCauseChainIsTwo() {
        assertEquals(2, run("boom", "--kind", "wrapped"));
        assertOneLine("tp4j: tensor 'w' missing");
    }

    @Test
    void communicationFailureIsOneWithItsMessageOnOneLine() {
        assertEquals(1, run("boom", "--kind", "comm"));
        assertOneLine("tp4j: all_reduce: lost rank 3; (connection reset)");
    }

    @Test
    void anythingElseIsOneWithoutAStackTrace() {
        assertEquals(1, run("boom", "--kind", "runtime"));
        assertOneLine("tp4j: IllegalStateException: something broke");
        err.getBuffer().setLength(0);
        assertEquals(1, run("boom", "--kind", "npe"));
        assertOneLine("tp4j: internal error: NullPointerException");
    }

    /** Issue 14, fault 5: a full disk began "UncheckedIOException:"; now one line naming the file and why. */
    @Test
    void anOutputThatCannotBeWrittenIsOneLineNamingTheFile() {
        OutputWriteException full = new OutputWriteException(java.nio.file.Path.of("/data/out.safetensors"),
                new java.io.IOException("No space left on device"));
        assertEquals("/data/out.safetensors: cannot write: no space left on device",
                Main.messageOf(new java.util.concurrent.ExecutionException(full)));
        assertEquals(1, Main.exitCodeOf(full));
    }

    @Test
    void anErrorIsOneToo() {
        assertEquals(1, run("boom", "--kind", "error"));
        String e = err.toString();
        assertTrue(e.startsWith("tp4j: out of memory (Java heap space)"), e);
        assertEquals(1, e.lines().count(), e);
    }

    @Test
    void debugAddsTheStackTraceWhereverItIsGiven() {
        assertEquals(1, run("--debug", "boom", "--kind", "runtime"));
        String e = err.toString();
        assertTrue(e.startsWith("tp4j: IllegalStateException: something broke" + System.lineSeparator()), e);
        assertTrue(e.contains("\tat dev.tp4j.cli.MainTest$Boom.call"), e);
        err.getBuffer().setLength(0);
        assertEquals(2, run("boom", "--debug", "--kind", "bad-input"));
        assertTrue(err.toString().contains("\tat "), err.toString());
    }

    @Test
    void usageErrorsAreTwoWithOneLineAndNoUsageText() {
        assertEquals(2, run("--bogus"));
        assertOneLine("tp4j: Unknown option: '--bogus'");
        err.getBuffer().setLength(0);
        assertEquals(2, run("boom", "--kind"));
        assertOneLine("tp4j: Missing required parameter for option '--kind' (<kind>)");
        err.getBuffer().setLength(0);
        assertEquals(2, run("nosuchcommand"));
        assertEquals(1, err.toString().lines().count(), err.toString());
        assertFalse(err.toString().contains("Usage"), err.toString());
    }

    @Test
    void noCommandIsUsageError() {
        assertEquals(2, run());
        String e = err.toString();
        assertTrue(e.startsWith("tp4j: missing command"), e);
        assertTrue(e.contains("verify"), e);
        assertEquals(1, e.lines().count(), e);
    }

    @Test
    void helpAndVersionAreZero() {
        assertEquals(0, run("--help"));
        assertTrue(out.toString().contains("launch"), out.toString());
        assertEquals(0, run("launch", "--help"), "help on every subcommand");
        assertEquals(0, run("--version"));
        assertTrue(out.toString().contains("tp4j "), out.toString());
        assertEquals("", err.toString());
    }

    @Test
    void exitCodeMapping() {
        assertEquals(2, Main.exitCodeOf(new BadInputException("x")));
        assertEquals(2, Main.exitCodeOf(new dev.tp4j.runtime.WorkerEnvironment.BadEnvironmentException("RANK")));
        assertEquals(1, Main.exitCodeOf(new CommunicationException("x")));
        assertEquals(1, Main.exitCodeOf(new CommunicationException("x", new BadInputException("inner"))),
                "the outermost known kind decides");
        assertEquals(1, Main.exitCodeOf(new RuntimeException("x")));
        assertEquals(2, Main.exitCodeOf(new RuntimeException(new BadInputException("x"))));
    }
}
