package dev.tp4j.task.verify;

import dev.tp4j.reference.Comparison;
import dev.tp4j.comm.CommStats;
import java.util.List;

/**
 * One check of {@code verify}: a layer run on every rank, compared on rank 0 with its float64 reference.
 *
 * @param name          the layer, as the report names it
 * @param claim         what equality the check establishes
 * @param comparison    the parallel result against the reference
 * @param replicated    whether the layer's output is meant to be the same on every rank
 * @param identical     for replicated outputs: every rank's output bitwise equal to rank 0's
 * @param traffic       the collectives the layer's forward ran (per forward)
 * @param whyNoTraffic  for a layer that needs none, why
 * @param driftRepeats  repeats whose output differed bitwise from the first run (0 when stable)
 */
public record CheckResult(String name, String claim, Comparison comparison, boolean replicated, boolean identical,
                          List<CommStats.Summary> traffic, String whyNoTraffic, int driftRepeats) {

    public boolean passed() {
        return comparison.passed() && (!replicated || identical) && driftRepeats == 0;
    }
}
