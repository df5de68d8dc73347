package dev.tp4j.runtime;

import dev.tp4j.runtime.WorkerEnvironment.BadEnvironmentException;

/**
 * What one launcher's variables say this process is, with the variables' own names, so that a
 * contradiction is reported in the words the user set or the launcher wrote ({@code SLURM_PROCID=4 is not
 * below SLURM_NTASKS=4}) rather than in tp4j's.
 *
 * @param source          the convention ("torchrun", "slurm", "openmpi")
 * @param rankVar         the variable that gave the rank
 * @param worldVar        the variable that gave the world size
 * @param localRankVar    the variable that gave the local rank, or null when it was derived
 * @param localWorldText  how the local world size was found, e.g. {@code LOCAL_WORLD_SIZE=2}
 */
record RankClaim(String source, String rankVar, int rank, String worldVar, int worldSize,
                 String localRankVar, int localRank, String localWorldText, int localWorldSize) {

    /** This claim checked against itself: every contradiction inside one launcher's variables is bad input. */
    RankClaim consistent() {
        if (worldSize < 1) {
            throw new BadEnvironmentException(worldVar + "=" + worldSize + " must be at least 1");
        }
        if (rank < 0 || rank >= worldSize) {
            throw new BadEnvironmentException(rankVar + "=" + rank + " is outside 0.." + (worldSize - 1)
                    + " (" + worldVar + "=" + worldSize + ")");
        }
        if (localWorldSize < 1 || localWorldSize > worldSize) {
            throw new BadEnvironmentException(localWorldText + " is outside 1.." + worldSize
                    + " (" + worldVar + "=" + worldSize + ")");
        }
        if (localRank < 0 || localRank >= localWorldSize) {
            throw new BadEnvironmentException(localRankText() + " is outside 0.." + (localWorldSize - 1)
                    + " (" + localWorldText + ")");
        }
        // Ranks on one host are numbered below every rank after them: a local rank above the global rank
        // cannot come from one consistent launch.
        if (localRank > rank) {
            throw new BadEnvironmentException(localRankText() + " is larger than " + rankVar + "=" + rank);
        }
        return this;
    }

    /**
     * Bad input when {@code outer}, another launcher's view of this same process, contradicts this one.
     * Used only where no launcher marked this claim as its workers' (see {@link WorkerEnvironment}). An
     * unmarked launcher inside the outer task (a wrapper script, a test harness) still starts at least one
     * worker per outer task, so a larger world is such a job of its own; a smaller world, or the same
     * world numbered differently, cannot be one.
     */
    void mustAgreeWith(RankClaim outer) {
        String hint = ": two launchers' variables for one process disagree (stale ones exported by hand?"
                + " a launcher started inside " + outer.source + " marks its workers with "
                + WorkerEnvironment.NESTED_LAUNCHER_MARKERS + ")";
        if (worldSize > outer.worldSize) {
            return;
        }
        if (worldSize < outer.worldSize) {
            throw new BadEnvironmentException(worldVar + "=" + worldSize + " but " + outer.worldVar + "="
                    + outer.worldSize + hint);
        }
        if (rank != outer.rank) {
            throw new BadEnvironmentException(rankVar + "=" + rank + " but " + outer.rankVar + "=" + outer.rank + hint);
        }
        if (localRankVar != null && outer.localRankVar != null && localRank != outer.localRank) {
            throw new BadEnvironmentException(localRankVar + "=" + localRank + " but " + outer.localRankVar + "="
                    + outer.localRank + hint);
        }
    }

    private String localRankText() {
        return (localRankVar == null ? "the local rank" : localRankVar) + "=" + localRank;
    }
}
