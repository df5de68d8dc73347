package dev.tp4j.task.verify;

import dev.tp4j.BadInputException;
import dev.tp4j.backend.Activation;
import dev.tp4j.backend.DTypeChoice;

/**
 * What {@code tp4j verify} checks: sizes, seed, the MLP's activation and form, and how many times.
 *
 * @param batch  tokens (rows of X)
 * @param hidden the model width: input of the column-parallel layer and of the MLP
 * @param ffn    the MLP's inner width: output of the column-parallel layer, input of the row-parallel one
 * @param repeat how many times every check runs in this job; more than once reports any drift
 * @param dtype  the weights' dtype ({@code auto}: F32, the seeded weights' own)
 */
public record VerifyOptions(int batch, int hidden, int ffn, long seed, Activation activation, boolean gated,
                            boolean bias, int repeat, DTypeChoice dtype) {

    public VerifyOptions(int batch, int hidden, int ffn, long seed, Activation activation, boolean gated,
                         boolean bias, int repeat) {
        this(batch, hidden, ffn, seed, activation, gated, bias, repeat, DTypeChoice.AUTO);
    }

    public VerifyOptions {
        positive("--batch", batch);
        positive("--hidden", hidden);
        positive("--ffn", ffn);
        positive("--repeat", repeat);
    }

    private static void positive(String flag, int value) {
        if (value <= 0) {
            throw new BadInputException(flag + " must be a positive integer, got " + value);
        }
    }
}
