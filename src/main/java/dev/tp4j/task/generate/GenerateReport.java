package dev.tp4j.task.generate;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.tp4j.report.Report;
import java.util.List;

/**
 * What {@code tp4j generate} reports: rank 0 prints it ({@link GenerateReportText}) and {@code --json}
 * writes it, both from this one record.
 *
 * @param tokens                the generated ids only, in order (an EOS that ended generation included)
 * @param text                  the generated tokens decoded, when the model has a tokenizer
 * @param loadSeconds           the slowest rank's load, from opening the directory to the model in memory
 * @param prefillMs             the prompt's forward and the choice of the first token
 * @param decodeMsPerToken      one token's forward and the choice of the next, averaged over the decode steps
 * @param tokensPerSecond       decode throughput, 1000 / decodeMsPerToken
 * @param decodeStepMs          how the decode steps spread: median, 90th percentile and slowest; absent
 *                              without decode steps
 * @param decodeBoundMs         with --bandwidth: the slowest rank's weight bytes ÷ its measured memory bandwidth,
 *                              the least time a decode step can take on these ranks
 * @param collectivesPerDecodeStep what one decode step ran, per op (identical on every rank)
 * @param verify                the prompt's logits against the float64 sequential model; absent without --verify
 * @param logitsFile            where the prompt's logits were written; absent without --logits
 * @param profile               with --profile: where rank 0's prefill and decode steps spend their time
 */
public record GenerateReport(boolean passed, int worldSize, String backend, String communicator, String model,
                             String architecture, List<Integer> promptIds, List<Integer> tokens,
                             @JsonInclude(JsonInclude.Include.NON_NULL) String text, boolean stoppedAtEos,
                             double loadSeconds, double prefillMs, double decodeMsPerToken, double tokensPerSecond,
                             int decodeSteps, @JsonInclude(JsonInclude.Include.NON_NULL) StepSpread decodeStepMs,
                             @JsonInclude(JsonInclude.Include.NON_NULL) Double decodeBoundMs,
                             List<Rank> ranks, List<StepCollectives> collectivesPerDecodeStep,
                             @JsonInclude(JsonInclude.Include.NON_NULL) Verification verify,
                             @JsonInclude(JsonInclude.Include.NON_NULL) String logitsFile,
                             @JsonInclude(JsonInclude.Include.NON_NULL) Profile profile) implements Report {

    @Override
    public String task() {
        return "generate";
    }

    /**
     * One rank's share of the model.
     *
     * @param weightBytes the weights it holds in memory (F32 on CPU ranks)
     * @param storedBytes the checkpoint bytes it read (only its own)
     * @param cacheBytes  its KV cache, preallocated for prompt + new tokens
     * @param decodeBytesPerToken what one decode step reads from memory (at the mean decode position): every
     *                    weight but the embedding table (one row of it), and the KV cache so far
     * @param memoryGigabytesPerSecond with --bandwidth: what it read from memory per second, all ranks at once
     */
    public record Rank(int rank, long weightBytes, long storedBytes, long cacheBytes, long decodeBytesPerToken,
                       double loadSeconds,
                       long collectivesPerDecodeStep,
                       @JsonInclude(JsonInclude.Include.NON_NULL) Double memoryGigabytesPerSecond) {
    }

    /**
     * Where one rank's time went: the prefill (one step) and a decode step (averaged over the steps), each a
     * list of operations and collectives, then what is left outside them.
     */
    public record Profile(int rank, List<ProfileLine> prefill, List<ProfileLine> decodeStep) {
    }

    /**
     * One operation in a step: {@code linear RxC} for a weight of that shape, a compute op, a collective
     * (its time includes waiting for the other ranks), or {@link #OUTSIDE}.
     */
    public record ProfileLine(String op, double calls, double ms) {
        /** The step's time not spent in any timed call: the Java between calls, choosing the token. */
        public static final String OUTSIDE = "outside these calls";
    }

    /** Decode step times in ms, nearest-rank percentiles over the steps (vLLM reports its TPOT so). */
    public record StepSpread(double median, double p90, double max) {
    }

    /** One kind of collective in a decode step: how many and how many bytes each step moves. */
    public record StepCollectives(String op, double count, double bytes) {
    }

    /**
     * The prompt's logits against the float64 model: the largest difference and the rigorous bound it must
     * stay within. The bound grows with depth and width; {@code boundInformative} says whether it is still
     * below the logits' own scale ({@code maxAbsLogit}), i.e. whether the check can catch an error at all.
     */
    public record Verification(double maxAbsDiff, double maxBound, double worstDiffOverBound, boolean passed,
                               double maxAbsLogit, boolean boundInformative) {
    }
}
