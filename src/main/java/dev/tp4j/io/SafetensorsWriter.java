package dev.tp4j.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tp4j.BadInputException;
import dev.tp4j.files.OutputWriteException;
import dev.tp4j.files.TemporaryOutput;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Writes named tensors to a safetensors file: an 8-byte little-endian header length, a JSON header
 * (optional {@code __metadata__} first, then the tensors in the order they were added, padded with
 * spaces to a multiple of 8 bytes as the reference implementation pads it), then the tensors' bytes
 * back to back.
 *
 * <p>The file is written under a temporary name in the target directory and renamed over the target
 * atomically once complete and flushed, so a failed write never leaves half a file: the target is
 * either untouched or whole, and the temporary is removed on any exit the JVM can catch
 * ({@link TemporaryOutput}).
 *
 * <p>Tensors are read when {@link #write} runs, not when they are added; they must still be open then.
 */
public final class SafetensorsWriter {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int HEADER_ALIGNMENT = 8;
    private static final int CHUNK_BYTES = 1 << 20;

    private final Map<String, Entry> entries = new LinkedHashMap<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    /** Adds a host F32 tensor, stored as F32. */
    public SafetensorsWriter add(String name, Tensor tensor) {
        return add(name, tensor, DType.F32);
    }

    /**
     * Adds a host F32 tensor (a strided column view is fine), stored as {@code storedAs}: F16 and BF16
     * round to nearest, ties to even; F64 widens exactly.
     */
    public SafetensorsWriter add(String name, Tensor tensor, DType storedAs) {
        if (!tensor.device().isCpu() || tensor.dtype() != DType.F32) {
            throw new IllegalArgumentException("tensor " + MessageText.quoted(name) + " is " + tensor
                    + "; the writer takes host F32 tensors");
        }
        return put(name, new TensorEntry(tensor, storedAs));
    }

    /** Adds bytes exactly as given (little-endian elements of {@code dtype}), e.g. hand-made bit patterns. */
    public SafetensorsWriter addRaw(String name, DType dtype, Shape shape, byte[] littleEndianBytes) {
        long expected = Math.multiplyExact(shape.numel(), (long) dtype.byteSize());
        if (littleEndianBytes.length != expected) {
            throw new IllegalArgumentException(littleEndianBytes.length + " bytes for " + dtype + " " + shape
                    + ", which needs " + expected);
        }
        return put(name, new RawEntry(dtype, shape, littleEndianBytes.clone()));
    }

    /** Adds a {@code __metadata__} entry (string to string, as the format allows). */
    public SafetensorsWriter metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    private SafetensorsWriter put(String name, Entry entry) {
        if (name.equals(SafetensorsHeader.METADATA_KEY)) {
            throw new IllegalArgumentException(SafetensorsHeader.METADATA_KEY + " is reserved and cannot name a tensor");
        }
        if (entries.putIfAbsent(name, entry) != null) {
            throw new IllegalArgumentException("tensor " + MessageText.quoted(name) + " was already added");
        }
        return this;
    }

    /** Writes the file; replaces {@code path} atomically if it exists. */
    public void write(Path path) {
        Path target = path.toAbsolutePath();
        Path directory = target.getParent();
        if (directory == null || !Files.isDirectory(directory)) {
            throw new BadInputException(path + ": output directory " + directory + " does not exist");
        }
        if (Files.isDirectory(target)) {
            throw new BadInputException(path + ": is a directory; expected a file name for the output");
        }
        byte[] header = headerBytes();
        try (TemporaryOutput temporary = TemporaryOutput.beside(target)) {
            try (FileChannel channel = FileChannel.open(temporary.path(), StandardOpenOption.WRITE)) {
                writeContents(channel, header);
                channel.force(true);
            }
            temporary.commit();
        } catch (AccessDeniedException e) {
            throw new BadInputException(path + ": cannot write (permission denied on " + e.getFile() + ")", e);
        } catch (IOException e) {
            throw new OutputWriteException(path, e);
        }
    }

    private byte[] headerBytes() {
        ObjectNode root = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = root.putObject(SafetensorsHeader.METADATA_KEY);
            metadata.forEach(meta::put);
        }
        long offset = 0;
        for (Map.Entry<String, Entry> e : entries.entrySet()) {
            Entry entry = e.getValue();
            ObjectNode node = root.putObject(e.getKey());
            node.put("dtype", entry.dtype().safetensorsName());
            ArrayNode shape = node.putArray("shape");
            for (long d : entry.shape().toArray()) {
                shape.add(d);
            }
            long end = offset + entry.byteSize();
            node.putArray("data_offsets").add(offset).add(end);
            offset = end;
        }
        byte[] json;
        try {
            json = JSON.writeValueAsBytes(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise the header", e);
        }
        int padding = (HEADER_ALIGNMENT - json.length % HEADER_ALIGNMENT) % HEADER_ALIGNMENT;
        byte[] padded = Arrays.copyOf(json, json.length + padding);
        Arrays.fill(padded, json.length, padded.length, (byte) ' ');
        return padded;
    }

    private void writeContents(FileChannel channel, byte[] header) throws IOException {
        ByteBuffer chunk = ByteBuffer.allocateDirect(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        chunk.putLong(header.length);
        flush(channel, chunk);
        writeAll(channel, ByteBuffer.wrap(header));
        for (Entry entry : entries.values()) {
            entry.writeData(channel, chunk);
        }
        flush(channel, chunk);
    }

    private static void flush(FileChannel channel, ByteBuffer chunk) throws IOException {
        chunk.flip();
        writeAll(channel, chunk);
        chunk.clear();
    }

    private static void writeAll(FileChannel channel, ByteBuffer bytes) throws IOException {
        while (bytes.hasRemaining()) {
            channel.write(bytes);
        }
    }

    /** One tensor to write: what the header says about it and how to produce its bytes. */
    private interface Entry {
        DType dtype();

        Shape shape();

        default long byteSize() {
            return shape().numel() * dtype().byteSize();
        }

        /** Appends the tensor's bytes to {@code chunk}, flushing it to {@code channel} whenever it fills. */
        void writeData(FileChannel channel, ByteBuffer chunk) throws IOException;
    }

    private record TensorEntry(Tensor tensor, DType dtype) implements Entry {
        @Override
        public Shape shape() {
            return tensor.shape();
        }

        @Override
        public void writeData(FileChannel channel, ByteBuffer chunk) throws IOException {
            // byteBuffer() checks that the tensor is still open; a cached floatBuffer() would not.
            FloatBuffer floats = tensor.byteBuffer().asFloatBuffer();
            if (tensor.isContiguous()) {
                encode(floats.clear().limit(Math.toIntExact(tensor.numel())), channel, chunk);
            } else {
                // A column view of a wider matrix: each row is contiguous, rows are rowStride apart.
                for (int row = 0; row < tensor.rows(); row++) {
                    int start = row * tensor.rowStride();
                    encode(floats.clear().position(start).limit(start + tensor.cols()), channel, chunk);
                }
            }
        }

        private void encode(FloatBuffer source, FileChannel channel, ByteBuffer chunk) throws IOException {
            while (source.hasRemaining()) {
                if (chunk.remaining() < dtype.byteSize()) {
                    flush(channel, chunk);
                }
                ElementCodec.encode(dtype, source, chunk);
            }
        }
    }

    private record RawEntry(DType dtype, Shape shape, byte[] bytes) implements Entry {
        @Override
        public void writeData(FileChannel channel, ByteBuffer chunk) throws IOException {
            flush(channel, chunk);
            writeAll(channel, ByteBuffer.wrap(bytes));
        }
    }
}
