package dev.tp4j.task.generate;

import dev.tp4j.BadInputException;
import dev.tp4j.backend.Backend;
import dev.tp4j.backend.TimedBackend;
import dev.tp4j.comm.CollectiveOp;
import dev.tp4j.comm.CommStats;
import dev.tp4j.comm.Communicator;
import dev.tp4j.comm.Exchange;
import dev.tp4j.io.ModelDirectory;
import dev.tp4j.io.SafetensorsWriter;
import dev.tp4j.model.DecoderLayout;
import dev.tp4j.model.DecoderModel;
import dev.tp4j.model.Generator;
import dev.tp4j.model.HeadSharding;
import dev.tp4j.model.ModelConfig;
import dev.tp4j.model.Sampler;
import dev.tp4j.reference.Bounded;
import dev.tp4j.reference.Comparison;
import dev.tp4j.reference.Float64Decoder;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * {@code tp4j generate} on one rank: load this rank's shard of the model, generate in step with the
 * other ranks, and (rank 0) stream the tokens, write the prompt's logits and build the report.
 */
public final class GenerateRun {
    private static final int ROOT = 0;
    /** Larger than any CPU's caches, small beside a model. */
    private static final long BANDWIDTH_PROBE_BYTES = 512L << 20;

    private final Backend backend;
    private final Communicator comm;
    private final GenerateOptions options;
    private final Inputs inputs;
    private final PrintStream stream;

    /**
     * @param inputs what {@link #checkInputs} made of {@code options}
     * @param stream where rank 0 streams the generated tokens as they are made
     */
    public GenerateRun(Backend backend, Communicator comm, GenerateOptions options, Inputs inputs, PrintStream stream) {
        this.backend = backend;
        this.comm = comm;
        this.options = options;
        this.inputs = inputs;
        this.stream = stream;
    }

    /** The prompt as ids and the model's config, checked against each other. */
    public record Inputs(ModelConfig config, int[] promptIds) {
        /** Refuses a tp the attention heads cannot be split over, naming the tp values that work. */
        public void checkTensorParallel(int tp) {
            HeadSharding.of(config.numHeads(), config.numKvHeads(), tp, 0);
        }
    }

    /**
     * Everything that can be checked from the headers, before any worker starts: the directory, its
     * config, every tensor's presence and shape, the prompt's ids against the vocabulary, and the length
     * of the generation against the model's positions.
     */
    public static Inputs checkInputs(GenerateOptions options) {
        try (ModelDirectory dir = ModelDirectory.open(options.model())) {
            ModelConfig config = ModelConfig.read(dir);
            new DecoderLayout(config).check(dir);
            int[] ids = promptIds(options, dir);
            if (ids.length == 0) {
                throw new BadInputException("the prompt is empty: give at least one token");
            }
            for (int i = 0; i < ids.length; i++) {
                if (ids[i] < 0 || ids[i] >= config.vocabSize()) {
                    throw new BadInputException("--prompt-ids: id " + ids[i] + " (position " + i + ") is outside the "
                            + "model's vocabulary [0, " + config.vocabSize() + ")");
                }
            }
            config.checkSequenceLength(ids.length + options.maxNewTokens(),
                    "prompt (" + ids.length + ") + --max-new-tokens (" + options.maxNewTokens() + ")");
            return new Inputs(config, ids);
        }
    }

    private static int[] promptIds(GenerateOptions options, ModelDirectory dir) {
        if (options.promptIds() != null) {
            return options.promptIds();
        }
        if (dir.tokenizerFile() == null) {
            throw new BadInputException("--prompt needs the model's " + ModelDirectory.TOKENIZER + ", which "
                    + dir.dir() + " does not have; give --prompt-ids instead");
        }
        try (TextTokenizer tokenizer = TextTokenizer.open(dir.tokenizerFile())) {
            return tokenizer.encode(options.promptText());
        }
    }

