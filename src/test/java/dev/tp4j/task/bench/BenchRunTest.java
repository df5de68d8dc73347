package dev.tp4j.task.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.backend.cpu.CpuBackend;
import dev.tp4j.comm.CollectiveOp;
import dev.tp4j.backend.Activation;
import dev.tp4j.report.ReportJson;
import dev.tp4j.testing.InMemoryGroup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BenchRunTest {

    @Test
    void busBandwidthFollowsNcclTestsDefinitions() {
        assertEquals(1.0, BusBandwidth.factor(CollectiveOp.ALL_REDUCE, 2), 0);
        assertEquals(1.5, BusBandwidth.factor(CollectiveOp.ALL_REDUCE, 4), 0);
        assertEquals(0.75, BusBandwidth.factor(CollectiveOp.ALL_GATHER, 4), 0);
        assertEquals(2.0 / 3, BusBandwidth.factor(CollectiveOp.REDUCE_SCATTER, 3), 1e-15);
        assertEquals(1.0, BusBandwidth.factor(CollectiveOp.BROADCAST, 8), 0);
        assertEquals(2.0, BusBandwidth.gbPerSecond(2_000_000, 1.0), 1e-12);
    }

    @Test
    void quantilesInterpolateBetweenOrderStatistics() {
        Samples s = new Samples(new long[] {5_000_000, 1_000_000, 3_000_000, 2_000_000, 4_000_000});
        assertEquals(3.0, s.medianMs(), 1e-12);
        assertEquals(1.4, s.p10Ms(), 1e-12);
        assertEquals(4.6, s.p90Ms(), 1e-12);
    }

    @Test
    void everyMeasurementIsReportedAndPlotted(@TempDir Path dir) throws Exception {
        BenchOptions o = new BenchOptions(4, 16, 24, Activation.GELU, 1, 3, 1024, 16 * 1024);
        List<List<BenchResult>> all = InMemoryGroup.run(3, comm -> new BenchRun(new CpuBackend(1), comm, o).run());
        List<BenchResult> results = all.get(0);
        long gemms = results.stream().filter(r -> r.kind().equals("gemm")).count();
        long collectives = results.stream().filter(r -> r.kind().equals("collective")).count();
        long mlps = results.stream().filter(r -> r.kind().equals("mlp")).count();
        assertEquals(2, gemms);
        assertEquals(4 * o.collectiveSizes().length, collectives, "four ops per size");
        assertEquals(3, o.collectiveSizes().length, "1, 4 and 16 KiB");
        assertEquals(1, mlps);
        for (BenchResult r : results) {
            assertTrue(r.p10Ms() <= r.medianMs() && r.medianMs() <= r.p90Ms(), r::toString);
            assertEquals(3, r.tp());
        }
        Path png = dir.resolve("b.png");
        BenchPlotter.write(png, results, "test");
        byte[] head = Files.readAllBytes(png);
        assertTrue(head.length > 1000 && head[1] == 'P' && head[2] == 'N' && head[3] == 'G', "a PNG file");
    }

    /** --collectives-only: the sweep alone, and the text leaves out the sections it did not measure. */
    @Test
    void collectivesOnlyMeasuresTheSweepAlone() throws Exception {
        BenchOptions o = new BenchOptions(4, 16, 24, Activation.GELU, 1, 3, 1024, 4096,
                dev.tp4j.backend.DTypeChoice.AUTO, true);
        List<BenchResult> results = InMemoryGroup.run(2, comm -> new BenchRun(new CpuBackend(1), comm, o).run()).get(0);
        assertEquals(4 * 2, results.size(), "four ops at 1 and 4 KiB");
        assertTrue(results.stream().allMatch(r -> r.kind().equals("collective")), results::toString);
        String text = dev.tp4j.testutil.ReportText.printed(out -> BenchReportText.print(new BenchReport("h", results), out));
        assertTrue(text.contains("Collectives (") && !text.contains("Local GEMM") && !text.contains("Megatron MLP"), text);
    }

    @Test
    void resultsReadBackFromJsonAndRunsAtSeveralTpDrawOneBarEach(@TempDir Path dir) throws Exception {
        BenchOptions o = new BenchOptions(4, 16, 24, Activation.RELU, 1, 3, 1024, 1024);
        List<BenchResult> all = new java.util.ArrayList<>();
        for (int tp : new int[] {2, 1}) {
            List<BenchResult> run = InMemoryGroup.run(tp, comm -> new BenchRun(new CpuBackend(1), comm, o).run()).get(0);
            Path json = dir.resolve("tp" + tp + ".json");
            ReportJson.write(json, new BenchReport("tp4j bench: " + tp + " ranks", run));
            List<BenchResult> back = BenchResultsFile.read(json);
            assertEquals(run, back, "the JSON holds every field of every result");
            all.addAll(back);
        }
        assertEquals(List.of(1, 2), List.copyOf(BenchPlotter.mlpByTp(all).keySet()), "one MLP bar per tp, in order");
        BenchPlotter.write(dir.resolve("sweep.png"), all, "test");
        assertTrue(Files.size(dir.resolve("sweep.png")) > 1000);
    }

    @Test
    void aFileThatIsNotBenchOutputIsBadInput(@TempDir Path dir) throws Exception {
        Path verify = Files.writeString(dir.resolve("v.json"), "{\"task\": \"verify\", \"checks\": []}");
        dev.tp4j.BadInputException e = org.junit.jupiter.api.Assertions.assertThrows(dev.tp4j.BadInputException.class,
                () -> BenchResultsFile.read(verify));
        assertTrue(e.getMessage().startsWith(verify + ": not the output of tp4j bench --json"), e.getMessage());
        assertTrue(org.junit.jupiter.api.Assertions.assertThrows(dev.tp4j.BadInputException.class,
                () -> BenchResultsFile.read(dir.resolve("none.json"))).getMessage().endsWith("file not found"));
    }
}
