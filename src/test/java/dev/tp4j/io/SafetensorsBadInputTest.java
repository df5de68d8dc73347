package dev.tp4j.io;

import static dev.tp4j.io.CraftedFiles.f32;
import static dev.tp4j.io.CraftedFiles.zeros;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.BadInputException;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One test per way a safetensors file can be wrong: each expects a {@link BadInputException} whose
 * single line starts with the file's name and says what is wrong.
 */
class SafetensorsBadInputTest {
    @TempDir
    Path dir;

    /** Opens {@code file}, expects bad input, and checks the message's form and content. */
    private static String assertRejected(Path file, String... expectedFragments) {
        BadInputException e = assertThrows(BadInputException.class, () -> {
            try (SafetensorsFile ignored = SafetensorsFile.open(file)) {
                // opening alone must fail
            }
        });
        return assertMessage(e, file, expectedFragments);
    }

    private static String assertMessage(BadInputException e, Path file, String... expectedFragments) {
        String message = e.getMessage();
        assertTrue(message.startsWith(file + ": "), "names the file first: " + message);
        assertFalse(message.contains("\n") || message.contains("\r"), "one line: " + message);
        for (String fragment : expectedFragments) {
            assertTrue(message.contains(fragment), "expected \"" + fragment + "\" in: " + message);
        }
        return message;
    }

    private Path file(String name, String header, byte[] data) {
        return CraftedFiles.write(dir, name, header, data);
    }

    private static final String GOOD_ENTRY = "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";

    @Test
    void aWellFormedCraftedFileOpens() {
        Path ok = file("ok.safetensors", "{" + GOOD_ENTRY + "}   ", f32(1, 2));
        try (SafetensorsFile in = SafetensorsFile.open(ok); Tensor a = in.read("a")) {
            assertEquals(2, a.numel());
        }
    }

    @Test
    void missingFile() {
        assertRejected(dir.resolve("absent.safetensors"), "file not found");
    }

    @Test
    void aDirectory() {
        assertRejected(dir, "is a directory");
    }

    @Test
    void tooShortForTheHeaderLength() {
        assertRejected(CraftedFiles.writeBytes(dir, "short.safetensors", new byte[] {1, 2, 3, 4, 5}),
                "not a safetensors file", "5 bytes long", "8-byte header length");
        assertRejected(CraftedFiles.writeBytes(dir, "empty.safetensors", new byte[0]), "0 bytes long");
    }

    @Test
    void headerLengthLargerThanTheFile() {
        byte[] header = ("{" + GOOD_ENTRY + "}").getBytes(StandardCharsets.UTF_8);
        assertRejected(CraftedFiles.writeWithDeclaredLength(dir, "long.safetensors", 5000, header, f32(1, 2)),
                "header length 5000", "larger than the " + (header.length + 8) + " bytes that follow");
        // A length with the top bit set is a huge unsigned number, not a negative one.
        assertRejected(CraftedFiles.writeWithDeclaredLength(dir, "huge.safetensors", -1L, header, f32(1, 2)),
                "header length 18446744073709551615");
    }

    @Test
    void headerLengthBeyondTheFormatsLimit() throws Exception {
        // A sparse file: large enough to hold the declared header, yet costs no disk.
        Path big = CraftedFiles.writeWithDeclaredLength(dir, "big.safetensors", 150_000_000L, new byte[] {'{'}, new byte[0]);
        try (java.io.RandomAccessFile raw = new java.io.RandomAccessFile(big.toFile(), "rw")) {
            raw.setLength(8 + 150_000_000L);
        }
        assertRejected(big, "header length 150000000 exceeds the 100000000-byte limit");
    }

    @Test
    void plainTextIsNotASafetensorsFile() {
        Path text = CraftedFiles.writeBytes(dir, "notes.safetensors",
                "these are just some notes, not tensors".getBytes(StandardCharsets.UTF_8));
        assertRejected(text, "not a safetensors file", "header length");
    }

    @Test
    void aZipArchiveIsNamedAsSuch() {
        byte[] zip = {'P', 'K', 3, 4, 20, 0, 0, 0, 8, 0, 0, 0};
        assertRejected(CraftedFiles.writeBytes(dir, "pytorch_model.bin", zip), "zip archive");
    }

    @Test
    void headerNotJson() {
        assertRejected(file("garbage.safetensors", "{\"a\": [1, 2", zeros(0)), "header is not valid JSON");
        assertRejected(file("trailing.safetensors", "{}{}", zeros(0)), "header is not valid JSON");
        assertRejected(file("blank.safetensors", "        ", zeros(0)), "header is empty");
        assertRejected(file("zero.safetensors", "", zeros(0)), "header is empty");
    }

