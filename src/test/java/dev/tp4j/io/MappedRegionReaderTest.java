package dev.tp4j.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Partition;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The windowing that keeps every mapping under 2 GiB, exercised with windows of a few bytes so that
 * reads cross window boundaries everywhere (a real > 2 GiB file is too heavy for a unit test).
 */
class MappedRegionReaderTest {
    private static final int FILE_BYTES = 1000;

    @TempDir
    Path dir;
    private Path file;
    private byte[] content;

    @BeforeEach
    void writePatternFile() throws IOException {
        content = new byte[FILE_BYTES];
        for (int i = 0; i < FILE_BYTES; i++) {
            content[i] = (byte) (i * 7 + 3);
        }
        file = Files.write(dir.resolve("pattern.bin"), content);
    }

    private byte[] expectedStrided(long first, int regionBytes, long stride, int regionCount) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < regionCount; i++) {
            out.write(content, (int) (first + i * stride), regionBytes);
        }
        return out.toByteArray();
    }

    @Test
    void stridedReadsAreExactForEveryWindowGapAndElementSize() throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            for (int elementBytes : new int[] {1, 2, 4, 8}) {
                for (long window : new long[] {1, 3, 4, 6, 8, 10, 17, 64, 333, 4096}) {
                    for (long maxGap : new long[] {0, 5, 1000}) {
                        for (int[] geometry : new int[][] {{5, 40, 40, 1}, {0, 24, 40, 20}, {3, 8, 24, 30}, {12, 96, 100, 9}}) {
                            int first = geometry[0];
                            int regionBytes = geometry[1] / elementBytes * elementBytes;
                            int stride = geometry[2];
                            int count = geometry[3];
                            MappedRegionReader reader = new MappedRegionReader(channel, window, maxGap);
                            ByteArrayOutputStream got = new ByteArrayOutputStream();
                            long effectiveWindow = Math.max(elementBytes, window - window % elementBytes);
                            reader.readStrided(first, regionBytes, stride, count, elementBytes, chunk -> {
                                assertEquals(0, chunk.remaining() % elementBytes, "chunks hold whole elements");
                                assertTrue(chunk.remaining() <= effectiveWindow, "a chunk fits in one window");
                                byte[] bytes = new byte[chunk.remaining()];
                                chunk.get(bytes);
                                got.writeBytes(bytes);
                            });
                            String where = "element " + elementBytes + ", window " + window + ", gap " + maxGap
                                    + ", regions " + java.util.Arrays.toString(geometry);
                            assertArrayEquals(expectedStrided(first, regionBytes, stride, count), got.toByteArray(), where);
                            assertEquals((long) regionBytes * count, reader.bytesRead(), where);
                            assertTrue(reader.bytesMapped() >= reader.bytesRead(), where);
                        }
                    }
                }
            }
        }
    }

    @Test
    void aContiguousRegionIsSplitIntoWindowSizedMappings() throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            MappedRegionReader reader = new MappedRegionReader(channel, 16, 0);
            reader.readStrided(10, 100, 100, 1, 1, chunk -> chunk.position(chunk.limit()));
            assertEquals(7, reader.mappings(), "ceil(100 / 16)");
            assertEquals(100, reader.bytesMapped());

            // A 6-byte window holds one 4-byte element: never half an element.
            MappedRegionReader f32 = new MappedRegionReader(channel, 6, 0);
            f32.readStrided(0, 100, 100, 1, 4, chunk -> assertEquals(4, chunk.remaining()));
            assertEquals(25, f32.mappings());
        }
    }

    @Test
    void smallGapsAreMappedOverAndLargeOnesAreNot() throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            // 10 regions of 8 bytes every 20 bytes: gaps of 12.
            MappedRegionReader joined = new MappedRegionReader(channel, 1000, 12);
            joined.readStrided(0, 8, 20, 10, 4, chunk -> chunk.position(chunk.limit()));
            assertEquals(1, joined.mappings());
            assertEquals(9 * 20 + 8, joined.bytesMapped());
            assertEquals(80, joined.bytesRead());

            MappedRegionReader separate = new MappedRegionReader(channel, 1000, 11);
            separate.readStrided(0, 8, 20, 10, 4, chunk -> chunk.position(chunk.limit()));
            assertEquals(10, separate.mappings());
            assertEquals(80, separate.bytesMapped());

            // Joined, but a 50-byte window holds only two regions and a bit: windows end on region boundaries.
            MappedRegionReader windowed = new MappedRegionReader(channel, 50, 12);
            windowed.readStrided(0, 8, 20, 10, 4, chunk -> assertEquals(8, chunk.remaining()));
            assertEquals(4, windowed.mappings(), "regions 0-2, 3-5, 6-8, 9");
        }
    }

    @Test
    void shardReadsThroughTinyWindowsMatchTheFullTensor() {
        int rows = 9;
        int cols = 13;
        float[] full = new float[rows * cols];
        for (int i = 0; i < full.length; i++) {
            full[i] = i - 50.5f;
        }
        Path tensors = dir.resolve("windows.safetensors");
        try (Tensor w = Tensor.hostOf(Shape.of(rows, cols), full)) {
            new SafetensorsWriter().add("w32", w).add("w16", w, DType.F16).add("wbf", w, DType.BF16).write(tensors);
        }
        for (long window : new long[] {2, 6, 10, 30, 52, 100}) {
            for (long maxGap : new long[] {0, 1 << 20}) {
                try (SafetensorsFile in = SafetensorsFile.open(tensors, window, maxGap)) {
                    for (String name : new String[] {"w32", "w16", "wbf"}) {
                        for (int tp = 1; tp <= 4; tp++) {
                            for (int rank = 0; rank < tp; rank++) {
                                Partition r = new Partition(rows, tp);
                                Partition c = new Partition(cols, tp);
                                try (Tensor rowShard = in.readRowShard(name, rank, tp);
                                     Tensor colShard = in.readColumnShard(name, rank, tp)) {
                                    String where = name + " window " + window + " gap " + maxGap + " tp " + tp + " rank " + rank;
                                    for (int i = 0; i < r.count(rank); i++) {
                                        for (int j = 0; j < cols; j++) {
                                            assertEquals(full[(int) (r.offset(rank) + i) * cols + j], rowShard.get(i, j), where);
                                        }
                                    }
                                    for (int i = 0; i < rows; i++) {
                                        for (int j = 0; j < c.count(rank); j++) {
                                            assertEquals(full[i * cols + (int) c.offset(rank) + j], colShard.get(i, j), where);
                                        }
                                    }
                                }
                            }
                        }
                    }
                    assertTrue(in.mappings() > 3 * 10, "tiny windows make many mappings: " + in.mappings());
                }
            }
        }
    }

    @Test
    void emptyReadsMapNothing() throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            MappedRegionReader reader = new MappedRegionReader(channel, 64, 0);
            reader.readStrided(0, 0, 10, 5, 4, chunk -> {
                throw new AssertionError("no chunk expected");
            });
            reader.readStrided(0, 8, 10, 0, 4, chunk -> {
                throw new AssertionError("no chunk expected");
            });
            assertEquals(0, reader.mappings());
        }
    }

}
