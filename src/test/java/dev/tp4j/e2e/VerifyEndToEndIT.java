package dev.tp4j.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code bin/tp4j launch ... verify} through real worker processes, as the README tells users to run it. */
class VerifyEndToEndIT {

    @ParameterizedTest(name = "tp={0} hidden={1} ffn={2} {3}")
    @CsvSource({"1,64,256,gelu,''", "2,64,256,relu,''", "3,50,131,silu,--gated", "4,64,250,gelu_tanh,''"})
    void verifyPassesOnEveryWorldSize(int tp, int hidden, int ffn, String act, String gated, @TempDir Path dir)
            throws Exception {
        Path json = dir.resolve("verify.json");
        String[] args = gated.isEmpty()
                ? new String[] {"launch", "--nproc-per-node", "" + tp, "verify", "--hidden", "" + hidden, "--ffn",
                    "" + ffn, "--activation", act, "--json", json.toString()}
                : new String[] {"launch", "--nproc-per-node", "" + tp, "verify", "--hidden", "" + hidden, "--ffn",
                    "" + ffn, "--activation", act, gated, "--json", json.toString()};
        Tp4jCommand.Result r = Tp4jCommand.run(args);
        assertEquals(0, r.status(), r::all);
        assertTrue(r.out().contains("verify: all 4 checks passed on " + tp), r::all);
        assertTrue(r.out().contains("none — each rank computes its own output columns"), r::all);

        JsonNode root = new ObjectMapper().readTree(json.toFile());
        assertTrue(root.get("passed").asBoolean());
        assertEquals(tp, root.get("world_size").asInt());
        assertEquals(tp, root.get("shards").size());
        long rows = 0;
        for (JsonNode shard : root.get("shards")) {
            rows += shard.get("column_weight").get(0).asLong();
        }
        assertEquals(ffn, rows, "column shards cover the ffn rows exactly once");
        JsonNode checks = root.get("checks");
        assertEquals(0, checks.get(0).get("collectives").size());
        assertEquals("all_gather", checks.get(1).get("collectives").get(0).get("op").asText());
        assertEquals("all_reduce", checks.get(2).get("collectives").get(0).get("op").asText());
        assertEquals(1, checks.get(3).get("collectives").size());
        assertEquals("all_reduce", checks.get(3).get("collectives").get(0).get("op").asText());
        assertEquals(1, checks.get(3).get("collectives").get(0).get("count").asInt());
        for (JsonNode c : checks) {
            assertTrue(c.get("max_abs_diff").asDouble() <= c.get("max_bound").asDouble(), c::toString);
        }
    }

    @Test
    void demoTellsTheSeedsStoryOnFourCpuRanks() throws Exception {
        Tp4jCommand.Result r = Tp4jCommand.run("demo");
        assertEquals(0, r.status(), r::all);
        for (String line : new String[] {"[0] tp4j verify: 4 ranks", "column-parallel", "row-parallel", "mlp (",
                "1 all_reduce", "1 all_gather", "verify: all 4 checks passed on 4 ranks"}) {
            assertTrue(r.out().contains(line), () -> "missing '" + line + "' in\n" + r.all());
        }
        for (int rank = 0; rank < 4; rank++) {
            assertTrue(r.out().contains("[0]   " + rank + "     ["), "shard shapes of rank " + rank + "\n" + r.out());
        }
    }

    @Test
    void badTaskInputExitsTwoWithOneLineNamingTheFlag() throws Exception {
        for (String[] args : new String[][] {
                {"launch", "--nproc-per-node", "2", "verify", "--hidden", "0"},
                {"launch", "--nproc-per-node", "2", "verify", "--ffn", "-3"},
                {"verify", "--batch", "0"},
                {"verify", "--activation", "tanh"},
                {"launch", "--nproc-per-node", "2", "verify", "--bogus"}}) {
            Tp4jCommand.Result r = Tp4jCommand.run(args);
            assertEquals(2, r.status(), () -> String.join(" ", args) + "\n" + r.all());
            String flag = args[args.length - 2].startsWith("--") ? args[args.length - 2] : args[args.length - 1];
            assertTrue(r.err().contains(flag), () -> "message should name " + flag + ": " + r.err());
            assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
        }
    }

    @Test
    void jsonIntoAMissingDirectoryIsRefusedBeforeAnyWork(@TempDir Path dir) throws Exception {
        Path missing = dir.resolve("no/such/dir/out.json");
        Tp4jCommand.Result r = Tp4jCommand.run("launch", "--nproc-per-node", "2", "verify", "--json", missing.toString());
        assertEquals(2, r.status(), r::all);
        assertTrue(r.err().contains("--json"), r::all);
        assertFalse(Files.exists(missing));
    }

    @Test
    void infoSaysWhatThisMachineOffersAndWhatIsMissing() throws Exception {
        Tp4jCommand.Result r = Tp4jCommand.run("info");
        assertEquals(0, r.status(), r::all);
        assertTrue(r.out().contains("OpenBLAS 0.3"), r::all);
        assertTrue(r.out().contains("cores:       " + Runtime.getRuntime().availableProcessors()), r::all);
        assertTrue(r.out().contains("cuda:        "), r::all);
        assertTrue(r.out().contains("collectives: NCCL when every rank has its own GPU, else shared memory (/dev/shm)"
                + " between ranks on one host, else hierarchical (shared memory inside each host, tcp between hosts)"
                + " when a host holds several ranks, else tcp ring"),
                r::all);
        assertTrue(r.out().contains("nccl:        "), r::all);
    }
}
