package dev.tp4j.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Builds safetensors files byte by byte, so tests can make them wrong in exactly one way. */
public final class CraftedFiles {
    private CraftedFiles() {
    }

    /** A file with a correct length prefix for {@code headerJson}, followed by {@code data}. */
    public static Path write(Path directory, String fileName, String headerJson, byte[] data) {
        byte[] header = headerJson.getBytes(StandardCharsets.UTF_8);
        return writeWithDeclaredLength(directory, fileName, header.length, header, data);
    }

    /** A file whose 8-byte prefix declares {@code declaredHeaderLength}, whatever follows. */
    public static Path writeWithDeclaredLength(Path directory, String fileName, long declaredHeaderLength,
                                        byte[] header, byte[] data) {
        ByteBuffer bytes = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        bytes.putLong(declaredHeaderLength).put(header).put(data);
        return writeBytes(directory, fileName, bytes.array());
    }

    public static Path writeBytes(Path directory, String fileName, byte[] bytes) {
        try {
            return Files.write(directory.resolve(fileName), bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Little-endian F32 bytes of {@code values}. */
    public static byte[] f32(float... values) {
        ByteBuffer bytes = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            bytes.putFloat(v);
        }
        return bytes.array();
    }

    /** Little-endian 16-bit patterns (F16 or BF16 elements). */
    public static byte[] u16(int... patterns) {
        ByteBuffer bytes = ByteBuffer.allocate(patterns.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (int p : patterns) {
            bytes.putShort((short) p);
        }
        return bytes.array();
    }

    public static byte[] zeros(int count) {
        return new byte[count];
    }
}
