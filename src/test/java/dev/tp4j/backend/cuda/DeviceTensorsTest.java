package dev.tp4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Device;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.util.List;
import org.bytedeco.javacpp.FloatPointer;
import org.junit.jupiter.api.Test;

/**
 * {@link DeviceTensors} (the GPU rank's allocation and copies) run on host memory through
 * {@link HostStream}: the offset arithmetic of views, which calls are made, and which of them wait.
 * Every copy test writes a view and checks the <em>whole</em> tensor, so that a write landing at the
 * wrong offset cannot hide behind a read from the same wrong offset.
 */
class DeviceTensorsTest {
    private final HostStream stream = new HostStream();
    private final DeviceTensors tensors = new DeviceTensors(stream, Device.cuda(0));

    /** Every element of a contiguous tensor, read straight from its memory (not through the copies under test). */
    private static float[] raw(Tensor t) {
        FloatPointer p = t.floatPointer();
        float[] out = new float[Math.toIntExact(t.numel())];
        for (int i = 0; i < out.length; i++) {
            out[i] = p.get(i);
        }
        return out;
    }

    private static float[] range(int n, float from) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = from + i;
        }
        return v;
    }

    @Test
    void allocateZeroesOnTheStreamAndNeverWaits() {
        try (Tensor t = tensors.allocate(Shape.of(3, 5), DType.F32)) {
            assertEquals(Device.cuda(0), t.device());
            assertEquals(List.of("malloc", "memset"), stream.calls, "allocate must not synchronize the stream");
            assertArrayEquals(new float[15], raw(t));
        }
        assertEquals(List.of("malloc", "memset", "free"), stream.calls, "closing frees on the stream, without a wait");
        assertEquals(0, stream.live);
    }

    @Test
    void aForwardPassWorthOfTemporariesMakesNoWait() {
        for (int step = 0; step < 3; step++) {
            try (Tensor local = tensors.allocate(Shape.of(4, 8), DType.F32);
                 Tensor gathered = tensors.allocate(Shape.of(64), DType.F32)) {
                tensors.copy(local.view(Shape.of(32)), gathered.slice(32, 32));
            }
        }
        assertFalse(stream.calls.contains("synchronize"), stream.calls.toString());
        assertEquals(0, stream.live);
    }

    @Test
    void aColumnWindowWrittenFromTheHostLandsInPlaceAndNowhereElse() {
        try (Tensor t = tensors.allocate(Shape.of(4, 6), DType.F32)) {
            float[] base = range(24, 100);
            tensors.copyFromHost(base, t);
            float[] w = range(12, -1);
            tensors.copyFromHost(w, t.narrowColumns(2, 3));
            float[] expect = base.clone();
            for (int i = 0; i < 4; i++) {
                System.arraycopy(w, i * 3, expect, i * 6 + 2, 3);
            }
            assertArrayEquals(expect, raw(t));
            assertArrayEquals(w, tensors.copyToHost(t.narrowColumns(2, 3)));
            assertEquals(true, stream.calls.contains("copy2D HOST_TO_DEVICE"), "a window is one cudaMemcpy2D");
        }
    }

    @Test
    void aSliceWrittenFromTheHostLandsInPlaceAndNowhereElse() {
        try (Tensor t = tensors.allocate(Shape.of(20), DType.F32)) {
            tensors.copyFromHost(range(5, 1), t.slice(7, 5));
            float[] expect = new float[20];
            System.arraycopy(range(5, 1), 0, expect, 7, 5);
            assertArrayEquals(expect, raw(t));
            assertArrayEquals(range(5, 1), tensors.copyToHost(t.slice(7, 5)));
        }
    }

    /** gather_output's shape: contiguous blocks of a flat buffer into column windows of the output. */
    @Test
    void deviceCopiesBetweenSlicesAndWindows() {
        try (Tensor gathered = tensors.allocate(Shape.of(2 * 3 + 2 * 2), DType.F32);
             Tensor y = tensors.allocate(Shape.of(2, 5), DType.F32)) {
            tensors.copyFromHost(range(10, 1), gathered);
            tensors.copy(gathered.slice(0, 6).view(Shape.of(2, 3)), y.narrowColumns(0, 3));
            tensors.copy(gathered.slice(6, 4).view(Shape.of(2, 2)), y.narrowColumns(3, 2));
            assertArrayEquals(new float[] {1, 2, 3, 7, 8, 4, 5, 6, 9, 10}, raw(y));
            // And back: a window into a slice in the middle of a flat buffer.
            try (Tensor flat = tensors.allocate(Shape.of(12), DType.F32)) {
                tensors.copy(y.narrowColumns(1, 3), flat.slice(3, 6).view(Shape.of(2, 3)));
                assertArrayEquals(new float[] {0, 0, 0, 2, 3, 7, 5, 6, 9, 0, 0, 0}, raw(flat));
            }
        }
    }

    @Test
    void copiesToAndFromJavaArraysWaitForTheStream() {
        try (Tensor t = tensors.allocate(Shape.of(2, 2), DType.F32)) {
            stream.calls.clear();
            tensors.copyFromHost(new float[] {1, 2, 3, 4}, t);
            assertEquals("synchronize", stream.calls.get(stream.calls.size() - 1), "the staging buffer is reused next");
            stream.calls.clear();
            tensors.copyToHost(t);
            assertEquals(List.of("copy DEVICE_TO_HOST", "synchronize"), stream.calls);
        }
    }

    @Test
    void adoptCopiesTheWholeHostTensorAndWaitsBeforeItIsFreed() {
        Tensor host = Tensor.hostOf(Shape.of(3, 4), range(12, 0.5f));
        try (host; Tensor placed = tensors.adopt(host)) {
            assertEquals(Device.cuda(0), placed.device());
            assertArrayEquals(range(12, 0.5f), raw(placed));
            assertEquals(List.of("malloc", "memset", "copy HOST_TO_DEVICE", "synchronize"), stream.calls);
        }
    }

    @Test
    void mismatchedCopiesAreRefusedNamingBothTensors() {
        try (Tensor a = tensors.allocate(Shape.of(2, 3), DType.F32);
             Tensor b = tensors.allocate(Shape.of(3, 2), DType.F32)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> tensors.copy(a, b));
            assertEquals("copy: Tensor[2, 3] F32 on cuda:0 into Tensor[3, 2] F32 on cuda:0", e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> tensors.copyFromHost(new float[5], a));
        }
    }

    @Test
    void theStagingBufferIsReleasedOnClose() {
        try (Tensor t = tensors.allocate(Shape.of(4), DType.F32)) {
            tensors.copyToHost(t);
        }
        tensors.close();
        assertEquals(1, stream.calls.stream().filter("mallocHost"::equals).count());
        assertEquals(1, stream.calls.stream().filter("freeHost"::equals).count());
    }
}
