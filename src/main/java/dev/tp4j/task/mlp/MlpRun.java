package dev.tp4j.task.mlp;

import dev.tp4j.BadInputException;
import dev.tp4j.backend.Backend;
import dev.tp4j.checkpoint.LinearTensors;
import dev.tp4j.checkpoint.LoadListener;
import dev.tp4j.checkpoint.MlpLayout;
import dev.tp4j.checkpoint.MlpShardLoader;
import dev.tp4j.comm.CommStats;
import dev.tp4j.comm.Exchange;
import dev.tp4j.comm.Communicator;
import dev.tp4j.io.SafetensorsFile;
import dev.tp4j.io.SafetensorsWriter;
import dev.tp4j.nn.ParallelMlp;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import dev.tp4j.reference.Bounded;
import dev.tp4j.reference.Comparison;
import dev.tp4j.reference.Float64Reference;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code tp4j mlp} on one rank: check the checkpoint's layout and the input against it, load this
 * rank's shard, run the forward (one all_reduce), and on rank 0 optionally compare with the float64
 * sequential result of the full checkpoint, then write the output once.
 *
 * <p>Every rank validates the files before reading any data, so bad input fails every rank the same
 * way, before any output exists. The output is written by rank 0 only, after the comparison, through
 * a temporary file and a rename.
 */
public final class MlpRun {
    private static final int ROOT = 0;

    private final Backend backend;
    private final Communicator comm;
    private final MlpOptions options;
    private final LoadListener listener;

    public MlpRun(Backend backend, Communicator comm, MlpOptions options, LoadListener listener) {
        this.backend = backend;
        this.comm = comm;
        this.options = options;
        this.listener = listener;
    }

    /** Checks the files the run needs (headers only): the layout chains and the input fits it. */
    public static void checkInputs(MlpOptions options) {
        if (options.outputName().equals("__metadata__")) {
            throw new BadInputException("--output-name __metadata__: safetensors reserves that name for the file's "
                    + "metadata; choose another");
        }
        try (SafetensorsFile checkpoint = SafetensorsFile.open(options.checkpoint());
             SafetensorsFile input = SafetensorsFile.open(options.input())) {
            MlpLayout layout = MlpLayout.inspect(checkpoint, options.upPrefix(), options.gatePrefix(), options.downPrefix());
            MlpInput.check(input, options.inputName(), layout);
        }
    }

    public MlpResult run() {
        try (SafetensorsFile checkpoint = SafetensorsFile.open(options.checkpoint());
             SafetensorsFile inputFile = SafetensorsFile.open(options.input())) {
            MlpLayout layout = MlpLayout.inspect(checkpoint, options.upPrefix(), options.gatePrefix(), options.downPrefix());
            MlpInput input = MlpInput.check(inputFile, options.inputName(), layout);

            long loadStart = System.nanoTime();
            DType weightDType = options.dtype().resolve(layout.up().weight().dtype(), backend);
            ParallelMlp mlp = MlpShardLoader.load(checkpoint, layout, options.activation(), backend, comm, listener,
                    weightDType);
            long loadNanos = System.nanoTime() - loadStart;
            long bytesRead = checkpoint.bytesRead();
            try (mlp; Tensor x = backend.adopt(readInput(inputFile, input))) {
                CommStats stats = comm.stats();
                CommStats.Snapshot beforeForward = stats.snapshot();
                long start = System.nanoTime();
                Tensor y = mlp.forward(x);
                backend.synchronize();
                long forwardNanos = System.nanoTime() - start;
                List<CommStats.Summary> forwardTraffic = stats.since(beforeForward).summaries();

                CommStats.Snapshot beforeReport = stats.snapshot();
                long[] mine = {mlp.upWeight().rows(), mlp.downWeight().cols(), bytesRead,
                        MlpShardLoader.shardBytes(layout, comm.rank(), comm.worldSize()), loadNanos};
                List<MlpResult.RankLoad> loads = gatherLoads(mine);
                float[] output;
                try (y) {
                    output = backend.copyToHost(y);
                }
                Comparison comparison = null;
                boolean passed = true;
                if (options.verify()) {
                    if (comm.rank() == ROOT) {
                        comparison = Comparison.of("mlp", output, reference(checkpoint, layout, x, input.tokens(),
                                weightDType));
                        passed = comparison.passed();
                    }
                    passed = Exchange.agree(comm, backend, passed, ROOT);
                }
                boolean written = false;
                if (comm.rank() == ROOT && passed) {
                    try (Tensor out = Tensor.hostOf(input.shape(), output)) {
                        new SafetensorsWriter()
                                .metadata("producer", "tp4j mlp")
                                .metadata("tp", Integer.toString(comm.worldSize()))
                                .add(options.outputName(), out)
                                .write(options.output());
                    }
                    written = true;
                }
                String compute = backend.describe() + (weightDType == DType.F32 ? ""
                        : "; weights in " + weightDType + ", GEMM inputs rounded to it, F32 accumulation");
                return new MlpResult(options, comm.worldSize(), compute, comm.describe(), layout,
                        input.shape(), input.tokens(), loads, forwardNanos, forwardTraffic,
                        stats.since(beforeReport).summaries(), comparison, passed, written);
            }
        }
    }

