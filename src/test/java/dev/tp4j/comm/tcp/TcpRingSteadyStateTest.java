package dev.tp4j.comm.tcp;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.testutil.SteadyStateAllocations;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A model step runs the same collectives on the same buffers over and over: after warm-up those calls
 * must not allocate (no per-call buffers, views, iterators or selector bookkeeping).
 */
@Timeout(60)
class TcpRingSteadyStateTest {

    @Test
    void repeatedCollectivesOnTheSameTensorsAllocateNothing() throws Exception {
        int ranks = 3;
        try (RingGroup ring = new RingGroup(ranks, Duration.ofSeconds(30))) {
            List<Long> bytesPerRound = SteadyStateAllocations.bytesPerRound(ring, ranks, 1_640, 300,
                    Duration.ofSeconds(30));
            for (int r = 0; r < ranks; r++) {
                // A few bytes of slack for a stray deoptimisation; a per-call allocation costs tens of bytes.
                assertTrue(bytesPerRound.get(r) < 16,
                        "rank " + r + " allocated " + bytesPerRound.get(r) + " bytes per round of five collectives");
            }
        }
    }
}
