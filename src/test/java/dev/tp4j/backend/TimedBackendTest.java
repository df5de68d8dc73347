package dev.tp4j.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.backend.cpu.CpuBackend;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class TimedBackendTest {
    private static Tensor filled(CpuBackend backend, int rows, int cols, float scale) {
        Tensor t = backend.allocate(Shape.of(rows, cols), DType.F32);
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) {
            v[i] = scale * ((i % 7) - 3);
        }
        backend.copyFromHost(v, t);
        return t;
    }

    private static Map<String, TimedBackend.Entry> byOp(List<TimedBackend.Entry> entries) {
        return entries.stream().collect(Collectors.toMap(TimedBackend.Entry::op, e -> e));
    }

    @Test
    void forwardsEveryCallAndCountsItByOperationAndLinearByWeightShape() {
        try (CpuBackend cpu = new CpuBackend(1);
             Tensor x = filled(cpu, 2, 8, 0.5f);
             Tensor w1 = filled(cpu, 4, 8, 0.25f);
             Tensor w2 = filled(cpu, 3, 8, 0.125f);
             Tensor y1 = cpu.allocate(Shape.of(2, 4), DType.F32);
             Tensor y2 = cpu.allocate(Shape.of(2, 3), DType.F32);
             Tensor direct = cpu.allocate(Shape.of(2, 4), DType.F32)) {
            TimedBackend timed = new TimedBackend(cpu);
            timed.linear(x, w1, null, y1);
            timed.linear(x, w1, null, y1);
            timed.linear(x, w2, null, y2);
            timed.add(y1, y1);
            cpu.linear(x, w1, null, direct);
            cpu.add(direct, direct);
            assertArrayEquals(cpu.copyToHost(direct), cpu.copyToHost(y1), "the same results as the backend itself");

            Map<String, TimedBackend.Entry> entries = byOp(timed.entries());
            assertEquals(2, entries.get("linear 4x8").calls());
            assertEquals(1, entries.get("linear 3x8").calls());
            assertEquals(1, entries.get("add").calls());
            assertEquals(3, entries.size(), entries::toString);
            assertTrue(entries.values().stream().allMatch(e -> e.nanos() > 0), entries::toString);

            timed.reset();
            assertEquals(List.of(), timed.entries());
            timed.copyToHost(y2);
            assertEquals(1, byOp(timed.entries()).get("copy_to_host").calls());
        }
    }

    @Test
    void shapesBeyondTheLimitAreCountedTogether() {
        try (CpuBackend cpu = new CpuBackend(1); Tensor x = filled(cpu, 1, 2, 1f)) {
            TimedBackend timed = new TimedBackend(cpu);
            int shapes = TimedBackend.MAX_SHAPES + 3;
            for (int rows = 1; rows <= shapes; rows++) {
                try (Tensor w = filled(cpu, rows, 2, 1f); Tensor y = cpu.allocate(Shape.of(1, rows), DType.F32)) {
                    timed.linear(x, w, null, y);
                }
            }
            Map<String, TimedBackend.Entry> entries = byOp(timed.entries());
            assertEquals(TimedBackend.MAX_SHAPES + 1, entries.size(), entries::toString);
            assertEquals(3, entries.get("linear (other shapes)").calls());
            assertEquals(shapes, entries.values().stream().mapToLong(TimedBackend.Entry::calls).sum());
        }
    }
}