    /** Issue 14, fault 5: a header that is not UTF-8 was reported "at byte -1"; the real offset is named. */
    @Test
    void headerNotUtf8NamesTheOffsetOfTheBadByte() {
        byte[] ok = ("{" + GOOD_ENTRY + "}").getBytes(StandardCharsets.UTF_8);
        byte[] latin1 = ("{\"caf\u00e9\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}")
                .getBytes(StandardCharsets.ISO_8859_1); // é as the one byte 0xE9, not UTF-8's two
        String m = assertRejected(CraftedFiles.writeWithDeclaredLength(dir, "latin1.safetensors", latin1.length,
                latin1, f32(1, 2)), "header is not valid UTF-8: byte 0xE9 at byte 5 of the header (byte 13 of the file)");
        assertFalse(m.contains("byte -1"), m);
        byte[] stray = ok.clone();
        stray[ok.length - 2] = (byte) 0xFF; // a byte UTF-8 never uses, near the end
        assertRejected(CraftedFiles.writeWithDeclaredLength(dir, "ff.safetensors", stray.length, stray, f32(1, 2)),
                "header is not valid UTF-8: byte 0xFF at byte " + (ok.length - 2) + " of the header");
        // a tensor name in UTF-8 proper is fine
        byte[] utf8 = new String(latin1, StandardCharsets.ISO_8859_1).getBytes(StandardCharsets.UTF_8);
        Path good = CraftedFiles.writeWithDeclaredLength(dir, "utf8.safetensors", utf8.length, utf8, f32(1, 2));
        try (SafetensorsFile in = SafetensorsFile.open(good); Tensor a = in.read("caf\u00e9")) {
            assertEquals(2, a.numel());
        }
    }

    @Test
    void headerNotAnObject() {
        assertRejected(file("array.safetensors", "[1, 2, 3]", zeros(0)), "header is a JSON array, not a JSON object");
        assertRejected(file("string.safetensors", "\"tensors\"", zeros(0)), "header is a JSON string");
    }

    @Test
    void duplicateTensorNames() {
        assertRejected(file("dup.safetensors", "{" + GOOD_ENTRY + "," + GOOD_ENTRY + "}", f32(1, 2)),
                "header is not valid JSON", "Duplicate", "'a'");
    }

    @Test
    void entryNotAnObject() {
        assertRejected(file("entry.safetensors", "{\"w\": [0, 8]}", f32(1, 2)),
                "tensor 'w'", "entry must be a JSON object");
    }

    @Test
    void missingDtype() {
        assertRejected(file("nodtype.safetensors", "{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", f32(1, 2)),
                "tensor 'w'", "no \"dtype\"");
    }

    @Test
    void malformedDtype() {
        assertRejected(file("numdtype.safetensors", "{\"w\":{\"dtype\":32,\"shape\":[2],\"data_offsets\":[0,8]}}", f32(1, 2)),
                "tensor 'w'", "\"dtype\" must be a string", "got 32");
    }

    @Test
    void unknownDtypeIsNamed() {
        assertRejected(file("i64.safetensors", "{\"w\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", zeros(8)),
                "tensor 'w'", "unknown dtype \"I64\"", "F32, F16, BF16");
        assertRejected(file("q4.safetensors", "{\"w\":{\"dtype\":\"Q4_K\",\"shape\":[1],\"data_offsets\":[0,8]}}", zeros(8)),
                "unknown dtype \"Q4_K\"");
        assertRejected(file("lower.safetensors", "{\"w\":{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}}", f32(1, 2)),
                "unknown dtype \"f32\"");
    }

    @Test
    void missingShape() {
        assertRejected(file("noshape.safetensors", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", f32(1, 2)),
                "tensor 'w'", "no \"shape\"");
    }

    @Test
    void malformedShape() {
        assertRejected(file("negshape.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", f32(1, 2)),
                "tensor 'w'", "\"shape\" must be an array of non-negative integers", "[-2]");
        assertRejected(file("fracshape.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", f32(1, 2)),
                "\"shape\" must be an array");
        assertRejected(file("strshape.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}", f32(1, 2)),
                "\"shape\" must be an array");
        assertRejected(file("hugeshape.safetensors",
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", f32(1, 2)),
                "more elements than a file can hold");
    }

    @Test
    void missingDataOffsets() {
        assertRejected(file("nooffsets.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", f32(1, 2)),
                "tensor 'w'", "no \"data_offsets\"");
    }

    @Test
    void malformedDataOffsets() {
        for (String offsets : List.of("[0]", "[0,8,16]", "[\"0\",\"8\"]", "[-8,0]", "{\"begin\":0}", "[0,1e3]")) {
            Path bad = file("offsets.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":" + offsets + "}}", f32(1, 2));
            assertRejected(bad, "tensor 'w'", "\"data_offsets\" must be [begin, end]");
        }
    }

    @Test
    void dataOffsetsBeginAfterEnd() {
        assertRejected(file("reversed.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", f32(1, 2)),
                "tensor 'w'", "[8, 0]", "begin is after end");
    }

    @Test
    void sizeDisagreesWithShapeTimesDtype() {
        assertRejected(file("size.safetensors", "{\"w\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", zeros(16)),
                "tensor 'w'", "hold 16 bytes", "shape [2, 2] of F16 needs 8");
    }

    @Test
    void overlappingTensors() {
        String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}";
        assertRejected(file("overlap.safetensors", header, zeros(24)),
                "tensors 'a' [0, 16] and 'b' [8, 24] overlap");
    }

