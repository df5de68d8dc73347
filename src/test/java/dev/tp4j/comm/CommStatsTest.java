package dev.tp4j.comm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class CommStatsTest {

    @Test
    void snapshotsSubtractToWhatRanBetweenThem() {
        CommStats stats = new CommStats();
        stats.record(CollectiveOp.BROADCAST, 1, 4, 4, 100);
        CommStats.Snapshot before = stats.snapshot();
        stats.record(CollectiveOp.ALL_REDUCE, 10, 40, 60, 1_000);
        stats.record(CollectiveOp.ALL_REDUCE, 10, 40, 60, 3_000);
        stats.record(CollectiveOp.ALL_GATHER, 8, 32, 24, 500);
        CommStats.Snapshot span = stats.since(before);

        assertEquals(3, span.count());
        assertEquals(0, span.count(CollectiveOp.BROADCAST));
        assertEquals(List.of(new CommStats.Summary(CollectiveOp.ALL_REDUCE, 2, 20, 80, 120, 4_000),
                new CommStats.Summary(CollectiveOp.ALL_GATHER, 1, 8, 32, 24, 500)), span.summaries());
        assertEquals(4, stats.count());
        assertEquals(span.count() + 1, span.plus(before).count());
    }

    @Test
    void memoryStaysFixedWhateverTheNumberOfCollectives() {
        CommStats stats = new CommStats();
        long[] before = stats.snapshot().latencyHistogram(CollectiveOp.ALL_REDUCE);
        for (int i = 0; i < 3_000_000; i++) {
            stats.record(CollectiveOp.ALL_REDUCE, 1, 4, 4, i & 1023);
        }
        // The histogram is the only per-op storage that could grow; it has the same length after 3M records.
        assertEquals(before.length, stats.snapshot().latencyHistogram(CollectiveOp.ALL_REDUCE).length);
        assertEquals(3_000_000, stats.snapshot().count(CollectiveOp.ALL_REDUCE));
    }

    @Test
    void latencyHistogramBucketsArePowersOfTwoAndQuantilesBoundFromAbove() {
        CommStats stats = new CommStats();
        stats.record(CollectiveOp.ALL_REDUCE, 1, 4, 4, 0);
        stats.record(CollectiveOp.ALL_REDUCE, 1, 4, 4, 1);
        stats.record(CollectiveOp.ALL_REDUCE, 1, 4, 4, 1_000); // [512, 1024)
        stats.record(CollectiveOp.ALL_REDUCE, 1, 4, 4, 1_024); // [1024, 2048)
        long[] h = stats.snapshot().latencyHistogram(CollectiveOp.ALL_REDUCE);
        long[] expected = new long[CommStats.BUCKETS];
        expected[0] = 2;
        expected[9] = 1;
        expected[10] = 1;
        assertArrayEquals(expected, h);
        CommStats.Snapshot s = stats.snapshot();
        assertEquals(1, s.latencyQuantileNanos(CollectiveOp.ALL_REDUCE, 0.5));
        assertEquals(2047, s.latencyQuantileNanos(CollectiveOp.ALL_REDUCE, 1.0));
        assertTrue(s.latencyQuantileNanos(CollectiveOp.ALL_REDUCE, 0.75) >= 1_000);
        assertEquals(0, s.latencyQuantileNanos(CollectiveOp.BROADCAST, 0.5));
        assertEquals(CommStats.BUCKETS - 1, CommStats.bucketOf(Long.MAX_VALUE));
    }
}
