package dev.tp4j.cli;

import dev.tp4j.io.OutputFiles;
import dev.tp4j.report.ReportJson;
import dev.tp4j.runtime.Worker;
import dev.tp4j.task.mlp.MlpOptions;
import dev.tp4j.task.mlp.MlpReport;
import dev.tp4j.task.mlp.MlpReportText;
import dev.tp4j.task.mlp.MlpResult;
import dev.tp4j.task.mlp.MlpRun;
import dev.tp4j.backend.Activation;
import dev.tp4j.backend.DTypeChoice;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code tp4j mlp}: a checkpoint's MLP, each rank loading only its shard, on an input from a file. */
@Command(name = "mlp", description = {
    "Run a checkpoint's MLP tensor-parallel: each rank reads only its shard of the safetensors",
    "checkpoint (up/gate by rows, down by columns), the forward takes one all_reduce, and rank 0",
    "writes the F32 output. With --gate: down(act(gate(x)) * up(x)) (Llama's SwiGLU with silu)."})
public final class MlpCommand implements Callable<Integer>, Preflight {

    @Spec
    CommandSpec spec;

    @Option(names = "--checkpoint", required = true, paramLabel = "FILE", description = "The safetensors checkpoint.")
    Path checkpoint;

    @Option(names = "--up", required = true, paramLabel = "PREFIX",
            description = "Up-projection: PREFIX.weight [ffn, hidden], PREFIX.bias when present.")
    String up;

    @Option(names = "--gate", paramLabel = "PREFIX", description = "Gate projection [ffn, hidden]: makes the MLP gated.")
    String gate;

    @Option(names = "--down", required = true, paramLabel = "PREFIX",
            description = "Down-projection: PREFIX.weight [hidden, ffn], PREFIX.bias when present.")
    String down;

    @Option(names = "--activation", required = true, converter = VerifyCommand.ActivationConverter.class,
            paramLabel = "relu|gelu|gelu_tanh|silu",
            description = "gelu is the exact erf form (PyTorch's default), gelu_tanh the tanh approximation.")
    Activation activation;

    @Option(names = "--input", required = true, paramLabel = "FILE", description = "safetensors file with the input [tokens, hidden].")
    Path input;

    @Option(names = "--input-name", defaultValue = "input", paramLabel = "NAME", description = "Default: ${DEFAULT-VALUE}.")
    String inputName;

    Path output;

    @Option(names = "--output", required = true, paramLabel = "FILE",
            description = "Where rank 0 writes the F32 output [tokens, hidden] (temporary file, then rename).")
    void setOutput(Path file) {
        output = Flags.outputFile(spec, "--output", file);
    }

    @Option(names = "--output-name", defaultValue = "output", paramLabel = "NAME", description = "Default: ${DEFAULT-VALUE}.")
    String outputName;

    @Option(names = "--verify", description = "Rank 0 also computes the float64 sequential result from the full "
            + "checkpoint and reports the max difference; exit 1 (and no output) on a mismatch.")
    boolean verify;

    DTypeChoice dtype = DTypeChoice.AUTO;

    @Option(names = "--dtype", paramLabel = "auto|f32|bf16|f16", defaultValue = "auto",
            description = "Weights' dtype on the ranks: auto = the checkpoint's on GPU ranks (BF16 stays BF16, "
                    + "multiplied with F32 accumulation), f32 on CPU ranks. Default: ${DEFAULT-VALUE}.")
    void setDtype(String value) {
        dtype = Flags.dtype(spec, "--dtype", value);
    }

    Path json;

    @Option(names = "--json", paramLabel = "FILE", description = "Also write the report as JSON (rank 0).")
    void setJson(Path file) {
        json = Flags.outputFile(spec, "--json", file);
    }

    int timeoutSeconds;

    @Option(names = "--timeout", defaultValue = "60", paramLabel = "SECONDS",
            description = "Rendezvous and collective timeout. Default: ${DEFAULT-VALUE}.")
    void setTimeout(int value) {
        timeoutSeconds = Flags.positive(spec, "--timeout", value);
    }

    /** Neither output may be an input (or the other output): writing it would destroy it. */
    private void checkOutputs() {
        Map<String, Path> outputs = new LinkedHashMap<>();
        outputs.put("--output", output);
        if (json != null) {
            outputs.put("--json", json);
        }
        OutputFiles.requireDistinct(outputs, Map.of("--checkpoint", checkpoint, "--input", input));
    }

    private MlpOptions options() {
        return new MlpOptions(checkpoint, up, gate, down, activation, input, inputName, output, outputName, verify,
                dtype);
    }

    @Override
    public void preflight(int worldSize, boolean gpuRanks) {
        checkOutputs();
        MlpRun.checkInputs(options());
    }

    @Override
    public Integer call() {
        checkOutputs();
        MlpOptions options = options();
        // Before the rendezvous: bad input fails alone and at once, not after waiting for the other ranks.
        MlpRun.checkInputs(options);
        try (Worker session = Worker.open(Duration.ofSeconds(timeoutSeconds))) {
            MlpResult result = new MlpRun(session.backend(), session.comm(), options,
                    LoadProgress.forRank(session.env().rank(), System.out)).run();
            if (session.isRankZero()) {
                MlpReport report = MlpReport.of(result);
                MlpReportText.print(report, System.out);
                System.out.flush();
                if (json != null) {
                    ReportJson.write(json, report);
                }
            }
            return Main.verdict(result.passed(), session.env().rank(), "the MLP's output");
        }
    }
}
