package dev.tp4j.checkpoint;

import dev.tp4j.io.TensorInfo;

/**
 * One linear layer of a checkpoint, named by its prefix: {@code PREFIX.weight [out, in]} (nn.Linear
 * layout) and, when the checkpoint has it, {@code PREFIX.bias [out]}.
 */
public record LinearTensors(String prefix, TensorInfo weight, TensorInfo bias) {

    public String weightName() {
        return prefix + ".weight";
    }

    public String biasName() {
        return prefix + ".bias";
    }

    public boolean hasBias() {
        return bias != null;
    }

    public long outFeatures() {
        return weight.shape().dim(0);
    }

    public long inFeatures() {
        return weight.shape().dim(1);
    }
}