    /** Runs on every rank together; the report is complete on rank 0 (other ranks get theirs, less the gathered parts). */
    public GenerateReport run() {
        if (!backend.hasDecoderOps()) {
            throw new BadInputException("generate: " + backend.describe() + " has no decoder-model operations "
                    + "(embedding, RMSNorm, rotary embedding, attention)");
        }
        ModelConfig config = inputs.config();
        int[] prompt = inputs.promptIds();
        long loadStart = System.nanoTime();
        // With --profile the model computes through a timing wrapper; everything else uses the backend as is.
        TimedBackend timed = options.profile() ? new TimedBackend(backend) : null;
        Backend compute = timed != null ? timed : backend;
        try (ModelDirectory dir = ModelDirectory.open(options.model());
             DecoderModel model = DecoderModel.load(dir, config, compute, comm, prompt.length + options.maxNewTokens(),
                     weightDType(dir));
             TextTokenizer tokenizer = dir.tokenizerFile() == null ? null : TextTokenizer.open(dir.tokenizerFile())) {
            long loadNanos = System.nanoTime() - loadStart;
            long storedBytes = dir.bytesRead();
            Generator.Settings settings = new Generator.Settings(options.maxNewTokens(), options.ignoreEos(),
                    sampler(), config.eosTokenIds(), options.logits() != null || options.verify());
            TokenStream tokens = comm.rank() == ROOT ? new TokenStream(stream, tokenizer) : null;
            if (tokens != null) {
                tokens.start(prompt);
            }
            // The prefill starts on every rank together: a rank that loaded sooner would otherwise count its
            // wait for the others (in the embedding's all_reduce) as prefill.
            comm.barrier();
            StepProfile profile = timed == null ? null : new StepProfile(timed, comm);
            Generator.Outcome outcome = new Generator(model, compute, comm).run(prompt, settings,
                    id -> {
                        if (profile != null) {
                            profile.tokenChosen();
                        }
                        if (tokens != null) {
                            tokens.accept(id);
                        }
                    });
            if (tokens != null) {
                tokens.end();
            }
            CommStats.Snapshot traffic = outcome.decodeTraffic();
            long collectivesPerStep = outcome.decodeSteps() == 0 ? 0 : traffic.count() / outcome.decodeSteps();
            long bandwidth = 0;
            if (options.measureBandwidth()) {
                comm.barrier(); // together: the ranks share the memory bus, as they do while decoding
                bandwidth = Math.round(backend.streamBytesPerSecond(BANDWIDTH_PROBE_BYTES));
            }
            // A decode step attends over the prompt and the tokens so far: on average half the new ones.
            int meanPositions = prompt.length + (outcome.decodeSteps() + 1) / 2;
            long[][] perRank = Exchange.allGatherLongs(comm, backend, new long[] {model.weightBytes(), storedBytes,
                    model.cacheBytes(), loadNanos, collectivesPerStep, bandwidth,
                    model.decodeBytesPerToken(meanPositions)});
            GenerateReport.Verification verification = null;
            boolean passed = true;
            if (options.verify()) {
                if (comm.rank() == ROOT) {
                    Bounded reference = new Float64Decoder(dir, config, weightDType(dir)).logits(prompt);
                    Comparison c = Comparison.of("logits", outcome.promptLogits(), reference);
                    double scale = 0;
                    for (double v : reference.value()) {
                        scale = Math.max(scale, Math.abs(v));
                    }
                    verification = new GenerateReport.Verification(c.maxAbsDiff(), c.maxBound(), c.worstRatio(),
                            c.passed(), scale, c.maxBound() < scale);
                    passed = c.passed();
                }
                passed = Exchange.agree(comm, backend, passed, ROOT);
            }
            if (comm.rank() == ROOT && options.logits() != null && passed) {
                writeLogits(outcome.promptLogits(), prompt.length, config.vocabSize());
            }
            return report(config, weightDType(dir), prompt, outcome, perRank, tokenizer, verification, passed,
                    profile == null ? null : profile.report(outcome));
        }
    }

    /**
     * The weight matrices' dtype on this rank: {@code --dtype}, where {@code auto} keeps the embedding's stored
     * dtype (the checkpoint's) when the backend can (GPU ranks), F32 otherwise.
     */
    private DType weightDType(ModelDirectory dir) {
        DType stored = dir.file(DecoderLayout.EMBED).info(DecoderLayout.EMBED).dtype();
        return options.dtype().resolve(stored, backend);
    }

