package dev.tp4j.cli;

import dev.tp4j.runtime.Worker;
import dev.tp4j.BadInputException;
import dev.tp4j.report.ReportJson;
import dev.tp4j.task.bench.BenchOptions;
import dev.tp4j.task.bench.BenchPlotter;
import dev.tp4j.task.bench.BenchReport;
import dev.tp4j.task.bench.BenchReportText;
import dev.tp4j.task.bench.BenchResult;
import dev.tp4j.task.bench.BenchResultsFile;
import dev.tp4j.task.bench.BenchRun;
import dev.tp4j.backend.Activation;
import dev.tp4j.backend.DTypeChoice;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code tp4j bench}: GEMM, collectives and the MLP forward, measured on this job's ranks. */
@Command(name = "bench", description = {
    "Measure the local GEMM (beside the raw BLAS call), the collectives over a size sweep",
    "(time, algbw, busbw as nccl-tests defines them) and the Megatron MLP forward."})
public final class BenchCommand implements Callable<Integer>, Preflight {

    @Spec
    CommandSpec spec;

    int tokens;
    int hidden;
    int ffn;
    int timeoutSeconds;

    @Option(names = "--tokens", defaultValue = "128", description = "MLP tokens. Default: ${DEFAULT-VALUE}.")
    void setTokens(int v) {
        tokens = Flags.positive(spec, "--tokens", v);
    }

    @Option(names = "--hidden", defaultValue = "2048", description = "MLP width. Default: ${DEFAULT-VALUE}.")
    void setHidden(int v) {
        hidden = Flags.positive(spec, "--hidden", v);
    }

    @Option(names = "--ffn", defaultValue = "8192", description = "MLP inner width. Default: ${DEFAULT-VALUE}.")
    void setFfn(int v) {
        ffn = Flags.positive(spec, "--ffn", v);
    }

    DTypeChoice dtype = DTypeChoice.AUTO;

    @Option(names = "--dtype", paramLabel = "auto|f32|bf16|f16", defaultValue = "auto",
            description = "Weights' dtype in the GEMM and the MLP: bf16/f16 on GPU ranks (F32 accumulation); CPU "
                    + "ranks compute in f32; auto = f32. Default: ${DEFAULT-VALUE}.")
    void setDtype(String v) {
        dtype = Flags.dtype(spec, "--dtype", v);
    }

    @Option(names = "--activation", defaultValue = "gelu", converter = VerifyCommand.ActivationConverter.class,
            description = "MLP activation. Default: ${DEFAULT-VALUE}.")
    Activation activation;

    @Option(names = "--quick", description = "Fewer runs and sizes up to 4 MiB: under 30 s on 2 cores.")
    boolean quick;

    @Option(names = "--collectives-only", description = "Only the collective sweep, no GEMM and no MLP (to compare "
            + "transports, e.g. --transport tcp against hierarchical across nodes).")
    boolean collectivesOnly;

    Long minBytes;
    Long maxBytes;

    @Option(names = "--min-kib", paramLabel = "KIB", description = "Smallest collective of the sweep (×4 per step). "
            + "Default: 4.")
    void setMinKib(int v) {
        minBytes = 1024L * Flags.positive(spec, "--min-kib", v);
    }

    @Option(names = "--max-kib", paramLabel = "KIB", description = "Largest collective of the sweep. "
            + "Default: 65536 (64 MiB), 4096 with --quick.")
    void setMaxKib(int v) {
        maxBytes = 1024L * Flags.positive(spec, "--max-kib", v);
    }

    @Option(names = "--timeout", defaultValue = "120", paramLabel = "SECONDS",
            description = "Rendezvous and collective timeout. Default: ${DEFAULT-VALUE}.")
    void setTimeout(int v) {
        timeoutSeconds = Flags.positive(spec, "--timeout", v);
    }

    Path json;
    Path plot;

    @Option(names = "--json", paramLabel = "FILE", description = "Write one JSON object per result (rank 0).")
    void setJson(Path f) {
        json = Flags.outputFile(spec, "--json", f);
    }

    @Option(names = "--plot", paramLabel = "FILE.png", description = "Draw busbw against size and the MLP time (rank 0).")
    void setPlot(Path f) {
        plot = Flags.outputFile(spec, "--plot", f);
    }

    @Option(names = "--plot-with", paramLabel = "FILE.json",
            description = "Also draw the results of earlier runs (their --json), e.g. at other tp: the MLP "
                    + "chart then shows time against tp (see bench/mlp-vs-tp.sh). Repeatable.")
    List<Path> plotWith = new ArrayList<>();

    /** Earlier runs' results, read before any worker starts (a bad file is one line, exit 2). */
    @Override
    public void preflight(int worldSize, boolean gpuRanks) {
        earlierResults();
        sweep();
    }

    /** The collective sweep's smallest and largest size in bytes; bounds the wrong way round are bad input. */
    private long[] sweep() {
        long min = minBytes != null ? minBytes : 4 << 10;
        long max = maxBytes != null ? maxBytes : quick ? 4 << 20 : 64 << 20;
        if (max < min) {
            throw new BadInputException("bench: --max-kib " + max / 1024 + " is below --min-kib " + min / 1024);
        }
        return new long[] {min, max};
    }

    private List<BenchResult> earlierResults() {
        if (!plotWith.isEmpty() && plot == null) {
            throw new BadInputException("--plot-with needs --plot FILE.png");
        }
        List<BenchResult> earlier = new ArrayList<>();
        for (Path f : plotWith) {
            earlier.addAll(BenchResultsFile.read(f));
        }
        return earlier;
    }

    @Override
    public Integer call() {
        List<BenchResult> earlier = earlierResults();
        long[] sweep = sweep();
        long min = sweep[0];
        long max = sweep[1];
        BenchOptions options = quick
                ? new BenchOptions(tokens, hidden, ffn, activation, 2, 7, min, max, dtype, collectivesOnly)
                : new BenchOptions(tokens, hidden, ffn, activation, 3, 20, min, max, dtype, collectivesOnly);
        try (Worker session = Worker.open(Duration.ofSeconds(timeoutSeconds))) {
            List<BenchResult> results = new BenchRun(session.backend(), session.comm(), options).run();
            if (session.isRankZero()) {
                String header = String.format(Locale.ROOT, "tp4j bench: %d %s; compute: %s; collectives: %s",
                        session.comm().worldSize(), session.comm().worldSize() == 1 ? "rank" : "ranks",
                        session.backend().describe(), session.comm().describe());
                BenchReport report = new BenchReport(header, results);
                BenchReportText.print(report, System.out);
                System.out.flush();
                if (json != null) {
                    ReportJson.write(json, report);
                }
                if (plot != null) {
                    List<BenchResult> drawn = new ArrayList<>(earlier);
                    drawn.addAll(results);
                    BenchPlotter.write(plot, drawn, session.backend().describe());
                }
            }
            return Main.EXIT_OK;
        }
    }
}
