package dev.tp4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tp4j.testutil.RandomModels;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code tp4j generate} with bad input: exit 2 and one line naming what is wrong, from the launcher
 * before any worker starts (the headers suffice) and from a lone worker alike.
 */
class GenerateCommandTest {
    @TempDir
    Path dir;
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private Path model(String name) {
        return RandomModels.write(dir.resolve(name), RandomModels.Spec.llama(8, 2, 101).stored(dev.tp4j.tensor.DType.F32, 2));
    }

    private Path editConfig(Path model, Consumer<ObjectNode> edit) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode config = (ObjectNode) json.readTree(model.resolve("config.json").toFile());
        edit.accept(config);
        json.writeValue(model.resolve("config.json").toFile(), config);
        return model;
    }

    private void assertRefused(List<String> generateArgs, String... fragments) {
        for (boolean launched : new boolean[] {true, false}) {
            out.getBuffer().setLength(0);
            err.getBuffer().setLength(0);
            List<String> args = new ArrayList<>();
            if (launched) {
                args.addAll(List.of("launch", "--nproc-per-node", "2", "--backend", "cpu"));
            }
            args.add("generate");
            args.addAll(generateArgs);
            int status = Main.execute(Main.commandLine(new PrintWriter(out), new PrintWriter(err)), args.toArray(String[]::new));
            String e = err.toString();
            assertEquals(2, status, (launched ? "launched: " : "worker: ") + e + out);
            assertEquals(1, e.lines().count(), e);
            for (String f : fragments) {
                assertTrue(e.contains(f), () -> "'" + f + "' not in: " + e);
            }
        }
    }

    private static List<String> args(Path model, String... more) {
        List<String> a = new ArrayList<>(List.of("--model", model.toString()));
        a.addAll(List.of(more));
        return a;
    }

    @Test
    void idsOutsideTheVocabularyAreNamed() {
        assertRefused(args(model("m"), "--prompt-ids", "1,2,101"), "id 101", "[0, 101)");
        assertRefused(args(model("m2"), "--prompt-ids", "1,-4"), "id -4");
    }

    @Test
    void anEmptyPromptOrIdsThatAreNotNumbersAreRefused() {
        assertRefused(args(model("m"), "--prompt-ids", ","), "prompt is empty");
        assertRefused(args(model("m2"), "--prompt-ids", "1,x"), "--prompt-ids", "token ids");
    }

    @Test
    void aGenerationBeyondTheModelsPositionsIsRefused() {
        assertRefused(args(model("m"), "--prompt-ids", "1,2,3", "--max-new-tokens", "254"),
                "257 tokens", "max_position_embeddings 256");
    }

    @Test
    void aTensorMissingFromEveryShardIsNamed() throws IOException {
        Path m = model("m");
        ObjectMapper json = new ObjectMapper();
        ObjectNode index = (ObjectNode) json.readTree(m.resolve("model.safetensors.index.json").toFile());
        ((ObjectNode) index.get("weight_map")).remove("model.layers.1.mlp.up_proj.weight");
        json.writeValue(m.resolve("model.safetensors.index.json").toFile(), index);
        assertRefused(args(m, "--prompt-ids", "1,2"), "model.layers.1.mlp.up_proj.weight", "in no weights file");
    }

    @Test
    void anIndexNamingAMissingFileIsNamed() throws IOException {
        Path m = model("m");
        Files.delete(m.resolve("model-00002-of-00002.safetensors"));
        assertRefused(args(m, "--prompt-ids", "1,2"), "model.safetensors.index.json", "model-00002-of-00002.safetensors",
                "is not there");
    }

    @Test
    void unsupportedArchitecturesAndRopeScalingsAreNamed() throws IOException {
        assertRefused(args(editConfig(model("a"), c -> c.putArray("architectures").add("GPT2LMHeadModel")),
                "--prompt-ids", "1"), "GPT2LMHeadModel", "not supported");
        assertRefused(args(editConfig(model("b"), c -> c.putObject("rope_scaling").put("rope_type", "yarn")),
                "--prompt-ids", "1"), "rope_scaling", "yarn");
        assertRefused(args(editConfig(model("c"), c -> c.put("sliding_window", 4).putArray("architectures")
                .add("MistralForCausalLM")), "--prompt-ids", "1,2,3", "--max-new-tokens", "2"), "sliding_window 4");
    }

    @Test
    void missingOrInconsistentConfigKeysAreNamed() throws IOException {
        assertRefused(args(editConfig(model("a"), c -> c.remove("num_attention_heads")), "--prompt-ids", "1"),
                "config.json", "num_attention_heads");
        assertRefused(args(editConfig(model("b"), c -> c.put("num_key_value_heads", 3)), "--prompt-ids", "1"),
                "num_key_value_heads 3");
        assertRefused(args(editConfig(model("c"), c -> c.put("intermediate_size", 90)), "--prompt-ids", "1"),
                "mlp.gate_proj.weight", "has shape [88, 48]", "needs [90, 48]");
    }

    /** Half-precision weights need GPU ranks: refused by the launcher and by a lone CPU worker alike. */
    @Test
    void halfPrecisionWeightsOnCpuRanksAreRefused() {
        assertRefused(args(model("m"), "--prompt-ids", "1,2", "--dtype", "bf16"), "--dtype bf16", "CPU ranks");
        assertRefused(args(model("m2"), "--prompt-ids", "1,2", "--dtype", "fp16"), "--dtype f16", "CPU ranks");
    }

    @Test
    void aTextPromptWithoutATokenizerPointsToPromptIds() {
        assertRefused(args(model("m"), "--prompt", "hello"), "tokenizer.json", "--prompt-ids");
    }

    @Test
    void aTpTheHeadsCannotBeSplitOverIsRefusedByTheLauncherNamingWhatWorks() {
        int status = Main.execute(Main.commandLine(new PrintWriter(out), new PrintWriter(err)), "launch",
                "--nproc-per-node", "3", "--backend", "cpu", "generate", "--model", model("m").toString(),
                "--prompt-ids", "1,2");
        String e = err.toString();
        assertEquals(2, status, e + out);
        assertEquals("tp4j: tp 3 does not fit 8 attention heads and 2 key/value heads: tp must divide both, or divide "
                + "the attention heads and be a multiple of the key/value heads; tp values that work: 1, 2, 4, 8", e.strip());
    }

    @Test
    void samplingFlagsWithoutATemperatureAreRefused() {
        assertRefused(args(model("m"), "--prompt-ids", "1", "--top-k", "5"), "--temperature");
    }

    @Test
    void anOutputThatIsAFileOfTheModelIsRefusedAndTheModelSurvives() throws IOException {
        Path m = model("m");
        byte[] before = Files.readAllBytes(m.resolve("model-00001-of-00002.safetensors"));
        assertRefused(args(m, "--prompt-ids", "1,2", "--logits", m.resolve("model-00001-of-00002.safetensors").toString()),
                "--logits", "is the same file as model-00001-of-00002.safetensors of --model");
        assertRefused(args(m, "--prompt-ids", "1,2", "--json", m.resolve("config.json").toString()),
                "--json", "is the same file as config.json of --model");
        assertArrayEquals(before, Files.readAllBytes(m.resolve("model-00001-of-00002.safetensors")));
    }
}
