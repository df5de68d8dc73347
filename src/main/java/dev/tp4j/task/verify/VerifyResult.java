package dev.tp4j.task.verify;

import dev.tp4j.comm.CommStats;
import java.util.List;

/**
 * Everything {@code verify} found, complete on rank 0.
 *
 * @param shardShapes         per rank: column W rows, cols; row W rows, cols; mlp up W rows, cols; mlp down W rows, cols
 * @param verificationTraffic collectives verification itself ran (not part of any layer)
 * @param passed              the verdict every rank agreed on
 */
public record VerifyResult(VerifyOptions options, int worldSize, String backend, String communicator,
                           List<long[]> shardShapes, List<CheckResult> checks,
                           List<CommStats.Summary> verificationTraffic, boolean passed) {
}
