package dev.tp4j.comm.hierarchical;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.testutil.SteadyStateAllocations;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * As for the flat transports: after warm-up, the same collectives on the same tensors allocate nothing,
 * neither in the hierarchy (its scratch and views are kept) nor in the links under it. Two pretend hosts
 * of two ranks each, so every rank runs the steps inside its node and the leaders those between nodes.
 */
@Timeout(120)
class HierarchicalSteadyStateTest {

    @Test
    void repeatedCollectivesOnTheSameTensorsAllocateNothing() throws Exception {
        int ranks = 4;
        try (HierarchicalGroup group = new HierarchicalGroup(ranks, Duration.ofSeconds(30))) {
            List<Long> bytesPerRound = SteadyStateAllocations.bytesPerRound(group, ranks, 1_200, 200,
                    Duration.ofSeconds(90));
            for (int r = 0; r < ranks; r++) {
                assertTrue(bytesPerRound.get(r) < 16,
                        "rank " + r + " allocated " + bytesPerRound.get(r) + " bytes per round of five collectives");
            }
        }
    }
}
