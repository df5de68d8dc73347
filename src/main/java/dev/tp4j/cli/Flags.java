package dev.tp4j.cli;

import dev.tp4j.BadInputException;
import dev.tp4j.backend.DTypeChoice;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;

/**
 * Checks of option values made while the command line is parsed, so that {@code tp4j launch}, which
 * parses a task's options before starting workers, refuses a bad value once (exit 2, one line naming
 * the flag) instead of in every worker. Side-effect free, as parsing must be.
 */
final class Flags {
    private Flags() {
    }

    static int positive(CommandSpec spec, String flag, int value) {
        if (value <= 0) {
            throw new ParameterException(spec.commandLine(), flag + " must be a positive integer, got " + value);
        }
        return value;
    }

    /** {@code --dtype auto|f32|bf16|f16}; whether the backend has it is known only in the workers. */
    static DTypeChoice dtype(CommandSpec spec, String flag, String value) {
        try {
            return DTypeChoice.parse(flag, value);
        } catch (BadInputException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
    }

    /** An output file whose directory exists (the file itself is written later, atomically). */
    static Path outputFile(CommandSpec spec, String flag, Path file) {
        Path dir = file.toAbsolutePath().getParent();
        if (dir == null || !Files.isDirectory(dir)) {
            throw new ParameterException(spec.commandLine(), flag + " " + file + ": directory " + dir + " does not exist");
        }
        if (Files.isDirectory(file)) {
            throw new ParameterException(spec.commandLine(), flag + " " + file + ": is a directory");
        }
        return file;
    }
}
