package dev.tp4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.io.CraftedFiles;
import dev.tp4j.io.SafetensorsWriter;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code tp4j mlp} with bad input: exit 2, one line naming the file and the problem, no output file. Run
 * both as a single worker and through {@code tp4j launch}, which refuses before starting any worker.
 */
class MlpCommandTest {
    private static final String UP = "mlp.up_proj";
    private static final String DOWN = "mlp.down_proj";

    @TempDir
    Path dir;
    private Path checkpoint;
    private Path input;
    private Path output;
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    @BeforeEach
    void goodFiles() {
        checkpoint = dir.resolve("model.safetensors");
        new SafetensorsWriter()
                .add(UP + ".weight", Tensor.allocateHost(Shape.of(12, 8), DType.F32))
                .add(UP + ".bias", Tensor.allocateHost(Shape.of(12), DType.F32))
                .add(DOWN + ".weight", Tensor.allocateHost(Shape.of(8, 12), DType.F32))
                .write(checkpoint);
        input = dir.resolve("in.safetensors");
        new SafetensorsWriter().add("input", Tensor.allocateHost(Shape.of(3, 8), DType.F32)).write(input);
        output = dir.resolve("out.safetensors");
    }

    private List<String> args(Path ckpt, String up, String down, Path in, Path outFile) {
        return new ArrayList<>(List.of("mlp", "--checkpoint", ckpt.toString(), "--up", up, "--down", down,
                "--activation", "gelu", "--input", in.toString(), "--output", outFile.toString()));
    }

    private int run(List<String> args) {
        return Main.execute(Main.commandLine(new PrintWriter(out), new PrintWriter(err)), args.toArray(String[]::new));
    }

