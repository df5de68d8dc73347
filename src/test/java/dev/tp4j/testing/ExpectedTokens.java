package dev.tp4j.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.io.IOException;

/**
 * {@code ExpectedTokens FIXTURE/expected.json generate.json}: exit 0 when the report of a greedy
 * {@code generate --ignore-eos} run of a repository fixture has its prompt and exactly PyTorch's float64
 * greedy tokens ({@code greedy_tokens}), else 1 with one line saying what differs. The GPU validation kit
 * runs it after its generate steps (it has a Java runtime, not a JSON tool).
 */
public final class ExpectedTokens {
    private ExpectedTokens() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 2) {
            System.err.println("usage: ExpectedTokens EXPECTED_JSON GENERATE_JSON");
            System.exit(2);
        }
        ObjectMapper json = new ObjectMapper();
        JsonNode expected = json.readTree(new File(args[0]));
        JsonNode report = json.readTree(new File(args[1]));
        String problem = null;
        if (!expected.get("prompt_ids").equals(report.get("prompt_ids"))) {
            problem = "prompt " + report.get("prompt_ids") + ", the fixture's is " + expected.get("prompt_ids");
        } else if (!expected.get("greedy_tokens").equals(report.get("tokens"))) {
            problem = "tokens " + report.get("tokens") + ", PyTorch's float64 greedy tokens are " + expected.get("greedy_tokens");
        }
        if (problem != null) {
            System.out.println("ExpectedTokens: " + args[1] + ": " + problem);
            System.exit(1);
        }
        System.out.println("ExpectedTokens: " + report.get("tokens") + " are PyTorch's float64 greedy tokens");
    }
}
