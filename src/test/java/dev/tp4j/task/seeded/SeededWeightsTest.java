package dev.tp4j.task.seeded;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Partition;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

class SeededWeightsTest {

    @Test
    void eachRanksShardIsExactlyItsSliceOfTheFullMatrix() {
        SeededWeights w = new SeededWeights(7);
        int rows = 11;
        int cols = 9;
        double[] full = w.full("m", rows, cols, 0.5f);
        for (int tp = 1; tp <= 4; tp++) {
            Partition byRow = new Partition(rows, tp);
            Partition byCol = new Partition(cols, tp);
            for (int r = 0; r < tp; r++) {
                try (Tensor rowShard = Tensor.allocateHost(Shape.of(byRow.count(r), cols), DType.F32);
                     Tensor colShard = Tensor.allocateHost(Shape.of(rows, byCol.count(r)), DType.F32)) {
                    w.fillRows("m", cols, byRow.offset(r), 0.5f, rowShard);
                    w.fillColumns("m", cols, byCol.offset(r), 0.5f, colShard);
                    for (int i = 0; i < rowShard.rows(); i++) {
                        for (int j = 0; j < cols; j++) {
                            assertEquals(full[(int) ((byRow.offset(r) + i) * cols + j)], rowShard.get(i, j), 0.0);
                        }
                    }
                    for (int i = 0; i < rows; i++) {
                        for (int j = 0; j < colShard.cols(); j++) {
                            assertEquals(full[(int) (i * cols + byCol.offset(r) + j)], colShard.get(i, j), 0.0);
                        }
                    }
                }
            }
        }
    }

    @Test
    void valuesAreInRangeAndDependOnSeedAndName() {
        SeededWeights a = new SeededWeights(1);
        double sum = 0;
        for (int i = 0; i < 10_000; i++) {
            float v = a.value("x", i, 0.25f);
            assertTrue(v >= -0.25f && v < 0.25f);
            sum += v;
        }
        assertTrue(Math.abs(sum / 10_000) < 0.01, "mean near zero");
        assertNotEquals(a.value("x", 3, 1f), new SeededWeights(2).value("x", 3, 1f));
        assertNotEquals(a.value("x", 3, 1f), a.value("y", 3, 1f));
    }
}
