package dev.tp4j.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PartitionTest {

    @ParameterizedTest
    @CsvSource({"10,3", "0,4", "1,4", "3,4", "12,4", "13,5", "7,1"})
    void partsCoverTheSizeInOrderWithTheFirstRemainderRanksOneLarger(long size, int parts) {
        Partition p = new Partition(size, parts);
        long next = 0;
        for (int r = 0; r < parts; r++) {
            assertEquals(next, p.offset(r));
            long expected = size / parts + (r < size % parts ? 1 : 0);
            assertEquals(expected, p.count(r));
            next += p.count(r);
        }
        assertEquals(size, next);
    }
}