    private Sampler sampler() {
        if (!options.sampling()) {
            return null;
        }
        long seed = options.seed() != null ? options.seed() : System.nanoTime();
        return new Sampler(options.temperature(), options.topK(), options.topP(), seed);
    }

    private void writeLogits(float[] logits, int tokens, int vocab) {
        try (Tensor t = Tensor.hostOf(Shape.of(tokens, vocab), logits)) {
            new SafetensorsWriter()
                    .metadata("producer", "tp4j generate")
                    .metadata("tp", Integer.toString(comm.worldSize()))
                    .add("logits", t)
                    .write(options.logits());
        }
    }

    private GenerateReport report(ModelConfig config, DType weights, int[] prompt, Generator.Outcome outcome,
                                  long[][] perRank, TextTokenizer tokenizer, GenerateReport.Verification verification,
                                  boolean passed, GenerateReport.Profile profile) {
        List<GenerateReport.Rank> ranks = new ArrayList<>();
        double loadSeconds = 0;
        Double boundMs = null;
        for (int r = 0; r < perRank.length; r++) {
            long[] v = perRank[r];
            Double gbps = options.measureBandwidth() && v[5] > 0 ? v[5] / 1e9 : null;
            ranks.add(new GenerateReport.Rank(r, v[0], v[1], v[2], v[6], v[3] / 1e9, v[4], gbps));
            loadSeconds = Math.max(loadSeconds, v[3] / 1e9);
            if (gbps != null) {
                boundMs = Math.max(boundMs == null ? 0 : boundMs, v[6] / (double) v[5] * 1e3);
            }
        }
        List<GenerateReport.StepCollectives> perStep = new ArrayList<>();
        int steps = outcome.decodeSteps();
        for (CommStats.Summary s : outcome.decodeTraffic().summaries()) {
            if (s.op() != CollectiveOp.BARRIER) {
                perStep.add(new GenerateReport.StepCollectives(s.op().label(), (double) s.count() / steps,
                        (double) s.payloadBytes() / steps));
            }
        }
        double decodeMs = outcome.decodeMsPerToken();
        String compute = backend.describe() + (weights == DType.F32 ? ""
                : "; weights in " + weights + ", GEMM inputs rounded to it, F32 accumulation");
        return new GenerateReport(passed, comm.worldSize(), compute, comm.describe(),
                options.model().toString(), config.toString(), box(prompt), box(outcome.tokens()),
                tokenizer == null ? null : tokenizer.decode(outcome.tokens()), outcome.stoppedAtEos(), loadSeconds,
                outcome.prefillMs(), decodeMs, decodeMs == 0 ? 0 : 1000 / decodeMs, steps,
                steps == 0 ? null : new GenerateReport.StepSpread(outcome.decodeStepMs(0.5), outcome.decodeStepMs(0.9),
                        outcome.decodeStepMs(1)),
                boundMs, ranks, perStep, verification,
                options.logits() == null || !passed ? null : options.logits().toString(), profile);
    }

    private static List<Integer> box(int[] ids) {
        return Arrays.stream(ids).boxed().toList();
    }

    /** Rank 0's live output: each token as soon as it is chosen, as text when there is a tokenizer. */
    private static final class TokenStream {
        private final PrintStream out;
        private final TextTokenizer tokenizer;
        private final List<Integer> generated = new ArrayList<>();
        private String printed = "";

        TokenStream(PrintStream out, TextTokenizer tokenizer) {
            this.out = out;
            this.tokenizer = tokenizer;
        }

        void start(int[] prompt) {
            out.print(tokenizer == null ? "prompt ids: " + Arrays.toString(prompt) + "\ngenerated ids:"
                    : "prompt: " + tokenizer.decode(prompt) + "\ngenerated: ");
            out.flush();
        }

        void accept(int id) {
            generated.add(id);
            if (tokenizer == null) {
                out.print(" " + id);
            } else {
                // Decode the whole continuation and print what is new: a token may complete a character
                // that an earlier one began.
                String text = tokenizer.decode(generated.stream().mapToInt(Integer::intValue).toArray());
                if (text.startsWith(printed)) {
                    out.print(text.substring(printed.length()));
                    printed = text;
                }
            }
            out.flush();
        }

        void end() {
            out.println();
            out.println();
            out.flush();
        }
    }
}
