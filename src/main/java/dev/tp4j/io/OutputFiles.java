package dev.tp4j.io;

import dev.tp4j.BadInputException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Refuses to write an output over one of the run's own inputs (or over another output): `--output`
 * naming the checkpoint would replace it with the result, and the run would still report success.
 * Compares file identity ({@link Files#isSameFile}: links, relative paths and bind mounts included),
 * not names.
 */
public final class OutputFiles {
    private OutputFiles() {
    }

    /**
     * @param outputs flag → file the run will write (absent flags left out)
     * @param inputs  what the file is called in the message → file the run reads
     * @throws BadInputException an output is the same file as an input or as another output, naming both
     */
    public static void requireDistinct(Map<String, Path> outputs, Map<String, Path> inputs) {
        List<Map.Entry<String, Path>> outs = List.copyOf(outputs.entrySet());
        for (int i = 0; i < outs.size(); i++) {
            Map.Entry<String, Path> out = outs.get(i);
            for (Map.Entry<String, Path> in : inputs.entrySet()) {
                if (same(out.getValue(), in.getValue())) {
                    throw new BadInputException(out.getKey() + " " + out.getValue() + " is the same file as "
                            + in.getKey() + "; writing it would destroy an input");
                }
            }
            for (int j = i + 1; j < outs.size(); j++) {
                Map.Entry<String, Path> other = outs.get(j);
                if (out.getValue().toAbsolutePath().normalize().equals(other.getValue().toAbsolutePath().normalize())
                        || same(out.getValue(), other.getValue())) {
                    throw new BadInputException(out.getKey() + " and " + other.getKey() + " name the same file, "
                            + out.getValue());
                }
            }
        }
    }

    /** Whether both name one existing file (an output that does not exist yet is no input). */
    private static boolean same(Path a, Path b) {
        if (!Files.exists(a) || !Files.exists(b)) {
            return false;
        }
        try {
            return Files.isSameFile(a, b);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
