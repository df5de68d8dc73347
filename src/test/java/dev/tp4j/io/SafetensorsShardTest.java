package dev.tp4j.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.BadInputException;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Partition;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class SafetensorsShardTest {
    @TempDir
    Path dir;

    /** Values exact in F32, F16 and BF16 alike (multiples of 1/2 below 64), so every dtype compares exactly. */
    private static float[] values(int count, int seed) {
        float[] v = new float[count];
        for (int i = 0; i < count; i++) {
            v[i] = ((i * 37 + seed * 11) % 251 - 125) * 0.5f;
        }
        return v;
    }

    private static float[] rowsOf(float[] full, int cols, long firstRow, long rowCount) {
        float[] out = new float[Math.toIntExact(rowCount * cols)];
        System.arraycopy(full, Math.toIntExact(firstRow * cols), out, 0, out.length);
        return out;
    }

    private static float[] columnsOf(float[] full, int rows, int cols, long firstCol, long colCount) {
        int count = Math.toIntExact(colCount);
        float[] out = new float[rows * count];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(full, Math.toIntExact(r * cols + firstCol), out, r * count, count);
        }
        return out;
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F16", "BF16"})
    void shardsForTp1To5AreSlicesOfTheFullTensor(DType stored) {
        int[][] shapes = {{7, 11}, {5, 3}, {1, 4}, {4, 1}, {13, 10}};
        Path file = dir.resolve("shards-" + stored + ".safetensors");
        SafetensorsWriter writer = new SafetensorsWriter();
        Tensor[] sources = new Tensor[shapes.length + 1];
        for (int s = 0; s < shapes.length; s++) {
            sources[s] = Tensor.hostOf(Shape.of(shapes[s][0], shapes[s][1]), values(shapes[s][0] * shapes[s][1], s));
            writer.add("w" + s, sources[s], stored);
        }
        sources[shapes.length] = Tensor.hostOf(Shape.of(7), values(7, 99));
        writer.add("bias", sources[shapes.length], stored);
        writer.write(file);
        for (Tensor t : sources) {
            t.close();
        }

        try (SafetensorsFile in = SafetensorsFile.open(file)) {
            for (int s = 0; s < shapes.length; s++) {
                int rows = shapes[s][0];
                int cols = shapes[s][1];
                float[] full = values(rows * cols, s);
                String name = "w" + s;
                try (Tensor whole = in.read(name)) {
                    assertArrayEquals(full, whole.toFloatArray(), name);
                }
                for (int tp = 1; tp <= 5; tp++) {
                    Partition rowParts = new Partition(rows, tp);
                    Partition colParts = new Partition(cols, tp);
                    for (int rank = 0; rank < tp; rank++) {
                        String where = name + " " + stored + " tp=" + tp + " rank=" + rank;
                        try (Tensor rowShard = in.readRowShard(name, rank, tp);
                             Tensor colShard = in.readColumnShard(name, rank, tp)) {
                            assertEquals(Shape.of(rowParts.count(rank), cols), rowShard.shape(), where);
                            assertArrayEquals(rowsOf(full, cols, rowParts.offset(rank), rowParts.count(rank)),
                                    rowShard.toFloatArray(), where);
                            assertEquals(Shape.of(rows, colParts.count(rank)), colShard.shape(), where);
                            assertArrayEquals(columnsOf(full, rows, cols, colParts.offset(rank), colParts.count(rank)),
                                    colShard.toFloatArray(), where);
                        }
                    }
                }
            }
            float[] bias = values(7, 99);
            for (int tp = 1; tp <= 5; tp++) {
                Partition parts = new Partition(7, tp);
                for (int rank = 0; rank < tp; rank++) {
                    try (Tensor slice = in.readRowShard("bias", rank, tp)) {
                        assertEquals(Shape.of(parts.count(rank)), slice.shape());
                        assertArrayEquals(rowsOf(bias, 1, parts.offset(rank), parts.count(rank)), slice.toFloatArray(),
                                "bias tp=" + tp + " rank=" + rank);
                    }
                }
            }
        }
    }

    @Test
    void shardReadsTouchTheShardsBytesNotTheFiles() throws Exception {
        int rows = 4096;
        int cols = 1024;
        int tp = 4;
        long tensorBytes = (long) rows * cols * Float.BYTES;
        long shardBytes = tensorBytes / tp;
        float[] full = values(rows * cols, 3);
        Path file = dir.resolve("large.safetensors");
        try (Tensor w = Tensor.hostOf(Shape.of(rows, cols), full); Tensor b = Tensor.hostOf(Shape.of(rows), values(rows, 4))) {
            new SafetensorsWriter().add("up.weight", w).add("up.bias", b).add("down.weight", w).write(file);
        }
        assertTrue(Files.size(file) > 2 * tensorBytes);

        try (SafetensorsFile in = SafetensorsFile.open(file)) {
            assertEquals(0, in.bytesRead(), "opening reads only the header");
            try (Tensor shard = in.readRowShard("up.weight", 1, tp)) {
                assertArrayEquals(rowsOf(full, cols, rows / tp, rows / tp), shard.toFloatArray());
            }
            assertEquals(shardBytes, in.bytesRead());
            assertEquals(shardBytes, in.bytesMapped(), "a row shard maps exactly its bytes");

            try (Tensor bias = in.readRowShard("up.bias", 1, tp)) {
                assertEquals(rows / tp, bias.numel());
            }
            assertEquals(shardBytes + rows / tp * Float.BYTES, in.bytesRead());

            long before = in.bytesRead();
            long mappedBefore = in.bytesMapped();
            try (Tensor shard = in.readColumnShard("down.weight", 2, tp)) {
                assertArrayEquals(columnsOf(full, rows, cols, 2L * cols / tp, cols / tp), shard.toFloatArray());
            }
            assertEquals(shardBytes, in.bytesRead() - before, "a column shard reads only its slice of each row");
            // The other ranks' columns between rows may be mapped over (never read), but nothing beyond the tensor.
            assertTrue(in.bytesMapped() - mappedBefore <= tensorBytes);
        }

        // With gap joining switched off, each row is its own mapping and only the shard is mapped.
        try (SafetensorsFile in = SafetensorsFile.open(file, MappedRegionReader.DEFAULT_WINDOW_BYTES, 0);
             Tensor shard = in.readColumnShard("down.weight", 3, tp)) {
            assertEquals(shardBytes, in.bytesRead());
            assertEquals(shardBytes, in.bytesMapped());
            assertEquals(rows, in.mappings());
            assertArrayEquals(columnsOf(full, rows, cols, 3L * cols / tp, cols / tp), shard.toFloatArray());
        }
    }

    @Test
    void explicitRowAndColumnRangesAreCheckedAgainstTheShape() {
        Path file = dir.resolve("ranges.safetensors");
        try (Tensor w = Tensor.hostOf(Shape.of(3, 4), values(12, 0))) {
            new SafetensorsWriter().add("w", w).write(file);
        }
        try (SafetensorsFile in = SafetensorsFile.open(file)) {
            try (Tensor middle = in.readRows("w", 1, 1); Tensor cols = in.readColumns("w", 1, 2)) {
                assertArrayEquals(rowsOf(values(12, 0), 4, 1, 1), middle.toFloatArray());
                assertArrayEquals(columnsOf(values(12, 0), 3, 4, 1, 2), cols.toFloatArray());
            }
            assertThrows(IndexOutOfBoundsException.class, () -> in.readRows("w", 2, 2));
            assertThrows(IndexOutOfBoundsException.class, () -> in.readColumns("w", -1, 2));
            assertThrows(IndexOutOfBoundsException.class, () -> in.readRowShard("w", 3, 3));
        }
    }

    @Test
    void aColumnShardOfATensorThatIsNot2dIsBadInput() {
        Path file = dir.resolve("bias.safetensors");
        try (Tensor b = Tensor.hostOf(Shape.of(6), values(6, 0))) {
            new SafetensorsWriter().add("mlp.down_proj.bias", b).write(file);
        }
        try (SafetensorsFile in = SafetensorsFile.open(file)) {
            BadInputException e = assertThrows(BadInputException.class, () -> in.readColumnShard("mlp.down_proj.bias", 0, 2));
            assertTrue(e.getMessage().startsWith(file + ":"), e.getMessage());
            assertTrue(e.getMessage().contains("'mlp.down_proj.bias'") && e.getMessage().contains("[6]"), e.getMessage());
        }
    }

    @Test
    void readsAfterCloseFail() {
        Path file = dir.resolve("closed.safetensors");
        try (Tensor b = Tensor.hostOf(Shape.of(2), new float[] {1, 2})) {
            new SafetensorsWriter().add("b", b).write(file);
        }
        SafetensorsFile in = SafetensorsFile.open(file);
        in.close();
        assertThrows(IllegalStateException.class, () -> in.read("b"));
    }
}
