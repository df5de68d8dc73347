package dev.tp4j.e2e;

import dev.tp4j.io.SafetensorsWriter;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * An {@code mlp} job whose output is as large as asked while its files stay small: a tiny MLP
 * ({@code ck.safetensors}: {@code mlp.up}, {@code mlp.down}, hidden × hidden) and an input of zeros
 * ({@code in.safetensors}, tensor {@code input}, {@code [tokens, hidden]}) that is sparse on disk.
 * For the tests of what an output write leaves behind when it is cut short.
 */
final class LargeOutputMlp {

    private LargeOutputMlp() {
    }

    static void write(Path dir, int hidden, long tokens) throws IOException {
        float[] w = new float[hidden * hidden];
        Arrays.fill(w, 0.125f);
        new SafetensorsWriter()
                .add("mlp.up.weight", Tensor.hostOf(Shape.of(hidden, hidden), w))
                .add("mlp.down.weight", Tensor.hostOf(Shape.of(hidden, hidden), w.clone()))
                .write(dir.resolve("ck.safetensors"));
        long bytes = tokens * hidden * 4;
        byte[] json = ("{\"input\":{\"dtype\":\"F32\",\"shape\":[" + tokens + "," + hidden + "],\"data_offsets\":[0,"
                + bytes + "]}}").getBytes(StandardCharsets.UTF_8);
        byte[] header = Arrays.copyOf(json, (json.length + 7) / 8 * 8);
        Arrays.fill(header, json.length, header.length, (byte) ' ');
        try (RandomAccessFile f = new RandomAccessFile(dir.resolve("in.safetensors").toFile(), "rw")) {
            f.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).array());
            f.write(header);
            f.setLength(8 + header.length + bytes); // zeros, without writing them
        }
    }
}
