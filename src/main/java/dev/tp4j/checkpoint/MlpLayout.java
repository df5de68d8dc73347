package dev.tp4j.checkpoint;

import static dev.tp4j.io.MessageText.quoted;

import dev.tp4j.BadInputException;
import dev.tp4j.io.SafetensorsFile;
import dev.tp4j.io.TensorInfo;
import dev.tp4j.tensor.Shape;

/**
 * The tensors of one MLP in a checkpoint, checked to chain before any rank reads a byte of them:
 * up (and gate) {@code [ffn, hidden]}, down {@code [hidden, ffn]}, biases {@code [ffn]} and
 * {@code [hidden]}. A layout that does not chain is bad input, named by file, tensor and shape.
 *
 * @param gate null for the plain {@code down(act(up(x)))} form
 */
public record MlpLayout(String file, LinearTensors up, LinearTensors gate, LinearTensors down) {

    /** Reads the layout of the MLP named by the three prefixes ({@code gatePrefix} may be null) from the header. */
    public static MlpLayout inspect(SafetensorsFile checkpoint, String upPrefix, String gatePrefix, String downPrefix) {
        String file = checkpoint.path().toString();
        LinearTensors up = linear(checkpoint, upPrefix, "up-projection");
        LinearTensors gate = gatePrefix == null ? null : linear(checkpoint, gatePrefix, "gate projection");
        LinearTensors down = linear(checkpoint, downPrefix, "down-projection");
        long ffn = up.outFeatures();
        long hidden = up.inFeatures();
        if (gate != null && !gate.weight().shape().equals(up.weight().shape())) {
            throw new BadInputException(file + ": gate " + quoted(gate.weightName()) + " has shape "
                    + gate.weight().shape() + " but up " + quoted(up.weightName()) + " has " + up.weight().shape()
                    + "; both must be [ffn, hidden]");
        }
        if (down.outFeatures() != hidden || down.inFeatures() != ffn) {
            throw new BadInputException(file + ": down " + quoted(down.weightName()) + " has shape "
                    + down.weight().shape() + "; to follow up " + quoted(up.weightName()) + " " + up.weight().shape()
                    + " = [ffn, hidden] it must be [hidden, ffn] = " + Shape.of(hidden, ffn));
        }
        if (hidden > Integer.MAX_VALUE || ffn > Integer.MAX_VALUE) {
            throw new BadInputException(file + ": " + quoted(up.weightName()) + " " + up.weight().shape()
                    + " is larger than tp4j's 2^31-1 limit per dimension");
        }
        return new MlpLayout(file, up, gate, down);
    }

    private static LinearTensors linear(SafetensorsFile checkpoint, String prefix, String role) {
        String file = checkpoint.path().toString();
        TensorInfo weight = checkpoint.info(prefix + ".weight"); // a missing name lists the nearest ones
        if (weight.shape().rank() != 2) {
            throw new BadInputException(file + ": " + role + " weight " + quoted(weight.name()) + " has shape "
                    + weight.shape() + "; a linear layer's weight is 2-D [out, in]");
        }
        TensorInfo bias = checkpoint.contains(prefix + ".bias") ? checkpoint.info(prefix + ".bias") : null;
        if (bias != null && !bias.shape().equals(Shape.of(weight.shape().dim(0)))) {
            throw new BadInputException(file + ": " + role + " bias " + quoted(bias.name()) + " has shape "
                    + bias.shape() + "; its weight " + weight.shape() + " needs [" + weight.shape().dim(0) + "]");
        }
        return new LinearTensors(prefix, weight, bias);
    }

    public int hidden() {
        return (int) up.inFeatures();
    }

    public int ffn() {
        return (int) up.outFeatures();
    }

    public boolean isGated() {
        return gate != null;
    }

    /** Bytes of tensor data this MLP occupies in the checkpoint (all ranks together). */
    public long totalBytes() {
        long bytes = 0;
        for (LinearTensors l : layers()) {
            bytes += l.weight().byteSize() + (l.hasBias() ? l.bias().byteSize() : 0);
        }
        return bytes;
    }

    /** up, gate (when present), down. */
    public java.util.List<LinearTensors> layers() {
        return gate == null ? java.util.List.of(up, down) : java.util.List.of(up, gate, down);
    }
}