    /** Exit 2, exactly one line on stderr containing each fragment, and no output file. */
    private void assertRefused(int status, String... fragments) throws IOException {
        String e = err.toString();
        assertEquals(2, status, e);
        assertEquals(1, e.lines().count(), e);
        for (String f : fragments) {
            assertTrue(e.contains(f), () -> "'" + f + "' not in: " + e);
        }
        assertFalse(Files.exists(output), "no output file");
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(), files.filter(p -> p.getFileName().toString().endsWith(".tmp")).toList(),
                    "no temporary file left");
        }
    }

    private void assertRefusedBothWays(List<String> args, String... fragments) throws IOException {
        assertRefused(run(args), fragments);
        err.getBuffer().setLength(0);
        List<String> launched = new ArrayList<>(List.of("launch", "--nproc-per-node", "2"));
        launched.addAll(args);
        assertRefused(run(launched), fragments);
    }

    private Path crafted(String header, byte[] data) {
        return CraftedFiles.write(dir, "bad.safetensors", header, data);
    }

    @Test
    void missingCheckpoint() throws IOException {
        assertRefusedBothWays(args(dir.resolve("nope.safetensors"), UP, DOWN, input, output), "nope.safetensors",
                "file not found");
    }

    @Test
    void notASafetensorsFile() throws IOException {
        Path text = CraftedFiles.writeBytes(dir, "notes.safetensors", "hello, this is text\n".getBytes());
        assertRefusedBothWays(args(text, UP, DOWN, input, output), "notes.safetensors", "not a safetensors file");
    }

    @Test
    void truncatedFile() throws IOException {
        byte[] whole = Files.readAllBytes(checkpoint);
        Path cut = CraftedFiles.writeBytes(dir, "cut.safetensors", java.util.Arrays.copyOf(whole, whole.length - 100));
        assertRefusedBothWays(args(cut, UP, DOWN, input, output), "cut.safetensors");
    }

    @Test
    void headerLengthLargerThanTheFile() throws IOException {
        Path bad = CraftedFiles.writeWithDeclaredLength(dir, "bad.safetensors", 1 << 20, "{}".getBytes(), new byte[0]);
        assertRefusedBothWays(args(bad, UP, DOWN, input, output), "bad.safetensors", "header length");
    }

    @ParameterizedTest
    @ValueSource(strings = {"not json at all", "[1, 2, 3]"})
    void headerNotJsonOrNotAnObject(String header) throws IOException {
        assertRefusedBothWays(args(crafted(header, new byte[0]), UP, DOWN, input, output), "bad.safetensors");
    }

    @Test
    void unknownDtype() throws IOException {
        Path bad = crafted("{\"" + UP + ".weight\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4]);
        assertRefusedBothWays(args(bad, UP, DOWN, input, output), "bad.safetensors", "Q4");
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "{\"a.weight\":{\"dtype\":\"F32\",\"shape\":[100],\"data_offsets\":[0,400]}}",                // out of range
        "{\"a.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            + "\"b.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",                // overlapping
        "{\"a.weight\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}",                    // size ≠ shape
    })
    void badOffsets(String header) throws IOException {
        assertRefusedBothWays(args(crafted(header, new byte[16]), "a", "b", input, output), "bad.safetensors");
    }

    @Test
    void missingTensorNamesTheNearest() throws IOException {
        assertRefusedBothWays(args(checkpoint, "mlp.upproj", DOWN, input, output), "model.safetensors",
                "'mlp.upproj.weight'", "nearest", "'mlp.up_proj.weight'");
    }

    @Test
    void shapesThatDoNotChain() throws IOException {
        Path wrong = dir.resolve("wrong.safetensors");
        new SafetensorsWriter()
                .add(UP + ".weight", Tensor.allocateHost(Shape.of(12, 8), DType.F32))
                .add(DOWN + ".weight", Tensor.allocateHost(Shape.of(8, 11), DType.F32))
                .write(wrong);
        assertRefusedBothWays(args(wrong, UP, DOWN, input, output), "wrong.safetensors", "'mlp.down_proj.weight'",
                "[8, 11]", "[8, 12]");
    }

    @Test
    void gateOfAnotherShape() throws IOException {
        List<String> a = args(checkpoint, UP, DOWN, input, output);
        a.addAll(List.of("--gate", DOWN));
        assertRefusedBothWays(a, "model.safetensors", "gate", "[8, 12]");
    }

    @Test
    void biasOfTheWrongShape() throws IOException {
        Path wrong = dir.resolve("wrong.safetensors");
        new SafetensorsWriter()
                .add(UP + ".weight", Tensor.allocateHost(Shape.of(12, 8), DType.F32))
                .add(UP + ".bias", Tensor.allocateHost(Shape.of(8), DType.F32))
                .add(DOWN + ".weight", Tensor.allocateHost(Shape.of(8, 12), DType.F32))
                .write(wrong);
        assertRefusedBothWays(args(wrong, UP, DOWN, input, output), "wrong.safetensors", "'mlp.up_proj.bias'", "[12]");
    }

    @Test
    void inputOfAnotherHiddenSize() throws IOException {
        Path other = dir.resolve("other.safetensors");
        new SafetensorsWriter().add("input", Tensor.allocateHost(Shape.of(3, 9), DType.F32)).write(other);
        assertRefusedBothWays(args(checkpoint, UP, DOWN, other, output), "other.safetensors", "hidden size 9",
                "hidden size 8");
    }

    @Test
    void missingInputTensor() throws IOException {
        List<String> a = args(checkpoint, UP, DOWN, input, output);
        a.addAll(List.of("--input-name", "hidden_states"));
        assertRefusedBothWays(a, "in.safetensors", "'hidden_states'", "'input'");
    }

    @Test
    void outputInAMissingDirectory() throws IOException {
        Path nowhere = dir.resolve("no/such/dir/out.safetensors");
        assertRefusedBothWays(args(checkpoint, UP, DOWN, input, nowhere), "--output", "does not exist");
    }

    @Test
    void missingRequiredOptionAndUnknownActivation() throws IOException {
        List<String> a = args(checkpoint, UP, DOWN, input, output);
        a.set(a.indexOf("gelu"), "swish");
        assertRefusedBothWays(a, "swish");
        err.getBuffer().setLength(0);
        assertRefusedBothWays(List.of("mlp", "--checkpoint", checkpoint.toString()), "--up");
    }

    @Test
    void goodInputRunsAndWritesTheOutput() {
        List<String> a = args(checkpoint, UP, DOWN, input, output);
        a.add("--verify");
        assertEquals(0, run(a), err::toString);
        assertTrue(Files.exists(output));
    }

    /** An output naming an input (here through a symbolic link) is refused before anything is written. */
    @Test
    void anOutputThatIsAnInputIsRefusedAndTheInputSurvives() throws IOException {
        byte[] before = Files.readAllBytes(checkpoint);
        Path link = Files.createSymbolicLink(dir.resolve("link.safetensors"), checkpoint);
        for (List<String> launcher : List.<List<String>>of(List.of(), List.of("launch", "--nproc-per-node", "2"))) {
            for (List<String> extra : List.<List<String>>of(List.of(), List.of("--verify"))) {
                err.getBuffer().setLength(0);
                List<String> args = new ArrayList<>(launcher);
                args.addAll(args(checkpoint, UP, DOWN, input, link));
                args.addAll(extra);
                int status = run(args);
                String e = err.toString();
                assertEquals(2, status, e);
                assertEquals(1, e.lines().count(), e);
                assertTrue(e.contains("--output " + link + " is the same file as --checkpoint"), e);
            }
        }
        assertArrayEquals(before, Files.readAllBytes(checkpoint), "the checkpoint is untouched");
        err.getBuffer().setLength(0);
        List<String> args = args(checkpoint, UP, DOWN, input, output);
        args.addAll(List.of("--json", input.toString()));
        assertEquals(2, run(args));
        assertTrue(err.toString().contains("--json " + input + " is the same file as --input"), err.toString());
        err.getBuffer().setLength(0);
        args = args(checkpoint, UP, DOWN, input, output);
        args.addAll(List.of("--json", output.toString()));
        assertEquals(2, run(args));
        assertTrue(err.toString().contains("--output and --json name the same file"), err.toString());
    }

    /** picocli checks required options first; the unknown option is the mistake, so it is what the line names. */
    @Test
    void anUnknownOptionIsNamedRatherThanTheMissingOnes() throws IOException {
        assertRefusedBothWays(List.of("mlp", "--bogus"), "Unknown option: '--bogus'");
        assertFalse(err.toString().contains("Missing required"), err.toString());
        err.getBuffer().setLength(0);
        assertRefused(run(List.of("launch", "mlp", "--nproc-per-node", "2")), "'--nproc-per-node'",
                "is a launch option, put it before mlp");
    }

    @Test
    void theReservedMetadataNameIsRefusedAsAnOutputNameBeforeAnyCompute() throws IOException {
        List<String> args = args(checkpoint, UP, DOWN, input, output);
        args.addAll(List.of("--output-name", "__metadata__"));
        assertRefusedBothWays(args, "--output-name __metadata__", "reserves");
    }
}
