package dev.tp4j.task.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tp4j.backend.DTypeChoice;
import dev.tp4j.backend.cpu.CpuBackend;
import dev.tp4j.testing.InMemoryGroup;
import dev.tp4j.testutil.RandomModels;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code generate --prompt TEXT} with a model directory's {@code tokenizer.json} (a byte-level BPE of 320
 * ids, src/test/resources/tokenizer, as interop/make_random_llama.py writes them): the prompt's ids are the
 * ids Hugging Face's tokenizers (DJL's binding, asked directly) give for the text, the model runs on exactly
 * those, and the report's text is those tokenizers' decoding of the generated ids.
 */
class PromptTextTest {
    private static final Path TOKENIZER = Path.of("src/test/resources/tokenizer/tokenizer.json");
    private static final String TEXT = "The quick brown fox jumps over the lazy dog. Hello world";
    private static final int NEW_TOKENS = 6;

    @TempDir
    static Path dir;
    private static Path model;

    @BeforeAll
    static void modelWithTokenizer() throws Exception {
        model = RandomModels.write(dir.resolve("model"), RandomModels.Spec.llama(8, 2, 320));
        Files.copy(TOKENIZER, model.resolve("tokenizer.json"));
    }

    @Test
    void thePromptIsTheTokenizersIdsAndTheOutputTextItsDecoding() throws Exception {
        long[] expected;
        try (HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(TOKENIZER, Map.of())) {
            expected = tokenizer.encode(TEXT).getIds();
            assertEquals(TEXT, tokenizer.decode(expected, true), "the fixture round-trips the text");
        }
        assertEquals(1, expected[0], "<s> first, as the post-processor adds it");
        assertTrue(expected.length - 1 < TEXT.length(), "the merges apply: fewer tokens than bytes");
        assertEquals(TEXT, fromVocabulary(expected), "each id is a piece of the text, by the vocabulary itself");

        Run byText = generate(new GenerateOptions(model, null, TEXT, NEW_TOKENS, true, null, 0, 1, null, null, null,
                false, false, DTypeChoice.AUTO, false));
        assertArrayEquals(expected, byText.report.promptIds().stream().mapToLong(Integer::longValue).toArray(),
                "--prompt gives the tokenizer's ids");

        int[] ids = byText.report.promptIds().stream().mapToInt(Integer::intValue).toArray();
        Run byIds = generate(new GenerateOptions(model, ids, null, NEW_TOKENS, true, null, 0, 1, null, null, null,
                false, false, DTypeChoice.AUTO, false));
        assertEquals(byIds.report.tokens(), byText.report.tokens(), "the model runs on exactly those ids");
        assertEquals(NEW_TOKENS, byText.report.tokens().size());

        long[] generated = byText.report.tokens().stream().mapToLong(Integer::longValue).toArray();
        String decoded;
        try (HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(TOKENIZER, Map.of())) {
            decoded = tokenizer.decode(generated, true);
        }
        assertEquals(decoded, byText.report.text(), "the output text is the tokenizer's decoding");
        assertTrue(byText.streamed.contains("prompt: " + TEXT), byText.streamed);
        // (The stream prints what the decoding adds token by token; random ids may leave a byte sequence that is
        // not yet a character, so the streamed line can lag the final text.)
        assertTrue(byText.streamed.contains("generated: "), byText.streamed);
        assertEquals(decoded, byIds.report.text(), "with --prompt-ids too, when the model has a tokenizer");
    }

    private record Run(GenerateReport report, String streamed) {
    }

    private static Run generate(GenerateOptions options) throws Exception {
        GenerateRun.Inputs inputs = GenerateRun.checkInputs(options);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        List<GenerateReport> reports;
        try (PrintStream stream = new PrintStream(out, true, StandardCharsets.UTF_8)) {
            reports = InMemoryGroup.run(2, comm -> {
                try (CpuBackend backend = new CpuBackend(1)) {
                    return new GenerateRun(backend, comm, options, inputs, stream).run();
                }
            });
        }
        return new Run(reports.get(0), out.toString(StandardCharsets.UTF_8));
    }

    /**
     * The text of {@code ids} (the first, {@code <s>}, left out) read from tokenizer.json's vocabulary alone:
     * each token's symbols, GPT-2's byte alphabet mapped back to bytes ('Ġ' is a space).
     */
    private static String fromVocabulary(long[] ids) throws Exception {
        JsonNode vocab = new ObjectMapper().readTree(TOKENIZER.toFile()).get("model").get("vocab");
        Map<Long, String> byId = new HashMap<>();
        vocab.fields().forEachRemaining(e -> byId.put(e.getValue().asLong(), e.getKey()));
        StringBuilder text = new StringBuilder();
        for (int i = 1; i < ids.length; i++) {
            text.append(byId.get(ids[i]));
        }
        return text.toString().replace('Ġ', ' ');
    }
}
