package dev.tp4j.cli;

import dev.tp4j.runtime.Worker;
import dev.tp4j.backend.Activation;
import dev.tp4j.report.ReportJson;
import dev.tp4j.backend.DTypeChoice;
import dev.tp4j.task.verify.VerifyOptions;
import dev.tp4j.task.verify.VerifyReport;
import dev.tp4j.task.verify.VerifyReportText;
import dev.tp4j.task.verify.VerifyResult;
import dev.tp4j.task.verify.VerifyRun;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code tp4j verify}: the parallel layers on every rank against the float64 sequential reference. */
@Command(name = "verify", description = {
    "Check column-parallel, row-parallel and the Megatron MLP on every rank against a float64",
    "sequential reference; report shard shapes, differences with their error bounds, and the",
    "collectives each layer ran. Exit 1 on any mismatch."})
public final class VerifyCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    // Sizes are checked as they are parsed, so `tp4j launch` rejects a bad value once, before any worker starts.
    int batch;
    int hidden;
    int ffn;
    int repeat;
    int timeoutSeconds;

    @Option(names = "--batch", defaultValue = "8", description = "Tokens (rows of X). Default: ${DEFAULT-VALUE}.")
    void setBatch(int value) {
        batch = Flags.positive(spec, "--batch", value);
    }

    @Option(names = "--hidden", defaultValue = "512", description = "Model width. Default: ${DEFAULT-VALUE}.")
    void setHidden(int value) {
        hidden = Flags.positive(spec, "--hidden", value);
    }

    @Option(names = "--ffn", defaultValue = "2048", description = "MLP inner width. Default: ${DEFAULT-VALUE}.")
    void setFfn(int value) {
        ffn = Flags.positive(spec, "--ffn", value);
    }

    @Option(names = "--seed", defaultValue = "1234", description = "Seed of every weight and input. Default: ${DEFAULT-VALUE}.")
    long seed;

    @Option(names = "--activation", defaultValue = "gelu", converter = ActivationConverter.class,
            description = "relu, gelu (exact erf), gelu_tanh or silu. Default: ${DEFAULT-VALUE}.")
    Activation activation;

    @Option(names = "--gated", description = "Gated MLP: down(act(gate(x)) * up(x)), Llama's SwiGLU with silu.")
    boolean gated;

    @Option(names = "--no-bias", description = "Layers without bias.")
    boolean noBias;

    DTypeChoice dtype = DTypeChoice.AUTO;

    @Option(names = "--dtype", paramLabel = "auto|f32|bf16|f16", defaultValue = "auto",
            description = "Weights' dtype: bf16/f16 keep them so on GPU ranks and multiply in it with F32 "
                    + "accumulation (the bounds follow); auto = f32 (the seeded weights'). Default: ${DEFAULT-VALUE}.")
    void setDtype(String value) {
        dtype = Flags.dtype(spec, "--dtype", value);
    }

    @Option(names = "--repeat", defaultValue = "1", description = "Run every check N times; report drift. Default: ${DEFAULT-VALUE}.")
    void setRepeat(int value) {
        repeat = Flags.positive(spec, "--repeat", value);
    }

    @Option(names = "--timeout", defaultValue = "60", paramLabel = "SECONDS",
            description = "Rendezvous and collective timeout. Default: ${DEFAULT-VALUE}.")
    void setTimeout(int value) {
        timeoutSeconds = Flags.positive(spec, "--timeout", value);
    }

    Path json;

    @Option(names = "--json", paramLabel = "FILE", description = "Also write the results as JSON (rank 0).")
    void setJson(Path file) {
        json = Flags.outputFile(spec, "--json", file);
    }

    @Override
    public Integer call() throws Exception {
        VerifyOptions options = new VerifyOptions(batch, hidden, ffn, seed, activation, gated, !noBias, repeat,
                dtype);
        try (Worker session = Worker.open(Duration.ofSeconds(timeoutSeconds))) {
            VerifyResult result = new VerifyRun(session.backend(), session.comm(), options).run();
            if (session.isRankZero()) {
                VerifyReport report = VerifyReport.of(result);
                VerifyReportText.print(report, System.out);
                System.out.flush();
                if (json != null) {
                    ReportJson.write(json, report);
                }
            }
            return Main.verdict(result.passed(), session.env().rank(), "a verify check");
        }
    }

    /** Parses activation names as the command line spells them. */
    static final class ActivationConverter implements picocli.CommandLine.ITypeConverter<Activation> {
        @Override
        public Activation convert(String value) {
            try {
                return Activation.parse(value);
            } catch (IllegalArgumentException e) {
                throw new picocli.CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }
}
