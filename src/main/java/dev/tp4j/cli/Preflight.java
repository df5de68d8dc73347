package dev.tp4j.cli;

/**
 * A task whose inputs can be checked before any worker starts (files exist, headers parse, shapes
 * chain). {@code tp4j launch} calls it once after parsing the task's options, so bad input is one line
 * and exit 2 from the launcher, not the same message from every rank. Must only read.
 */
interface Preflight {
    /**
     * @param worldSize the ranks the job will have (the launcher's nodes × workers per node)
     * @param gpuRanks  whether the ranks will compute on CUDA devices
     */
    void preflight(int worldSize, boolean gpuRanks);
}
