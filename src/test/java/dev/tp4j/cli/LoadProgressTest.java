package dev.tp4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tp4j.checkpoint.LoadListener;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class LoadProgressTest {

    @Test
    void onlyRankZeroReportsProgressButAnyRankWarnsOfNanWeights() {
        ByteArrayOutputStream lines = new ByteArrayOutputStream();
        ByteArrayOutputStream warnings = new ByteArrayOutputStream();
        LoadListener rank1 = LoadProgress.forRank(1, new PrintStream(lines, true, StandardCharsets.UTF_8),
                new PrintStream(warnings, true, StandardCharsets.UTF_8));
        rank1.started(100);
        rank1.tensorLoaded("m.up_proj.weight", Shape.of(2, 3), DType.F32, 24, 1000);
        rank1.nonFinite("m.down_proj.weight", 3, 7);
        rank1.finished();
        assertEquals("", lines.toString(StandardCharsets.UTF_8), "progress is rank 0's");
        assertEquals("tp4j: warning: rank 1: m.down_proj.weight holds 3 NaN or infinite values in its shard (first at "
                + "element 7): outputs that read it will be NaN\n",
                warnings.toString(StandardCharsets.UTF_8).replace(System.lineSeparator(), "\n"));
    }

    @Test
    void aLinePerTensorWithShardDtypeBytesAndTime() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        LoadListener lines = new LoadProgress.Lines(new PrintStream(bytes, true, StandardCharsets.UTF_8));
        lines.started(3 << 20);
        lines.advanced(1 << 20);
        lines.tensorLoaded("m.up_proj.weight", Shape.of(512, 1024), DType.BF16, 1 << 20, 12_345_678);
        lines.finished();
        assertEquals("loaded m.up_proj.weight: shard [512, 1024] of BF16, 1.0 MiB in 0.012 s\n",
                bytes.toString(StandardCharsets.UTF_8).replace(System.lineSeparator(), "\n"));
    }

    @Test
    void aSmallShardGetsLinesEvenOnATerminal() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        LoadListener watched = new LoadProgress.BarOrLines(new PrintStream(bytes, true, StandardCharsets.UTF_8));
        watched.started(LoadProgress.BAR_THRESHOLD_BYTES - 1);
        watched.tensorLoaded("w", Shape.of(2), DType.F32, 8, 1000);
        watched.finished();
        assertEquals("loaded w: shard [2] of F32, 8 B in 0.000 s\n",
                bytes.toString(StandardCharsets.UTF_8).replace(System.lineSeparator(), "\n"));
    }
}
