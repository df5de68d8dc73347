package dev.tp4j.task.mlp;

import dev.tp4j.backend.Activation;
import java.nio.file.Path;

/**
 * What {@code tp4j mlp} runs: the checkpoint and the prefixes of its MLP's layers, the activation,
 * where the input comes from and where the output goes.
 *
 * @param gatePrefix null for the plain {@code down(act(up(x)))} form
 * @param verify     rank 0 also computes the float64 sequential result from the full checkpoint
 */
public record MlpOptions(Path checkpoint, String upPrefix, String gatePrefix, String downPrefix, Activation activation,
                         Path input, String inputName, Path output, String outputName, boolean verify) {
}
