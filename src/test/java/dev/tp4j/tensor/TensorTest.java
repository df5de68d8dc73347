package dev.tp4j.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class TensorTest {

    private static Tensor iota(int rows, int cols) {
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) {
            v[i] = i;
        }
        return Tensor.hostOf(Shape.of(rows, cols), v);
    }

    @Test
    void sliceSeesItsOwnElementsFromIndexZero() {
        try (Tensor t = iota(4, 5)) {
            Tensor s = t.slice(7, 6);
            assertArrayEquals(new float[] {7, 8, 9, 10, 11, 12}, s.toFloatArray());
            assertEquals(7f, s.floatBuffer().get(0));
            assertEquals(7f, s.floatPointer().get(0));
        }
    }

    @Test
    void narrowColumnsIsAStridedWindowSharingMemory() {
        try (Tensor t = iota(3, 5)) {
            Tensor w = t.narrowColumns(1, 3);
            assertFalse(w.isContiguous());
            assertEquals(5, w.rowStride());
            assertArrayEquals(new float[] {1, 2, 3, 6, 7, 8, 11, 12, 13}, w.toFloatArray());
            w.set(2, 0, -1f);
            assertEquals(-1f, t.get(2, 1));
            assertEquals(-1f, t.floatPointer().get(11));
        }
    }

    @Test
    void viewsCheckTheirBounds() {
        try (Tensor t = iota(2, 3)) {
            assertThrows(IndexOutOfBoundsException.class, () -> t.narrowColumns(2, 2));
            assertThrows(IndexOutOfBoundsException.class, () -> t.slice(5, 2));
            assertThrows(IllegalArgumentException.class, () -> t.view(Shape.of(5)));
        }
    }

    @Test
    void allocationIsZeroedAndEmptyTensorsWork() {
        try (Tensor t = Tensor.allocateHost(Shape.of(3, 0), DType.F32); Tensor z = Tensor.allocateHost(Shape.of(4), DType.F32)) {
            assertEquals(0, t.numel());
            assertArrayEquals(new float[0], t.toFloatArray());
            assertArrayEquals(new float[4], z.toFloatArray());
        }
    }
}
