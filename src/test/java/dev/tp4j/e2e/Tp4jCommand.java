package dev.tp4j.e2e;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs {@code bin/tp4j} as a user would, from the packaged build, and captures what it printed. */
final class Tp4jCommand {
    static final Path ROOT = Path.of(System.getProperty("user.dir"));

    record Result(int status, String out, String err, long millis) {
        String all() {
            return out + err;
        }
    }

    private Tp4jCommand() {
    }

    static Result run(String... args) throws IOException, InterruptedException {
        return run(120, args);
    }

    static Result run(int timeoutSeconds, String... args) throws IOException, InterruptedException {
        return run(Map.of(), timeoutSeconds, args);
    }

    /** As {@link #run(int, String...)}, with {@code environment} added to (or replacing in) the inherited one. */
    static Result run(Map<String, String> environment, int timeoutSeconds, String... args)
            throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(ROOT.resolve("bin/tp4j").toString());
        command.addAll(List.of(args));
        Path out = Files.createTempFile("tp4j-out", ".txt");
        Path err = Files.createTempFile("tp4j-err", ".txt");
        try {
            ProcessBuilder pb = new ProcessBuilder(command).directory(ROOT.toFile())
                    .redirectOutput(out.toFile()).redirectError(err.toFile());
            pb.environment().remove("TP4J_JOB_TOKEN");
            pb.environment().putAll(environment);
            long start = System.nanoTime();
            Process p = pb.start();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly().waitFor();
                throw new AssertionError("tp4j " + String.join(" ", args) + " did not finish in " + timeoutSeconds
                        + " s; output so far:\n" + Files.readString(out) + Files.readString(err));
            }
            long millis = (System.nanoTime() - start) / 1_000_000;
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                    Files.readString(err, StandardCharsets.UTF_8), millis);
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }
}