    /** The input as {@code [tokens, hidden]} on the host, F32 whatever it is stored as. */
    private static Tensor readInput(SafetensorsFile file, MlpInput input) {
        Tensor whole = file.read(input.info().name());
        if (whole.shape().rank() == 2) {
            return whole;
        }
        try (whole) {
            int hidden = (int) input.shape().dim(input.shape().rank() - 1);
            return Tensor.hostOf(Shape.of(input.tokens(), hidden), whole.toFloatArray());
        }
    }

    /**
     * The float64 sequential MLP over the full checkpoint (rank 0, {@code --verify}), bounded for GEMM
     * inputs rounded to {@code weightDType}.
     */
    private Bounded reference(SafetensorsFile checkpoint, MlpLayout layout, Tensor x, int tokens, DType weightDType) {
        var weights = new Float64Reference.MlpWeights(layout.hidden(), layout.ffn(),
                full(checkpoint, layout.up().weightName()), bias(checkpoint, layout.up()),
                layout.isGated() ? full(checkpoint, layout.gate().weightName()) : null,
                layout.isGated() ? bias(checkpoint, layout.gate()) : null,
                full(checkpoint, layout.down().weightName()), bias(checkpoint, layout.down()));
        return Float64Reference.mlp(Bounded.exact(toDoubles(backend.copyToHost(x))), tokens, options.activation(),
                weights, weightDType);
    }

    private static double[] bias(SafetensorsFile checkpoint, LinearTensors layer) {
        return layer.hasBias() ? full(checkpoint, layer.biasName()) : null;
    }

    /** A whole tensor as the ranks compute with it: decoded to float32, then widened exactly. */
    private static double[] full(SafetensorsFile checkpoint, String name) {
        try (Tensor t = checkpoint.read(name)) {
            return toDoubles(t.toFloatArray());
        }
    }

    private static double[] toDoubles(float[] values) {
        double[] out = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = values[i];
        }
        return out;
    }

    /**
     * Every rank's load figures, through one all_gather. Collectives move floats, so each count travels
     * as two 24-bit halves, which float32 holds exactly (counts up to 2⁴⁸).
     */
    private List<MlpResult.RankLoad> gatherLoads(long[] mine) {
        List<MlpResult.RankLoad> loads = new ArrayList<>();
        long[][] all = Exchange.allGatherLongs(comm, backend, mine);
        for (int r = 0; r < all.length; r++) {
            loads.add(new MlpResult.RankLoad(r, all[r][0], all[r][1], all[r][2], all[r][3], all[r][4]));
        }
        return loads;
    }
}
