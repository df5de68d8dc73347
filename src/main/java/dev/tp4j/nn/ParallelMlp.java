package dev.tp4j.nn;

import dev.tp4j.backend.Activation;
import dev.tp4j.backend.Backend;
import dev.tp4j.tensor.Tensor;

/**
 * Megatron's MLP: column-parallel up-projection, the activation on each rank's own columns, then the
 * row-parallel down-projection — exactly one all_reduce per forward. The gated form (Llama's SwiGLU)
 * adds a column-parallel gate: {@code h = act(X·Gᵀ) ⊙ (X·Uᵀ)}.
 *
 * <p>The hidden activations live in workspace tensors kept between calls, so repeated forwards with
 * the same token count allocate no native memory.
 */
public final class ParallelMlp implements AutoCloseable {
    private final Backend backend;
    private final ColumnParallelLinear up;
    private final ColumnParallelLinear gate;
    private final RowParallelLinear down;
    private final Activation activation;
    private Tensor upOut;
    private Tensor gateOut;

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
        this.down = down;
        this.activation = activation;
    }

    public boolean isGated() {
        return gate != null;
    }

    public Activation activation() {
        return activation;
    }

    /** This rank's shard of the up-projection weight. */
    public Tensor upWeight() {
        return up.weight();
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
        if (upOut != null && upOut.rows() == tokens) {
            return;
        }
        releaseWorkspace();
        upOut = up.allocateOutput(tokens);
        if (gate != null) {
            gateOut = gate.allocateOutput(tokens);
        }
    }

    private void releaseWorkspace() {
        if (upOut != null) {
            upOut.close();
            upOut = null;
        }
        if (gateOut != null) {
            gateOut.close();
            gateOut = null;
        }
    }

    /** Releases the workspaces of the MLP and of its layers; the weights stay with whoever loaded them. */
    @Override
    public void close() {
        releaseWorkspace();
        up.close();
        if (gate != null) {
            gate.close();
        }
        down.close();
    }
}
