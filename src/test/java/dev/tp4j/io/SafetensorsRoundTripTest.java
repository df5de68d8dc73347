package dev.tp4j.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tp4j.BadInputException;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsRoundTripTest {
    @TempDir
    Path dir;

    /** Values whose F16 and BF16 encodings are known bit for bit; see the expected arrays below. */
    private static final float[] PROBES = {
        1.0f, -2.5f, 65504f, 0x1.0p-24f, 1023 * 0x1.0p-24f, 0x1.0p-25f, 1f + 0x1.0p-11f, 1f + 0x1.8p-10f,
        Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN, 65520f, -0.0f, 0.1f,
        Float.intBitsToFloat(0x3F808000), Float.intBitsToFloat(0x3F818000),
    };
    private static final int[] PROBES_AS_F16 = {
        0x3C00, 0xC100, 0x7BFF, 0x0001, 0x03FF, 0x0000, 0x3C00, 0x3C02,
        0x7C00, 0xFC00, 0x7E00, 0x7C00, 0x8000, 0x2E66,
        0x3C04, 0x3C0C, // 1 + 2^-8 and 1 + 3·2^-8 are exact in F16 (ulp 2^-10 near 1)
    };
    private static final int[] PROBES_AS_BF16 = {
        0x3F80, 0xC020, 0x4780, 0x3380, 0x3880, 0x3300, 0x3F80, 0x3F80,
        0x7F80, 0xFF80, 0x7FC0, 0x4780, 0x8000, 0x3DCD,
        0x3F80, 0x3F82,
    };

    private static Tensor host(Shape shape, float... values) {
        return Tensor.hostOf(shape, values);
    }

    /** Reads the header independently of the reader under test: 8-byte length, then JSON. */
    private static JsonNode rawHeader(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        long length = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        return new ObjectMapper().readTree(new String(bytes, 8, (int) length, StandardCharsets.UTF_8));
    }

    /** The stored bytes of one tensor, located independently of the reader under test. */
    private static byte[] rawData(Path file, String name) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        long length = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        JsonNode offsets = rawHeader(file).get(name).get("data_offsets");
        int start = (int) (8 + length + offsets.get(0).asLong());
        int end = (int) (8 + length + offsets.get(1).asLong());
        return Arrays.copyOfRange(bytes, start, end);
    }

    private static int[] u16s(byte[] bytes) {
        ByteBuffer buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        int[] out = new int[bytes.length / 2];
        for (int i = 0; i < out.length; i++) {
            out[i] = buffer.getShort() & 0xFFFF;
        }
        return out;
    }

    private static void assertSameBits(float[] expected, float[] actual) {
        assertEquals(expected.length, actual.length);
        for (int i = 0; i < expected.length; i++) {
            if (Float.isNaN(expected[i])) {
                assertTrue(Float.isNaN(actual[i]), "element " + i + " should be NaN");
            } else {
                assertEquals(Float.floatToRawIntBits(expected[i]), Float.floatToRawIntBits(actual[i]),
                        "element " + i + ": expected " + expected[i] + ", got " + actual[i]);
            }
        }
    }

    @Test
    void f32RoundTripIsBitExact() throws IOException {
        float[] values = {1.5f, -0.0f, Float.MIN_VALUE, Float.MAX_VALUE, Float.NaN, Float.NEGATIVE_INFINITY};
        Path file = dir.resolve("f32.safetensors");
        try (Tensor t = host(Shape.of(2, 3), values)) {
            new SafetensorsWriter().add("w", t).write(file);
        }
        assertArrayEquals(CraftedFiles.f32(values), rawData(file, "w"));
        try (SafetensorsFile in = SafetensorsFile.open(file); Tensor back = in.read("w")) {
            TensorInfo info = in.info("w");
            assertEquals(DType.F32, info.dtype());
            assertEquals(Shape.of(2, 3), info.shape());
            assertEquals(DType.F32, back.dtype());
            assertEquals(Shape.of(2, 3), back.shape());
            assertSameBits(values, back.toFloatArray());
        }
    }

    /**
     * Tensors longer than the codec's conversion chunk, read whole and as a column window (one short region per
     * row): every element comes back as its stored value, across the chunk boundaries.
     */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F16", "BF16", "F64", "F32"})
    void longTensorsDecodeEveryElementAcrossChunks(DType stored) throws IOException {
        int rows = 7;
        int cols = 3001;
        float[] values = new float[rows * cols];
        java.util.Random random = new java.util.Random(stored.ordinal());
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextGaussian() * 100;
        }
        Path file = dir.resolve("long-" + stored + ".safetensors");
        try (Tensor t = host(Shape.of(rows, cols), values)) {
            new SafetensorsWriter().add("x", t, stored).write(file);
        }
        float[] expected = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            expected[i] = switch (stored) {
                case F16 -> Float16.toFloat(Float16.fromFloat(values[i]));
                case BF16 -> BFloat16.toFloat(BFloat16.fromFloat(values[i]));
                default -> values[i];
            };
        }
        try (SafetensorsFile in = SafetensorsFile.open(file); Tensor whole = in.read("x");
             Tensor window = in.readColumns("x", 1000, 2001)) {
            assertSameBits(expected, whole.toFloatArray());
            float[] columns = window.toFloatArray();
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < 2001; c++) {
                    assertEquals(Float.floatToRawIntBits(expected[r * cols + 1000 + c]),
                            Float.floatToRawIntBits(columns[r * 2001 + c]), "row " + r + " column " + (1000 + c));
                }
            }
        }
    }

    @Test
    void f16StoreWritesTheExpectedBitPatternsAndReadsThemBack() throws IOException {
        Path file = dir.resolve("f16.safetensors");
        try (Tensor t = host(Shape.of(PROBES.length), PROBES)) {
            new SafetensorsWriter().add("p", t, DType.F16).write(file);
        }
        assertEquals("F16", rawHeader(file).get("p").get("dtype").asText());
        assertArrayEquals(PROBES_AS_F16, u16s(rawData(file, "p")));

        float[] expected = {
            1.0f, -2.5f, 65504f, 0x1.0p-24f, 1023 * 0x1.0p-24f, 0.0f, 1.0f, 1f + 0x1.0p-9f,
            Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN, Float.POSITIVE_INFINITY, -0.0f,
            0.0999755859375f, 1.00390625f, 1.01171875f,
        };
        try (SafetensorsFile in = SafetensorsFile.open(file); Tensor back = in.read("p")) {
            assertEquals(DType.F16, in.info("p").dtype());
            assertSameBits(expected, back.toFloatArray());
        }
    }

    @Test
    void bf16StoreWritesTheExpectedBitPatternsAndReadsThemBack() throws IOException {
        Path file = dir.resolve("bf16.safetensors");
        try (Tensor t = host(Shape.of(4, 4), PROBES)) {
            new SafetensorsWriter().add("p", t, DType.BF16).write(file);
        }
        assertArrayEquals(PROBES_AS_BF16, u16s(rawData(file, "p")));
        try (SafetensorsFile in = SafetensorsFile.open(file); Tensor back = in.read("p")) {
            float[] actual = back.toFloatArray();
            for (int i = 0; i < PROBES_AS_BF16.length; i++) {
                float expected = Float.intBitsToFloat(PROBES_AS_BF16[i] << 16);
                assertSameBits(new float[] {expected}, new float[] {actual[i]});
            }
        }
    }

    @Test
    void rawHalfPrecisionBytesDecodeIncludingSubnormalsInfinityAndNaN() {
        int[] f16 = {0x3C00, 0xC100, 0x7BFF, 0x0001, 0x8200, 0x7C00, 0xFC00, 0x7E01, 0x0400, 0x3555};
        float[] f16Expected = {1f, -2.5f, 65504f, 0x1.0p-24f, -512 * 0x1.0p-24f, Float.POSITIVE_INFINITY,
            Float.NEGATIVE_INFINITY, Float.NaN, 0x1.0p-14f, 0.333251953125f};
        int[] bf16 = {0x3F80, 0xC020, 0x0001, 0x7F80, 0xFFC1, 0x4049};
        float[] bf16Expected = {1f, -2.5f, Float.intBitsToFloat(0x00010000), Float.POSITIVE_INFINITY, Float.NaN, 3.140625f};
        Path file = dir.resolve("raw.safetensors");
        new SafetensorsWriter()
                .addRaw("h", DType.F16, Shape.of(f16.length), CraftedFiles.u16(f16))
                .addRaw("b", DType.BF16, Shape.of(2, 3), CraftedFiles.u16(bf16))
                .write(file);
        try (SafetensorsFile in = SafetensorsFile.open(file); Tensor h = in.read("h"); Tensor b = in.read("b")) {
            assertSameBits(f16Expected, h.toFloatArray());
            assertSameBits(bf16Expected, b.toFloatArray());
        }
    }

    @Test
    void f64IsStoredExactlyAndNarrowedToF32OnRead() throws IOException {
        float[] values = {1.25f, -3f, 0x1.0p-140f};
        Path file = dir.resolve("f64.safetensors");
        try (Tensor t = host(Shape.of(3), values)) {
            new SafetensorsWriter().add("d", t, DType.F64).write(file);
        }
        ByteBuffer raw = ByteBuffer.wrap(rawData(file, "d")).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            assertEquals((double) v, raw.getDouble());
        }
        try (SafetensorsFile in = SafetensorsFile.open(file); Tensor back = in.read("d")) {
            assertSameBits(values, back.toFloatArray());
        }
    }

    @Test
    void headerIsPaddedWithSpacesToEightBytesAndKeepsInsertionOrderAndMetadata() throws IOException {
        Path file = dir.resolve("layout.safetensors");
        try (Tensor b = host(Shape.of(3), 1, 2, 3); Tensor a = host(Shape.of(1, 1), 4)) {
            new SafetensorsWriter()
                    .add("z.bias", b, DType.F16)
                    .add("a.weight", a)
                    .metadata("format", "pt")
                    .metadata("note", "written by tp4j")
                    .write(file);
        }
        byte[] bytes = Files.readAllBytes(file);
        long headerLength = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, headerLength % 8, "header length is a multiple of 8");
        String header = new String(bytes, 8, (int) headerLength, StandardCharsets.UTF_8);
        assertTrue(header.startsWith("{\"__metadata__\":"), header);
        assertTrue(header.stripTrailing().endsWith("}"), header);
        assertEquals(header.stripTrailing() + " ".repeat(header.length() - header.stripTrailing().length()), header);
        assertTrue(header.indexOf("z.bias") < header.indexOf("a.weight"), "insertion order: " + header);
        assertEquals(8 + headerLength + 3 * 2 + 4, bytes.length, "tensors follow the header back to back");

        try (SafetensorsFile in = SafetensorsFile.open(file)) {
            assertEquals(List.of("z.bias", "a.weight"), in.names());
            assertEquals(Map.of("format", "pt", "note", "written by tp4j"), in.metadata());
            assertEquals(0, in.info("z.bias").dataBegin());
            assertEquals(6, in.info("z.bias").dataEnd());
            assertEquals(6, in.info("a.weight").dataBegin());
            assertTrue(in.contains("a.weight"));
            assertFalse(in.contains("b.weight"));
        }
    }

    @Test
    void aColumnViewIsWrittenRowByRow() {
        float[] wide = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
        Path file = dir.resolve("view.safetensors");
        try (Tensor t = host(Shape.of(3, 4), wide)) {
            new SafetensorsWriter().add("v", t.narrowColumns(1, 2)).write(file);
        }
        try (SafetensorsFile in = SafetensorsFile.open(file); Tensor back = in.read("v")) {
            assertEquals(Shape.of(3, 2), back.shape());
            assertArrayEquals(new float[] {2, 3, 6, 7, 10, 11}, back.toFloatArray());
        }
    }

    @Test
    void emptyAndScalarTensorsRoundTrip() {
        Path file = dir.resolve("edge.safetensors");
        try (Tensor empty = Tensor.allocateHost(Shape.of(0, 4), DType.F32); Tensor scalar = host(Shape.of(), 7f)) {
            new SafetensorsWriter().add("empty", empty).add("scalar", scalar, DType.BF16).write(file);
        }
        try (SafetensorsFile in = SafetensorsFile.open(file);
             Tensor empty = in.read("empty");
             Tensor scalar = in.read("scalar");
             Tensor noRows = in.readRowShard("empty", 1, 3)) {
            assertEquals(Shape.of(0, 4), empty.shape());
            assertEquals(Shape.of(), scalar.shape());
            assertArrayEquals(new float[] {7f}, scalar.toFloatArray());
            assertEquals(Shape.of(0, 4), noRows.shape());
        }
    }

    @Test
    void writingOverAnExistingFileReplacesItWhole() {
        Path file = dir.resolve("out.safetensors");
        try (Tensor first = host(Shape.of(2), 1, 2); Tensor second = host(Shape.of(3), 3, 4, 5)) {
            new SafetensorsWriter().add("x", first).write(file);
            new SafetensorsWriter().add("y", second).write(file);
        }
        try (SafetensorsFile in = SafetensorsFile.open(file); Tensor y = in.read("y")) {
            assertEquals(List.of("y"), in.names());
            assertArrayEquals(new float[] {3, 4, 5}, y.toFloatArray());
        }
        assertEquals(List.of(file), listDirectory());
    }

    @Test
    void aFailedWriteLeavesTheOldFileAndNoTemporaryFile() throws IOException {
        Path file = dir.resolve("out.safetensors");
        try (Tensor good = host(Shape.of(2), 1, 2)) {
            new SafetensorsWriter().add("x", good).write(file);
        }
        byte[] before = Files.readAllBytes(file);

        Tensor closedBeforeWrite = host(Shape.of(1024), new float[1024]);
        SafetensorsWriter writer;
        try (Tensor first = host(Shape.of(3), 1, 2, 3)) {
            writer = new SafetensorsWriter().add("first", first).add("broken", closedBeforeWrite);
            closedBeforeWrite.close(); // fails mid-write, after the header and the first tensor
            assertThrows(IllegalStateException.class, () -> writer.write(file));
        }
        assertArrayEquals(before, Files.readAllBytes(file), "the old file is untouched");
        assertEquals(List.of(file), listDirectory(), "no temporary file is left behind");

        Path fresh = dir.resolve("fresh.safetensors");
        assertThrows(IllegalStateException.class, () -> writer.write(fresh));
        assertFalse(Files.exists(fresh), "no half-written file appears");
        assertEquals(List.of(file), listDirectory());
    }

    @Test
    void aMissingOutputDirectoryIsBadInputNamingThePath() {
        Path file = dir.resolve("no/such/dir/out.safetensors");
        try (Tensor t = host(Shape.of(1), 1)) {
            BadInputException e = assertThrows(BadInputException.class,
                    () -> new SafetensorsWriter().add("x", t).write(file));
            assertTrue(e.getMessage().startsWith(file.toString() + ":"), e.getMessage());
            assertTrue(e.getMessage().contains("directory") && e.getMessage().contains("does not exist"), e.getMessage());
        }
    }

    @Test
    void anOutputPathThatIsADirectoryIsBadInput() throws IOException {
        Path target = Files.createDirectory(dir.resolve("taken"));
        try (Tensor t = host(Shape.of(1), 1)) {
            BadInputException e = assertThrows(BadInputException.class,
                    () -> new SafetensorsWriter().add("x", t).write(target));
            assertTrue(e.getMessage().startsWith(target + ":") && e.getMessage().contains("is a directory"), e.getMessage());
        }
    }

    @Test
    void writerRejectsDuplicateAndReservedNames() {
        try (Tensor t = host(Shape.of(1), 1)) {
            SafetensorsWriter writer = new SafetensorsWriter().add("x", t);
            assertThrows(IllegalArgumentException.class, () -> writer.add("x", t));
            assertThrows(IllegalArgumentException.class, () -> writer.add("__metadata__", t));
            assertThrows(IllegalArgumentException.class,
                    () -> writer.addRaw("r", DType.F16, Shape.of(3), new byte[4]));
        }
    }

    private List<Path> listDirectory() {
        try (Stream<Path> files = Files.list(dir)) {
            List<Path> all = new ArrayList<>(files.toList());
            all.sort(null);
            return all;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
