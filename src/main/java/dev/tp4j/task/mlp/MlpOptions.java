package dev.tp4j.task.mlp;

import dev.tp4j.backend.Activation;
import dev.tp4j.backend.DTypeChoice;
import java.nio.file.Path;

/**
 * What {@code tp4j mlp} runs: the checkpoint and the prefixes of its MLP's layers, the activation,
 * where the input comes from and where the output goes.
 *
 * @param gatePrefix null for the plain {@code down(act(up(x)))} form
 * @param verify     rank 0 also computes the float64 sequential result from the full checkpoint
 * @param dtype      the weights' dtype on the ranks ({@code auto}: the checkpoint's where the backend keeps it)
 */
public record MlpOptions(Path checkpoint, String upPrefix, String gatePrefix, String downPrefix, Activation activation,
                         Path input, String inputName, Path output, String outputName, boolean verify,
                         DTypeChoice dtype) {

    public MlpOptions(Path checkpoint, String upPrefix, String gatePrefix, String downPrefix, Activation activation,
                      Path input, String inputName, Path output, String outputName, boolean verify) {
        this(checkpoint, upPrefix, gatePrefix, downPrefix, activation, input, inputName, output, outputName, verify,
                DTypeChoice.AUTO);
    }
}
