package dev.tp4j.task.mlp;

import dev.tp4j.checkpoint.MlpLayout;
import dev.tp4j.comm.CommStats;
import dev.tp4j.tensor.Shape;
import dev.tp4j.reference.Comparison;
import java.util.List;

/**
 * What one {@code tp4j mlp} run did, as rank 0 reports it.
 *
 * @param loads          each rank's shard: shapes held, stored bytes read from the checkpoint, load time
 * @param forwardTraffic the collectives of the forward (this rank's view): the MLP's one all_reduce
 * @param reportTraffic  collectives run only to build this report (gathering the ranks' load figures)
 * @param verification   the comparison with the float64 sequential result (rank 0 only); null without {@code --verify}
 * @param passed         rank 0's verdict, shared with every rank; true without {@code --verify}
 * @param outputWritten  false when {@code --verify} failed (nothing is written then)
 */
public record MlpResult(MlpOptions options, int worldSize, String backend, String communicator, MlpLayout layout,
                        Shape inputShape, int tokens, List<RankLoad> loads, long forwardNanos,
                        List<CommStats.Summary> forwardTraffic, List<CommStats.Summary> reportTraffic,
                        Comparison verification, boolean passed,
                        boolean outputWritten) {

    /** One rank's shard and what loading it cost. */
    public record RankLoad(int rank, long upRows, long downColumns, long bytesRead, long shardBytes, long loadNanos) {
    }
}
