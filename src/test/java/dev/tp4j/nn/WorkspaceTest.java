package dev.tp4j.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.tp4j.backend.cpu.CpuBackend;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

class WorkspaceTest {
    private static long address(Tensor t) {
        return t.floatPointer().address();
    }

    @Test
    void theSameShapeIsTheSameTensorAndASmallerOneAViewOfTheSameMemory() {
        try (CpuBackend backend = new CpuBackend(1); Workspace w = new Workspace(backend)) {
            Tensor prefill = w.matrix("a", 128, 64);
            assertEquals(Shape.of(128, 64), prefill.shape());
            assertSame(prefill, w.matrix("a", 128, 64));
            long held = w.bytes();
            assertEquals(128L * 64 * Float.BYTES, held);

            Tensor decode = w.matrix("a", 1, 64);
            assertEquals(Shape.of(1, 64), decode.shape());
            assertEquals(address(prefill), address(decode));
            assertSame(decode, w.matrix("a", 1, 64));
            assertEquals(held, w.bytes(), "a smaller shape allocates nothing");
        }
    }

    @Test
    void aLargerShapeGrowsTheBufferAndEachNameHasItsOwn() {
        try (CpuBackend backend = new CpuBackend(1); Workspace w = new Workspace(backend)) {
            Tensor small = w.matrix("a", 2, 8);
            Tensor other = w.matrix("b", 2, 8);
            assertNotEquals(address(small), address(other));
            small.floatBuffer().put(0, 1f);
            assertEquals(0f, other.floatBuffer().get(0));

            Tensor large = w.matrix("a", 16, 8);
            assertEquals(Shape.of(16, 8), large.shape());
            assertEquals((16L * 8 + 2L * 8) * Float.BYTES, w.bytes());
            for (int i = 0; i < 16 * 8; i++) {
                assertEquals(0f, large.floatBuffer().get(i), "a new buffer is zeroed");
            }
        }
    }
}