    @Test
    void dataOffsetsOutOfRange() {
        // A gap before 'b' means the offsets are wrong, not that the file was cut short.
        String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[1000,1016]}}";
        assertRejected(file("range.safetensors", header, zeros(32)),
                "tensor 'b'", "[1000, 1016]", "out of range of the 32-byte data section");
    }

    @Test
    void truncatedFile() {
        String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,32]}}";
        long headerBytes = header.getBytes(StandardCharsets.UTF_8).length;
        assertRejected(file("cut.safetensors", header, zeros(20)),
                "truncated", "data section holds 20 bytes but the tensors need 32",
                "the file is " + (8 + headerBytes + 20) + " bytes, expected " + (8 + headerBytes + 32));
    }

    @Test
    void aWrittenFileCutShortIsReportedTruncated() throws Exception {
        Path whole = dir.resolve("whole.safetensors");
        try (Tensor w = Tensor.hostOf(Shape.of(64, 64), new float[64 * 64])) {
            new SafetensorsWriter().add("w", w).add("v", w).write(whole);
        }
        byte[] bytes = Files.readAllBytes(whole);
        Path cut = CraftedFiles.writeBytes(dir, "partial-download.safetensors",
                java.util.Arrays.copyOf(bytes, bytes.length - 1000));
        assertRejected(cut, "truncated");
    }

    @Test
    void malformedMetadata() {
        assertRejected(file("meta1.safetensors", "{\"__metadata__\":[\"pt\"]," + GOOD_ENTRY + "}", f32(1, 2)),
                "__metadata__ must be a JSON object of strings");
        assertRejected(file("meta2.safetensors", "{\"__metadata__\":{\"step\":100}," + GOOD_ENTRY + "}", f32(1, 2)),
                "__metadata__ value of 'step' must be a string", "got 100");
    }

    @Test
    void aMissingTensorNamesTheNearestExistingNames() {
        String entry = "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[%d,%d]}";
        String[] names = {
            "model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.down_proj.weight",
            "model.layers.0.mlp.gate_proj.weight", "model.layers.1.mlp.up_proj.weight",
            "model.layers.0.self_attn.q_proj.weight", "lm_head.weight",
        };
        StringBuilder header = new StringBuilder("{");
        for (int i = 0; i < names.length; i++) {
            header.append(i == 0 ? "" : ",").append('"').append(names[i]).append("\":")
                    .append(String.format(entry, 4 * i, 4 * i + 4));
        }
        Path checkpoint = file("model.safetensors", header.append('}').toString(), zeros(4 * names.length));
        try (SafetensorsFile in = SafetensorsFile.open(checkpoint)) {
            BadInputException e = assertThrows(BadInputException.class, () -> in.read("model.layers.0.mlp.up_proj.weigth"));
            String message = assertMessage(e, checkpoint, "no tensor 'model.layers.0.mlp.up_proj.weigth'",
                    "nearest: 'model.layers.0.mlp.up_proj.weight', 'model.layers.1.mlp.up_proj.weight'");
            assertEquals(3, message.substring(message.indexOf("nearest:")).split("', '").length, message);

            // A missing prefix is still close to the right name.
            BadInputException prefix = assertThrows(BadInputException.class, () -> in.info("layers.0.mlp.down_proj.weight"));
            assertMessage(prefix, checkpoint, "nearest: 'model.layers.0.mlp.down_proj.weight'");
        }
        Path empty = file("empty.safetensors", "{}", zeros(0));
        try (SafetensorsFile in = SafetensorsFile.open(empty)) {
            assertMessage(assertThrows(BadInputException.class, () -> in.read("w")), empty, "no tensor 'w' (the file holds no tensors)");
        }
    }

    @Test
    void tensorNamesWithLineBreaksStayOnOneLine() {
        Path file = file("newline.safetensors", "{\"bad\\nname\":{\"dtype\":\"X\",\"shape\":[1],\"data_offsets\":[0,4]}}", zeros(4));
        assertRejected(file, "tensor 'bad\\nname'", "unknown dtype \"X\"");
    }
}
