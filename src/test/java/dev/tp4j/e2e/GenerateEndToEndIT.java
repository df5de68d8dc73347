package dev.tp4j.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tp4j.io.SafetensorsFile;
import dev.tp4j.tensor.Shape;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code tp4j launch … generate} as a user runs it: worker processes, files written, the report's numbers. */
class GenerateEndToEndIT {
    private static final Path MODELS = Tp4jCommand.ROOT.resolve("src/test/resources/models");

    @ParameterizedTest(name = "{0} at tp {1}")
    @CsvSource({"llama, 2", "qwen2, 3"})
    void ranksGeneratePyTorchsTokensAndWriteTheirFiles(String name, int tp, @TempDir Path dir) throws Exception {
        Path model = MODELS.resolve(name);
        ObjectMapper json = new ObjectMapper();
        JsonNode expected = json.readTree(model.resolve("expected.json").toFile());
        List<String> ids = new ArrayList<>();
        expected.get("prompt_ids").forEach(id -> ids.add(id.asText()));
        Path logits = dir.resolve("logits.safetensors");
        Path report = dir.resolve("generate.json");
        Tp4jCommand.Result r = Tp4jCommand.run(120, "launch", "--nproc-per-node", Integer.toString(tp), "--backend", "cpu",
                "generate", "--model", model.toString(), "--prompt-ids", String.join(",", ids), "--max-new-tokens",
                expected.get("max_new_tokens").asText(), "--ignore-eos", "--verify", "--logits", logits.toString(),
                "--json", report.toString(), "--profile");
        assertEquals(0, r.status(), r::all);
        assertTrue(r.out().contains("[0] generated ids:"), r::all);

        JsonNode out = json.readTree(report.toFile());
        assertEquals(expected.get("greedy_tokens"), out.get("tokens"), r::all);
        assertEquals(expected.get("prompt_ids"), out.get("prompt_ids"));
        assertTrue(out.get("passed").asBoolean());
        assertTrue(out.get("verify").get("max_abs_diff").asDouble() <= out.get("verify").get("max_bound").asDouble());
        for (String key : List.of("load_seconds", "prefill_ms", "decode_ms_per_token", "tokens_per_second")) {
            assertTrue(out.get(key).asDouble() > 0, key + " in " + out);
        }
        JsonNode steps = out.get("decode_step_ms");
        double median = steps.get("median").asDouble();
        double p90 = steps.get("p90").asDouble();
        double slowest = steps.get("max").asDouble();
        assertTrue(0 < median && median <= p90 && p90 <= slowest, steps::toString);
        assertTrue(out.get("decode_ms_per_token").asDouble() <= slowest, out::toString);
        assertEquals(tp, out.get("ranks").size());
        long layers = 2;
        JsonNode perStep = out.get("collectives_per_decode_step");
        assertEquals("all_reduce", perStep.get(0).get("op").asText(), perStep::toString);
        assertEquals(1 + 2 * layers, perStep.get(0).get("count").asDouble(), perStep::toString);
        assertEquals("all_gather", perStep.get(1).get("op").asText(), perStep::toString);
        assertEquals(1, perStep.get(1).get("count").asDouble(), perStep::toString);
        // --profile: per decode step, one linear per projection (q/k/v stacked, o, gate/up stacked, down) of every
        // layer plus the LM head, the collectives counted above, and the step's time accounted for.
        JsonNode profile = out.get("profile");
        assertEquals(0, profile.get("rank").asInt(), profile::toString);
        double linears = 0;
        double reduces = 0;
        double ms = 0;
        for (JsonNode line : profile.get("decode_step")) {
            String op = line.get("op").asText();
            linears += op.startsWith("linear ") ? line.get("calls").asDouble() : 0;
            reduces += op.equals("all_reduce") ? line.get("calls").asDouble() : 0;
            assertTrue(line.get("ms").asDouble() >= 0, line::toString);
            ms += line.get("ms").asDouble();
        }
        assertEquals(4 * layers + 1, linears, profile::toString);
        assertEquals(1 + 2 * layers, reduces, profile::toString);
        assertEquals(out.get("decode_ms_per_token").asDouble(), ms, 0.01 * ms + 0.01, profile::toString);
        assertTrue(profile.get("prefill").size() > 2, profile::toString);
        assertTrue(r.out().contains("Profile of rank 0"), r::all);
        for (JsonNode rank : out.get("ranks")) {
            assertTrue(rank.get("weight_bytes").asLong() > 0, rank::toString);
        }

        try (SafetensorsFile f = SafetensorsFile.open(logits)) {
            assertEquals(Shape.of(ids.size(), expected.get("vocab_size").asLong()), f.info("logits").shape());
        }
    }
}
