package dev.tp4j.nn;

import dev.tp4j.backend.Activation;
import dev.tp4j.backend.Backend;
import dev.tp4j.tensor.Tensor;

/**
 * Megatron's MLP: column-parallel up-projection, the activation on each rank's own columns, then the
 * row-parallel down-projection — exactly one all_reduce per forward. The gated form (Llama's SwiGLU)
 * adds a column-parallel gate: {@code h = act(X·Gᵀ) ⊙ (X·Uᵀ)}; its gate and up are two layers, or one
 * {@link MergedColumnParallelLinear} (the same shards stacked: one GEMM streams both).
 *
 * <p>The hidden activations live in a {@link Workspace} kept between calls (its own, or the model's, shared
 * by all its layers), so repeated forwards with the same token count allocate no native memory.
 */
public final class ParallelMlp implements AutoCloseable {
    private static final int GATE = 0;
    private static final int UP = 1;
    private static final String UP_OUT = "mlp.up";
    private static final String GATE_OUT = "mlp.gate";
    private static final String GATE_UP_OUT = "mlp.gate_up";

    private final Backend backend;
    private final ColumnParallelLinear up;
    private final ColumnParallelLinear gate;
    private final MergedColumnParallelLinear gateUp;
    private final RowParallelLinear down;
    private final Activation activation;
    private final Workspace workspace;
    private final boolean ownsWorkspace;
    private Tensor upOut;
    private Tensor gateOut;
    private Tensor gateUpOut;

    /** @param gate the gate projection, or null for the plain {@code down(act(up(x)))} form */
    public ParallelMlp(Backend backend, ColumnParallelLinear up, ColumnParallelLinear gate,
                       RowParallelLinear down, Activation activation) {
        if (up.localOutFeatures() != down.weight().cols()) {
            throw new IllegalArgumentException("up-projection gives " + up.localOutFeatures()
                    + " features per rank, down-projection takes " + down.weight().cols());
        }
        if (gate != null && gate.localOutFeatures() != up.localOutFeatures()) {
            throw new IllegalArgumentException("gate gives " + gate.localOutFeatures() + " features per rank, up gives "
                    + up.localOutFeatures());
        }
        this.backend = backend;
        this.up = up;
        this.gate = gate;
        this.gateUp = null;
        this.down = down;
        this.activation = activation;
        this.workspace = new Workspace(backend);
        this.ownsWorkspace = true;
    }

    /**
     * The gated form with gate and up merged: part 0 of {@code gateUp} is the gate, part 1 the up-projection.
     * Its hidden activations live in {@code workspace}, shared with the model's other layers.
     */
    public ParallelMlp(Backend backend, MergedColumnParallelLinear gateUp, RowParallelLinear down,
                       Activation activation, Workspace workspace) {
        if (gateUp.localOutFeatures(GATE) != gateUp.localOutFeatures(UP)
                || gateUp.localOutFeatures(UP) != down.weight().cols()) {
            throw new IllegalArgumentException("gate gives " + gateUp.localOutFeatures(GATE) + " and up "
                    + gateUp.localOutFeatures(UP) + " features per rank, down-projection takes " + down.weight().cols());
        }
        this.backend = backend;
        this.up = null;
        this.gate = null;
        this.gateUp = gateUp;
        this.down = down;
        this.activation = activation;
        this.workspace = workspace;
        this.ownsWorkspace = false;
    }

    public boolean isGated() {
        return gate != null || gateUp != null;
    }

    public Activation activation() {
        return activation;
    }

    /** This rank's shard of the up-projection weight. */
    public Tensor upWeight() {
        return gateUp != null ? gateUp.partWeight(UP) : up.weight();
    }

    /** This rank's shard of the down-projection weight. */
    public Tensor downWeight() {
        return down.weight();
    }

    public Tensor forward(Tensor x) {
        Tensor y = down.allocateOutput(x.rows());
        forward(x, y);
        return y;
    }

    public void forward(Tensor x, Tensor y) {
        ensureWorkspace(x.rows());
        if (gateUp != null) {
            gateUp.forward(x, gateUpOut);
            backend.gatedActivate(activation, gateOut, upOut);
            down.forward(gateOut, y);
            return;
        }
        up.forward(x, upOut);
        if (gate == null) {
            backend.activate(activation, upOut);
            down.forward(upOut, y);
        } else {
            gate.forward(x, gateOut);
            backend.gatedActivate(activation, gateOut, upOut);
            down.forward(gateOut, y);
        }
    }

    private void ensureWorkspace(int tokens) {
        if (gateUp != null) {
            // gate and up are column windows of the one merged output: taken again only when it moved.
            Tensor merged = workspace.matrix(GATE_UP_OUT, tokens, gateUp.outputColumns());
            if (merged != gateUpOut) {
                gateUpOut = merged;
                gateOut = gateUp.part(gateUpOut, GATE);
                upOut = gateUp.part(gateUpOut, UP);
            }
            return;
        }
        upOut = workspace.matrix(UP_OUT, tokens, up.outputColumns());
        if (gate != null) {
            gateOut = workspace.matrix(GATE_OUT, tokens, gate.outputColumns());
        }
    }

    /**
     * Releases the workspaces of the MLP (unless shared) and of its layers; the weights stay with whoever
     * loaded them.
     */
    @Override
    public void close() {
        if (ownsWorkspace) {
            workspace.close();
        }
        if (gateUp != null) {
            gateUp.close();
        } else {
            up.close();
            if (gate != null) {
                gate.close();
            }
        }
        down.close();
    }
}
