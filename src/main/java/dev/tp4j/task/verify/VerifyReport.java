package dev.tp4j.task.verify;

import dev.tp4j.reference.Comparison;
import com.fasterxml.jackson.annotation.JsonInclude;
import dev.tp4j.comm.CollectiveTraffic;
import dev.tp4j.comm.LinkTraffic;
import dev.tp4j.report.Report;
import java.util.ArrayList;
import java.util.List;

/**
 * What {@code verify} reports: rank 0 prints it ({@link VerifyReportText}) and {@code --json} writes it
 * ({@link dev.tp4j.report.ReportJson}), both from one instance of this record.
 *
 * @param passed                   the verdict every rank agreed on
 * @param verificationCollectives  collectives verification itself ran (not part of any layer)
 * @param links                    rank 0's links and what it sent on each over the whole run (shared
 *                                 memory inside the node and TCP between nodes, for the hierarchical transport)
 */
public record VerifyReport(boolean passed, int worldSize, Options options, String backend, String communicator,
                           List<Shard> shards, List<Check> checks, List<CollectiveTraffic> verificationCollectives,
                           List<LinkTraffic> links)
        implements Report {

    @Override
    public String task() {
        return "verify";
    }

    /** The command line's choices: sizes, seed, the MLP's activation and form, repeats. */
    public record Options(int batch, int hidden, int ffn, long seed, String activation, boolean gated, boolean bias,
                          int repeat) {
    }

    /** The weight shapes one rank holds, each {@code [out, in]} as nn.Linear stores it. */
    public record Shard(int rank, List<Long> columnWeight, List<Long> rowWeight, List<Long> mlpUpWeight,
                        List<Long> mlpDownWeight) {
    }

    /**
     * One layer checked against its float64 reference.
     *
     * @param worstDiffOverBound    max over elements of |Δ| / bound: ≤ 1 passes
     * @param identicalOnAllRanks   false only for a replicated output that differs bitwise between ranks
     * @param driftRepeats          repeats whose output differed bitwise from the first run
     * @param collectives           what the layer's forward ran (per forward)
     * @param noCollectivesBecause  for a layer that runs none, why it needs none (absent otherwise)
     */
    public record Check(String layer, String claim, boolean passed, double maxAbsDiff, double maxBound,
                        double worstDiffOverBound, int elements, boolean identicalOnAllRanks, int driftRepeats,
                        List<CollectiveTraffic> collectives,
                        @JsonInclude(JsonInclude.Include.NON_NULL) String noCollectivesBecause) {
    }

    public static VerifyReport of(VerifyResult r) {
        VerifyOptions o = r.options();
        Options options = new Options(o.batch(), o.hidden(), o.ffn(), o.seed(), o.activation().cliName(), o.gated(),
                o.bias(), o.repeat());
        List<Shard> shards = new ArrayList<>();
        for (int rank = 0; rank < r.shardShapes().size(); rank++) {
            long[] s = r.shardShapes().get(rank);
            shards.add(new Shard(rank, List.of(s[0], s[1]), List.of(s[2], s[3]), List.of(s[4], s[5]),
                    List.of(s[6], s[7])));
        }
        List<Check> checks = new ArrayList<>();
        for (CheckResult c : r.checks()) {
            Comparison cmp = c.comparison();
            checks.add(new Check(c.name(), c.claim(), c.passed(), cmp.maxAbsDiff(), cmp.maxBound(), cmp.worstRatio(),
                    cmp.elements(), !c.replicated() || c.identical(), c.driftRepeats(),
                    CollectiveTraffic.allOf(c.traffic()), c.traffic().isEmpty() ? c.whyNoTraffic() : null));
        }
        return new VerifyReport(r.passed(), r.worldSize(), options, r.backend(), r.communicator(), List.copyOf(shards),
                List.copyOf(checks), CollectiveTraffic.allOf(r.verificationTraffic()), r.links());
    }
}
