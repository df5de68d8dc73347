package dev.tp4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tp4j.comm.CommStats;
import org.junit.jupiter.api.Test;

class GeneratorOutcomeTest {
    private static Generator.Outcome withSteps(long... stepMs) {
        long[] nanos = new long[stepMs.length];
        long total = 0;
        for (int i = 0; i < stepMs.length; i++) {
            nanos[i] = stepMs[i] * 1_000_000L;
            total += nanos[i];
        }
        return new Generator.Outcome(new int[stepMs.length + 1], null, 0, total, stepMs.length, nanos,
                CommStats.Snapshot.EMPTY, false);
    }

    @Test
    void stepPercentilesAreNearestRank() {
        Generator.Outcome o = withSteps(50, 10, 30, 20, 40, 60, 70, 80, 90, 200);
        assertEquals(65, o.decodeMsPerToken(), 1e-9);
        assertEquals(50, o.decodeStepMs(0.5), 1e-9);
        assertEquals(90, o.decodeStepMs(0.9), 1e-9);
        assertEquals(200, o.decodeStepMs(1), 1e-9);
        assertEquals(10, o.decodeStepMs(0), 1e-9);
    }

    @Test
    void oneStepIsEveryPercentileAndNoStepsIsZero() {
        assertEquals(7, withSteps(7).decodeStepMs(0.5), 1e-9);
        assertEquals(7, withSteps(7).decodeStepMs(0.9), 1e-9);
        assertEquals(0, withSteps().decodeStepMs(0.5), 1e-9);
    }
}
