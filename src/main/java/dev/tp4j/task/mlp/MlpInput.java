package dev.tp4j.task.mlp;

import static dev.tp4j.io.MessageText.quoted;

import dev.tp4j.BadInputException;
import dev.tp4j.checkpoint.MlpLayout;
import dev.tp4j.io.SafetensorsFile;
import dev.tp4j.io.TensorInfo;
import dev.tp4j.tensor.Shape;

/**
 * The MLP's input tensor: {@code [tokens, hidden]}, or any shape whose last dimension is the hidden
 * size (leading dimensions are tokens, as {@code nn.Linear} treats them; the output keeps the shape).
 */
record MlpInput(TensorInfo info, int tokens) {

    static MlpInput check(SafetensorsFile file, String name, MlpLayout layout) {
        TensorInfo info = file.info(name); // a missing name lists the nearest ones
        Shape shape = info.shape();
        if (shape.rank() == 0) {
            throw new BadInputException(file.path() + ": input " + quoted(name) + " is a scalar; expected [tokens, hidden]");
        }
        long hidden = shape.dim(shape.rank() - 1);
        if (hidden != layout.hidden()) {
            throw new BadInputException(file.path() + ": input " + quoted(name) + " " + shape + " has hidden size "
                    + hidden + ", but the checkpoint's " + quoted(layout.up().weightName()) + " "
                    + layout.up().weight().shape() + " takes hidden size " + layout.hidden());
        }
        long tokens = hidden == 0 ? 0 : shape.numel() / hidden;
        if (tokens > Integer.MAX_VALUE) {
            throw new BadInputException(file.path() + ": input " + quoted(name) + " " + shape + " has more than 2^31-1 tokens");
        }
        return new MlpInput(info, (int) tokens);
    }

    Shape shape() {
        return info.shape();
    }
}
