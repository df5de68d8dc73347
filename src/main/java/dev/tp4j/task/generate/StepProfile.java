package dev.tp4j.task.generate;

import dev.tp4j.backend.TimedBackend;
import dev.tp4j.comm.CollectiveOp;
import dev.tp4j.comm.CommStats;
import dev.tp4j.comm.Communicator;
import dev.tp4j.model.Generator;
import java.util.ArrayList;
import java.util.List;

/**
 * Where this rank's prefill and decode steps spend their time ({@code generate --profile}): the compute calls
 * a {@link TimedBackend} timed and the collectives the communicator's stats timed, split at the first token.
 * A collective's time includes waiting for the slowest rank to arrive, which is how rank imbalance and a
 * stalled peer show.
 */
final class StepProfile {
    private final TimedBackend timed;
    private final Communicator comm;
    private final CommStats.Snapshot atStart;
    private List<TimedBackend.Entry> prefillCompute;
    private CommStats.Snapshot prefillCollectives;

    /** Starts timing now: what follows, up to the first {@link #tokenChosen}, is the prefill. */
    StepProfile(TimedBackend timed, Communicator comm) {
        this.timed = timed;
        this.comm = comm;
        this.timed.reset();
        this.atStart = comm.stats().snapshot();
    }

    /** A token was chosen; the first ends the prefill, and the decode steps begin. */
    void tokenChosen() {
        if (prefillCompute != null) {
            return;
        }
        prefillCompute = timed.entries();
        prefillCollectives = comm.stats().since(atStart);
        timed.reset();
    }

    GenerateReport.Profile report(Generator.Outcome outcome) {
        List<GenerateReport.ProfileLine> prefill = prefillCompute == null ? List.of()
                : lines(prefillCompute, prefillCollectives, 1, outcome.prefillMs());
        int steps = outcome.decodeSteps();
        List<GenerateReport.ProfileLine> decode = steps == 0 ? List.of()
                : lines(timed.entries(), outcome.decodeTraffic(), steps, outcome.decodeMsPerToken());
        return new GenerateReport.Profile(comm.rank(), prefill, decode);
    }

    /** Per step: each operation, each collective, and the rest of the step's time. */
    private static List<GenerateReport.ProfileLine> lines(List<TimedBackend.Entry> compute, CommStats.Snapshot collectives,
                                                          int steps, double stepMs) {
        List<GenerateReport.ProfileLine> out = new ArrayList<>();
        double accounted = 0;
        for (TimedBackend.Entry e : compute) {
            double ms = e.nanos() / 1e6 / steps;
            out.add(new GenerateReport.ProfileLine(e.op(), (double) e.calls() / steps, ms));
            accounted += ms;
        }
        for (CommStats.Summary s : collectives.summaries()) {
            if (s.count() > 0 && s.op() != CollectiveOp.BARRIER) {
                double ms = s.nanos() / 1e6 / steps;
                out.add(new GenerateReport.ProfileLine(s.op().label(), (double) s.count() / steps, ms));
                accounted += ms;
            }
        }
        out.add(new GenerateReport.ProfileLine(GenerateReport.ProfileLine.OUTSIDE, 0, Math.max(0, stepMs - accounted)));
        return out;
    }
}
