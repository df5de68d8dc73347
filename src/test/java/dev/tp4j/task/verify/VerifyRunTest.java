package dev.tp4j.task.verify;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.backend.cpu.CpuBackend;
import dev.tp4j.comm.CollectiveOp;
import dev.tp4j.comm.CommStats;
import dev.tp4j.backend.Activation;
import dev.tp4j.testing.InMemoryGroup;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class VerifyRunTest {

    @ParameterizedTest(name = "tp={0} hidden={1} ffn={2} {3} gated={4}")
    @CsvSource({"1,32,64,gelu,false", "2,32,64,relu,false", "3,31,70,silu,true", "4,24,90,gelu_tanh,false",
                "4,20,42,silu,true"})
    void everyCheckPassesWithTheExpectedCollectives(int tp, int hidden, int ffn, String act, boolean gated)
            throws Exception {
        VerifyOptions options = new VerifyOptions(3, hidden, ffn, 99, Activation.parse(act), gated, true, 2);
        List<VerifyResult> results = InMemoryGroup.run(tp,
                comm -> new VerifyRun(new CpuBackend(1), comm, options).run());
        VerifyResult r = results.get(0);
        assertTrue(r.passed(), () -> render(r));
        assertEquals(4, r.checks().size());
        assertEquals(List.of(), r.checks().get(0).traffic(), "column-parallel runs no collective");
        assertOnly(r.checks().get(1).traffic(), CollectiveOp.ALL_GATHER);
        assertOnly(r.checks().get(2).traffic(), CollectiveOp.ALL_REDUCE);
        assertOnly(r.checks().get(3).traffic(), CollectiveOp.ALL_REDUCE);
        assertEquals(tp, r.shardShapes().size());
        long ffnRows = 0;
        for (long[] s : r.shardShapes()) {
            ffnRows += s[0];
            assertEquals(hidden, s[1]);
        }
        assertEquals(ffn, ffnRows, "the column shards add up to the full output");
        for (VerifyResult other : results) {
            assertTrue(other.passed(), "every rank has the same verdict");
        }
        String text = render(r);
        assertTrue(text.contains("none — each rank computes its own output columns"), text);
        assertTrue(text.contains("verify: all 4 checks passed"), text);
    }

    @ParameterizedTest(name = "tp={0}")
    @CsvSource({"2", "3"})
    void shardShapesFollowThePartitionRule(int tp) throws Exception {
        VerifyOptions options = new VerifyOptions(2, 10, 7, 1, Activation.RELU, false, false, 1);
        List<VerifyResult> results = InMemoryGroup.run(tp,
                comm -> new VerifyRun(new CpuBackend(1), comm, options).run());
        List<long[]> shapes = results.get(0).shardShapes();
        for (int r = 0; r < tp; r++) {
            long ffnRows = 7 / tp + (r < 7 % tp ? 1 : 0);
            assertArrayEquals(new long[] {ffnRows, 10, 10, ffnRows, ffnRows, 10, 10, ffnRows}, shapes.get(r));
        }
    }

    private static void assertOnly(List<CommStats.Summary> traffic, CollectiveOp op) {
        assertEquals(1, traffic.size(), traffic::toString);
        assertEquals(op, traffic.get(0).op());
        assertEquals(1, traffic.get(0).count());
    }

    private static String render(VerifyResult r) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        VerifyReportText.print(VerifyReport.of(r), new PrintStream(bytes, true, StandardCharsets.UTF_8));
        return bytes.toString(StandardCharsets.UTF_8);
    }
}
