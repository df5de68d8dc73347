package dev.tp4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;

/**
 * The JavaCPP convention the CUDA calls depend on, pinned on host memory (no GPU): a {@code Pointer}
 * ({@code void*}) parameter gets {@code address + position} with the position in <em>bytes</em>, whatever
 * the object's class; {@code Pointer.memcpy} is such a native, as are {@code cudaMemcpyAsync} and every
 * NCCL buffer parameter. Should JavaCPP ever change this, these tests fail before a GPU run does.
 */
class DevicePointersTest {

    /** A host tensor whose element i holds i. */
    private static Tensor counting(Shape shape) {
        float[] v = new float[Math.toIntExact(shape.numel())];
        for (int i = 0; i < v.length; i++) {
            v[i] = i;
        }
        return Tensor.hostOf(shape, v);
    }

    /** The first float a {@code void*} parameter would read through {@code p}. */
    private static float firstFloatThroughVoidStar(Pointer p) {
        try (FloatPointer out = new FloatPointer(1)) {
            Pointer.memcpy(out, p, Float.BYTES);
            return out.get(0);
        }
    }

    @Test
    void aVoidStarParameterAddsAFloatPointersPositionAsBytes() {
        try (FloatPointer f = new FloatPointer(8)) {
            for (int i = 0; i < 8; i++) {
                f.put(i, 10 + i);
            }
            f.position(4);
            // Position 4 of a FloatPointer, read through void*: byte 4, i.e. float 1 (not float 4).
            assertEquals(11f, firstFloatThroughVoidStar(f));
        }
    }

    @Test
    void bytesOfAViewStartAtItsFirstElement() {
        try (Tensor t = counting(Shape.of(4, 6))) {
            long base = t.dataPointer().address();
            Tensor window = t.narrowColumns(2, 3);              // element (0, 2) = 2
            Tensor slice = t.view(Shape.of(24)).slice(13, 5);   // element 13
            Tensor sliceWindow = t.view(Shape.of(24)).slice(12, 12).view(Shape.of(2, 6)).narrowColumns(5, 1); // 17
            assertEquals(2f, firstFloatThroughVoidStar(DevicePointers.bytes(window)));
            assertEquals(13f, firstFloatThroughVoidStar(DevicePointers.bytes(slice)));
            assertEquals(17f, firstFloatThroughVoidStar(DevicePointers.bytes(sliceWindow)));
            // Kernel arguments get the same address, and cuBLAS's typed float* pointers denote it too.
            assertEquals(base + 2 * 4, DevicePointers.address(window));
            assertEquals(base + 13 * 4, DevicePointers.address(slice));
            assertEquals(base + 17 * 4, DevicePointers.address(sliceWindow));
            FloatPointer typed = DevicePointers.floats(slice);
            assertEquals(DevicePointers.address(slice), typed.address() + typed.position() * Float.BYTES);
        }
    }

    /** The defect of issue 12: a float-positioned pointer handed to a void* parameter reads offset / 4. */
    @Test
    void aFloatPointerHandedToVoidStarReadsAQuarterOfTheOffset() {
        try (Tensor t = counting(Shape.of(24))) {
            Tensor slice = t.slice(12, 4);
            assertEquals(3f, firstFloatThroughVoidStar(slice.floatPointer()));
            assertEquals(12f, firstFloatThroughVoidStar(DevicePointers.bytes(slice)));
        }
    }
}
