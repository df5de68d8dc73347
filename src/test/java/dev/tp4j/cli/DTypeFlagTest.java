package dev.tp4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code --dtype} on verify, mlp and bench: a bad value at parse time, a half dtype on CPU ranks at run time. */
class DTypeFlagTest {
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        CommandLine cl = Main.commandLine(new PrintWriter(out), new PrintWriter(err));
        return Main.execute(cl, args);
    }

    @Test
    void anUnknownDtypeIsUsageNamingTheFlag() {
        for (String task : new String[] {"verify", "bench", "mlp"}) {
            err.getBuffer().setLength(0);
            assertEquals(2, run(task, "--dtype", "bf8"));
            assertEquals("tp4j: --dtype bf8: expected auto, f32, bf16 or f16" + System.lineSeparator(), err.toString(), task);
        }
    }

    /** One CPU rank (no launcher environment): refused before any work, exit 2, one line. */
    @Test
    void halfPrecisionOnCpuRanksIsRefusedInOneLine() {
        assertEquals(2, run("verify", "--dtype", "bf16", "--hidden", "8", "--ffn", "8", "--batch", "1"));
        assertEquals("tp4j: --dtype bf16: CPU ranks compute in f32 only (bf16/f16 need the CUDA backend)"
                + System.lineSeparator(), err.toString());
    }
}
