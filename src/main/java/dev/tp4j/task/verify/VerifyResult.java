package dev.tp4j.task.verify;

import dev.tp4j.comm.CommStats;
import dev.tp4j.comm.LinkTraffic;
import java.util.List;

/**
 * Everything {@code verify} found, complete on rank 0.
 *
 * @param shardShapes         per rank: column W rows, cols; row W rows, cols; mlp up W rows, cols; mlp down W rows, cols
 * @param verificationTraffic collectives verification itself ran (not part of any layer)
 * @param links               rank 0's links (one, or shared memory and TCP for the hierarchical transport)
 *                            and what it sent on each over the whole run
 * @param passed              the verdict every rank agreed on
 */
public record VerifyResult(VerifyOptions options, int worldSize, String backend, String communicator,
                           List<long[]> shardShapes, List<CheckResult> checks,
                           List<CommStats.Summary> verificationTraffic, List<LinkTraffic> links,
                           boolean passed) {
}
