package dev.tp4j.cli;

import dev.tp4j.BadInputException;
import dev.tp4j.backend.DTypeChoice;
import dev.tp4j.io.OutputFiles;
import dev.tp4j.report.ReportJson;
import dev.tp4j.runtime.Worker;
import dev.tp4j.task.generate.GenerateOptions;
import dev.tp4j.task.generate.GenerateReport;
import dev.tp4j.task.generate.GenerateReportText;
import dev.tp4j.task.generate.GenerateRun;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code tp4j generate}: a whole Hugging Face decoder model, tensor-parallel, generating after a prompt. */
@Command(name = "generate", description = {
    "Generate with a Hugging Face decoder model (Llama, Mistral, Qwen2) split over the ranks as Megatron",
    "and vLLM split it: attention by heads, the MLP by its intermediate size, embedding and LM head by",
    "vocabulary. Each rank reads only its shard. Greedy unless --temperature is given."})
public final class GenerateCommand implements Callable<Integer>, Preflight {

    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR",
            description = "The model directory: config.json, model.safetensors or an index of shards.")
    Path model;

    @ArgGroup(exclusive = true, multiplicity = "1")
    PromptGroup prompt;

    static final class PromptGroup {
        @Option(names = "--prompt-ids", required = true, paramLabel = "IDS", description = "The prompt as token ids, e.g. 1,2,3.")
        String ids;

        @Option(names = "--prompt", required = true, paramLabel = "TEXT",
                description = "The prompt as text (needs the model's tokenizer.json).")
        String text;
    }

    int maxNewTokens;

    @Option(names = "--max-new-tokens", defaultValue = "32", paramLabel = "N", description = "Default: ${DEFAULT-VALUE}.")
    void setMaxNewTokens(int value) {
        maxNewTokens = Flags.positive(spec, "--max-new-tokens", value);
    }

    @Option(names = "--ignore-eos", description = "Generate exactly --max-new-tokens tokens, past any EOS.")
    boolean ignoreEos;

    @Option(names = "--temperature", paramLabel = "T", description = "Sample at this temperature (> 0) instead of greedy.")
    Double temperature;

    @Option(names = "--top-k", paramLabel = "K", defaultValue = "0",
            description = "Sample among the K most likely tokens (0 = all). Default: ${DEFAULT-VALUE}.")
    int topK;

    @Option(names = "--top-p", paramLabel = "P", defaultValue = "1.0",
            description = "Sample among the most likely tokens whose probability reaches P (1 = all). Default: ${DEFAULT-VALUE}.")
    double topP;

    @Option(names = "--seed", paramLabel = "S", description = "Seed of the sampling; the same seed, the same tokens.")
    Long seed;

    Path logits;

    @Option(names = "--logits", paramLabel = "FILE",
            description = "Rank 0 writes the prompt's logits [prompt_len, vocab] (F32 'logits', safetensors).")
    void setLogits(Path file) {
        logits = Flags.outputFile(spec, "--logits", file);
    }

    Path json;

    @Option(names = "--json", paramLabel = "FILE", description = "Also write the report as JSON (rank 0).")
    void setJson(Path file) {
        json = Flags.outputFile(spec, "--json", file);
    }

    @Option(names = "--verify", description = "Rank 0 also runs the float64 sequential model from the full checkpoint "
            + "on the prompt and compares the prompt's logits with it, element by element, against the float32 error "
            + "bound; exit 1 (and no --logits file) on a mismatch.")
    boolean verify;

    @Option(names = "--bandwidth", description = "After generating, every rank measures its memory bandwidth "
            + "(all at once, as they share the memory) and the report gives the decode's bound: each rank must "
            + "read all its weights once per token.")
    boolean bandwidth;

    @Option(names = "--profile", description = "Time every compute call and collective; every rank prints its "
            + "own, --json has rank 0's: per operation (linear per weight shape) the calls and ms of the prefill and "
            + "of a decode step, and what is left outside them. GPU ranks synchronize around each call for it, which "
            + "slows them.")
    boolean profile;

    DTypeChoice dtype = DTypeChoice.AUTO;

    @Option(names = "--dtype", paramLabel = "auto|f32|bf16|f16", defaultValue = "auto",
            description = "Weight matrices' dtype on the ranks: auto = the checkpoint's on GPU ranks (BF16 stays BF16, "
                    + "multiplied with F32 accumulation), f32 on CPU ranks. Default: ${DEFAULT-VALUE}.")
    void setDtype(String value) {
        dtype = Flags.dtype(spec, "--dtype", value);
    }

    int timeoutSeconds;

    @Option(names = "--timeout", defaultValue = "120", paramLabel = "SECONDS",
            description = "Rendezvous and collective timeout. Default: ${DEFAULT-VALUE}.")
    void setTimeout(int value) {
        timeoutSeconds = Flags.positive(spec, "--timeout", value);
    }

    private GenerateOptions options() {
        if (temperature != null && !(temperature > 0)) {
            throw new ParameterException(spec.commandLine(), "--temperature must be > 0, got " + temperature);
        }
        if (topK < 0) {
            throw new ParameterException(spec.commandLine(), "--top-k must be >= 0, got " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new ParameterException(spec.commandLine(), "--top-p must be in (0, 1], got " + topP);
        }
        if (temperature == null && (topK != 0 || topP != 1.0 || seed != null)) {
            throw new ParameterException(spec.commandLine(), "--top-k, --top-p and --seed shape sampling: give "
                    + "--temperature too (without it decoding is greedy)");
        }
        return new GenerateOptions(model, prompt.ids == null ? null : parseIds(prompt.ids), prompt.text, maxNewTokens,
                ignoreEos, temperature, topK, topP, seed, logits, json, verify, bandwidth, dtype, profile);
    }

    /** No output may be a file of the model directory (or the other output). */
    private void checkOutputs() {
        Map<String, Path> outputs = new LinkedHashMap<>();
        if (logits != null) {
            outputs.put("--logits", logits);
        }
        if (json != null) {
            outputs.put("--json", json);
        }
        Map<String, Path> inputs = new LinkedHashMap<>();
        if (Files.isDirectory(model)) {
            try (Stream<Path> files = Files.list(model)) {
                files.filter(Files::isRegularFile).forEach(f -> inputs.put(model.relativize(f) + " of --model", f));
            } catch (IOException e) {
                throw new BadInputException("--model " + model + ": cannot list it: " + e.getMessage());
            }
        }
        OutputFiles.requireDistinct(outputs, inputs);
    }

    private int[] parseIds(String ids) {
        try {
            return Arrays.stream(ids.split(",")).map(String::trim).filter(s -> !s.isEmpty())
                    .mapToInt(Integer::parseInt).toArray();
        } catch (NumberFormatException e) {
            throw new ParameterException(spec.commandLine(), "--prompt-ids '" + ids + "': not a comma-separated "
                    + "list of token ids");
        }
    }

    @Override
    public void preflight(int worldSize, boolean gpuRanks) {
        if (!gpuRanks && (dtype == DTypeChoice.BF16 || dtype == DTypeChoice.F16)) {
            // What each CPU worker would say (DTypeChoice.resolve), said once before any starts.
            throw new BadInputException("--dtype " + dtype.cliName() + ": CPU ranks compute in f32 only (bf16/f16 need "
                    + "the CUDA backend)");
        }
        checkOutputs();
        GenerateRun.checkInputs(options()).checkTensorParallel(worldSize);
    }

    @Override
    public Integer call() {
        checkOutputs();
        GenerateOptions options = options();
        // Bad input fails alone and at once, before the rendezvous.
        GenerateRun.Inputs inputs = GenerateRun.checkInputs(options);
        try (Worker worker = Worker.open(Duration.ofSeconds(timeoutSeconds))) {
            GenerateReport report = new GenerateRun(worker.backend(), worker.comm(), options, inputs, System.out).run();
            if (worker.isRankZero()) {
                GenerateReportText.print(report, System.out);
                System.out.flush();
                if (json != null) {
                    ReportJson.write(json, report);
                }
            } else if (report.profile() != null) {
                // Every rank's own profile: a slower rank shows here, and as waits in rank 0's collectives.
                GenerateReportText.printProfile(report.profile(), report.prefillMs(), report.decodeMsPerToken(),
                        System.out);
                System.out.flush();
            }
            return Main.verdict(report.passed(), worker.env().rank(), "the prompt's logits");
        }
    }
}
