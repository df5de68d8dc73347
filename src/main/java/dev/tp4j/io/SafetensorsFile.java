package dev.tp4j.io;

import static dev.tp4j.io.MessageText.quoted;

import dev.tp4j.BadInputException;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Partition;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Collectors;

/**
 * A safetensors file opened for reading: the header is validated when the file is opened, and tensor
 * data is read on demand through read-only memory mappings of just the bytes a read needs, so a rank
 * loading its shard of a weight touches its shard's bytes and not the file's.
 *
 * <p>Every read returns a new host F32 tensor (the compute dtype), converting F16, BF16 and F64
 * elements on the way. The shard reads follow {@link Partition}: the first {@code size % tp} ranks take
 * one more row or column.
 *
 * <p>Problems with the file (missing, not safetensors, a malformed or inconsistent header, a tensor
 * that is absent or has the wrong rank for the read asked of it) throw {@link BadInputException} with
 * one line naming the file and the problem. Safe for concurrent reads from several threads.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** The reference implementation's limit: a larger header is a corrupt file, not a real checkpoint. */
    static final long MAX_HEADER_BYTES = 100_000_000L;
    private static final int LENGTH_PREFIX_BYTES = 8;
    private static final int SUGGESTIONS = 3;

    private final Path path;
    private final String label;
    private final FileChannel channel;
    private final long dataStart;
    private final SafetensorsHeader header;
    private final MappedRegionReader regions;
    private volatile boolean closed;

    private SafetensorsFile(Path path, FileChannel channel, long dataStart, SafetensorsHeader header,
                            MappedRegionReader regions) {
        this.path = path;
        this.label = path.toString();
        this.channel = channel;
        this.dataStart = dataStart;
        this.header = header;
        this.regions = regions;
    }

    /** Opens {@code path} and validates its header. */
    public static SafetensorsFile open(Path path) {
        return open(path, MappedRegionReader.DEFAULT_WINDOW_BYTES, MappedRegionReader.DEFAULT_MAX_GAP_BYTES);
    }

    /** As {@link #open(Path)}, with the mapping window and gap limits small enough for tests to cross. */
    static SafetensorsFile open(Path path, long windowBytes, long maxGapBytes) {
        String label = path.toString();
        FileChannel channel = openChannel(path, label);
        try {
            long fileBytes = channel.size();
            if (fileBytes < LENGTH_PREFIX_BYTES) {
                throw new BadInputException(label + ": not a safetensors file: " + fileBytes
                        + " bytes long, too short for the 8-byte header length");
            }
            ByteBuffer prefix = readFully(channel, 0, LENGTH_PREFIX_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            rejectZipArchive(label, prefix);
            long headerBytes = prefix.getLong(0);
            long available = fileBytes - LENGTH_PREFIX_BYTES;
            if (Long.compareUnsigned(headerBytes, available) > 0) {
                throw new BadInputException(label + ": not a safetensors file: header length "
                        + Long.toUnsignedString(headerBytes) + " (the first 8 bytes) is larger than the "
                        + available + " bytes that follow");
            }
            if (headerBytes > MAX_HEADER_BYTES) {
                throw new BadInputException(label + ": header length " + headerBytes + " exceeds the "
                        + MAX_HEADER_BYTES + "-byte limit for safetensors headers");
            }
            ByteBuffer json = readFully(channel, LENGTH_PREFIX_BYTES, (int) headerBytes);
            long dataStart = LENGTH_PREFIX_BYTES + headerBytes;
            SafetensorsHeader header = SafetensorsHeader.parse(label, json.array(), dataStart, fileBytes);
            return new SafetensorsFile(path, channel, dataStart, header,
                    new MappedRegionReader(channel, windowBytes, maxGapBytes));
        } catch (IOException e) {
            closeQuietly(channel, e);
            throw new UncheckedIOException(label + ": cannot read the header: " + e.getMessage(), e);
        } catch (RuntimeException | Error e) {
            closeQuietly(channel, e);
            throw e;
        }
    }

    private static FileChannel openChannel(Path path, String label) {
        if (Files.isDirectory(path)) {
            throw new BadInputException(label + ": is a directory, not a safetensors file");
        }
        try {
            return FileChannel.open(path, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new BadInputException(label + ": file not found", e);
        } catch (AccessDeniedException e) {
            throw new BadInputException(label + ": cannot be read (permission denied)", e);
        } catch (IOException e) {
            throw new BadInputException(label + ": cannot be opened: " + e.getMessage(), e);
        }
    }

    /** A PyTorch .bin/.pt checkpoint is a zip archive; saying so beats a baffling header length. */
    private static void rejectZipArchive(String label, ByteBuffer prefix) {
        if (prefix.get(0) == 'P' && prefix.get(1) == 'K' && prefix.get(2) == 3 && prefix.get(3) == 4) {
            throw new BadInputException(label + ": not a safetensors file: it is a zip archive"
                    + " (a PyTorch .bin/.pt checkpoint?); convert it to safetensors first");
        }
    }

    private static ByteBuffer readFully(FileChannel channel, long position, int bytes) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(bytes);
        while (buffer.hasRemaining()) {
            if (channel.read(buffer, position + buffer.position()) < 0) {
                throw new IOException("file ended after " + (position + buffer.position()) + " bytes");
            }
        }
        return buffer.flip();
    }

    private static void closeQuietly(FileChannel channel, Throwable failure) {
        try {
            channel.close();
        } catch (IOException e) {
            failure.addSuppressed(e);
        }
    }

    public Path path() {
        return path;
    }

    /** Tensor names in header order. */
    public List<String> names() {
        return List.copyOf(header.tensors().keySet());
    }

    /** Header entries in header order. */
    public Collection<TensorInfo> tensors() {
        return header.tensors().values();
    }

    public boolean contains(String name) {
        return header.tensors().containsKey(name);
    }

    /** The {@code __metadata__} map (empty when the file has none). */
    public Map<String, String> metadata() {
        return header.metadata();
    }

    /** The header entry of {@code name}; a missing name's error lists the nearest names the file holds. */
    public TensorInfo info(String name) {
        TensorInfo info = header.tensors().get(name);
        if (info == null) {
            throw new BadInputException(label + ": no tensor " + quoted(name) + nearestNamesHint(name));
        }
        return info;
    }

    private String nearestNamesHint(String name) {
        if (header.tensors().isEmpty()) {
            return " (the file holds no tensors)";
        }
        return "; nearest: " + NearestNames.nearest(name, header.tensors().keySet(), SUGGESTIONS).stream()
                .map(MessageText::quoted).collect(Collectors.joining(", "));
    }

    /** The whole tensor, as F32. */
    public Tensor read(String name) {
        TensorInfo info = info(name);
        return readInto(info, info.shape(), dst -> readStrided(info, dst, dataStart + info.dataBegin(), info.byteSize(), info.byteSize(), 1));
    }

    /**
     * Rows {@code [firstRow, firstRow + rowCount)} along dimension 0, one contiguous byte range: the
     * shard of a column-parallel weight {@code [out, in]}. For a 1-D tensor (a column-parallel bias) the
     * rows are its elements.
     */
    public Tensor readRows(String name, long firstRow, long rowCount) {
        long[] dims = rowsOf(info(name)).shape().toArray();
        dims[0] = rowCount;
        return readInto(info(name), Shape.of(dims), dst -> readRowsInto(name, firstRow, dst));
    }

    /**
     * As {@link #readRows}, decoding into {@code dst} (host F32, contiguous) instead of a new tensor: its
     * shape is the rows read, so a loader can fill one shard in blocks and report progress between them.
     */
    public void readRowsInto(String name, long firstRow, Tensor dst) {
        TensorInfo info = rowsOf(info(name));
        long[] dims = info.shape().toArray();
        long rowCount = dst.shape().rank() == 0 ? -1 : dst.shape().dim(0);
        checkRange("rows", firstRow, rowCount, dims[0], info);
        dims[0] = rowCount;
        requireShape(info, dst, Shape.of(dims));
        long rowBytes = info.numel() == 0 ? 0 : info.byteSize() / info.shape().dim(0);
        readStrided(info, dst, dataStart + info.dataBegin() + firstRow * rowBytes, rowCount * rowBytes,
                rowCount * rowBytes, 1);
    }

    private TensorInfo rowsOf(TensorInfo info) {
        if (info.shape().rank() == 0) {
            throw new BadInputException(label + ": tensor " + quoted(info.name()) + " is a scalar; it has no rows to read");
        }
        return info;
    }

    /**
     * Columns {@code [firstColumn, firstColumn + columnCount)} of every row of a 2-D tensor: the shard
     * of a row-parallel weight {@code [out, in]}. One region per row; the other ranks' columns are not read.
     */
    public Tensor readColumns(String name, long firstColumn, long columnCount) {
        TensorInfo info = matrixOf(info(name), "reading columns");
        return readInto(info, Shape.of(info.shape().dim(0), columnCount),
                dst -> readColumnsInto(name, 0, firstColumn, dst));
    }

    /**
     * The block of rows {@code [firstRow, firstRow + dst.rows)} and columns {@code [firstColumn,
     * firstColumn + dst.cols)} of a 2-D tensor, decoded into {@code dst} (host F32, contiguous): a
     * row-parallel weight shard filled a block of rows at a time.
     */
    public void readColumnsInto(String name, long firstRow, long firstColumn, Tensor dst) {
        TensorInfo info = matrixOf(info(name), "reading columns");
        Shape shape = info.shape();
        if (dst.shape().rank() != 2) {
            throw new IllegalArgumentException("a column block is read into a 2-D tensor, not " + dst.shape());
        }
        long rowCount = dst.shape().dim(0);
        long columnCount = dst.shape().dim(1);
        checkRange("rows", firstRow, rowCount, shape.dim(0), info);
        checkRange("columns", firstColumn, columnCount, shape.dim(1), info);
        long elementBytes = info.dtype().byteSize();
        long rowBytes = shape.dim(1) * elementBytes;
        readStrided(info, dst, dataStart + info.dataBegin() + firstRow * rowBytes + firstColumn * elementBytes,
                columnCount * elementBytes, rowBytes, rowCount);
    }

    private TensorInfo matrixOf(TensorInfo info, String purpose) {
        if (info.shape().rank() != 2) {
            throw new BadInputException(label + ": tensor " + quoted(info.name()) + " has shape " + info.shape()
                    + "; " + purpose + " needs a 2-D [out, in] tensor");
        }
        return info;
    }

    /** A new host F32 tensor of {@code shape} filled by {@code fill}; released again if the fill fails. */
    private Tensor readInto(TensorInfo info, Shape shape, Consumer<Tensor> fill) {
        checkReadSize(info, shape);
        Tensor out = Tensor.allocateHostUninitialized(shape, DType.F32);
        try {
            fill.accept(out);
            return out;
        } catch (RuntimeException | Error e) {
            out.close();
            throw e;
        }
    }

    /** Rank {@code rank}'s rows of {@code tp} (see {@link #readRows}): a column-parallel weight or bias shard. */
    public Tensor readRowShard(String name, int rank, int tp) {
        TensorInfo info = info(name);
        if (info.shape().rank() == 0) {
            throw new BadInputException(label + ": tensor " + quoted(name) + " is a scalar; it cannot be sharded by rows");
        }
        Partition rows = new Partition(info.shape().dim(0), tp);
        return readRows(name, rows.offset(rank), rows.count(rank));
    }

    /** Rank {@code rank}'s columns of {@code tp} (see {@link #readColumns}): a row-parallel weight shard. */
    public Tensor readColumnShard(String name, int rank, int tp) {
        TensorInfo info = matrixOf(info(name), "a column shard");
        Partition columns = new Partition(info.shape().dim(1), tp);
        return readColumns(name, columns.offset(rank), columns.count(rank));
    }

    private static void checkRange(String what, long first, long count, long available, TensorInfo info) {
        if (first < 0 || count < 0 || first > available - count) {
            throw new IndexOutOfBoundsException(what + " [" + first + ", " + (first + count) + ") of tensor "
                    + quoted(info.name()) + " with shape " + info.shape());
        }
    }

    private void checkReadSize(TensorInfo info, Shape shape) {
        long outBytes = Math.multiplyExact(shape.numel(), (long) Float.BYTES);
        if (outBytes > Integer.MAX_VALUE) {
            // Tensor.floatBuffer() is an int-indexed NIO buffer, so one read fills at most 2 GiB of host memory.
            throw new UnsupportedOperationException(label + ": tensor " + quoted(info.name()) + ": reading "
                    + shape + " as F32 needs " + outBytes + " bytes; one read is limited to 2 GiB, read a smaller block");
        }
    }

    private static void requireShape(TensorInfo info, Tensor dst, Shape expected) {
        if (!dst.shape().equals(expected)) {
            throw new IllegalArgumentException("reading " + expected + " of tensor " + quoted(info.name())
                    + " into a tensor of shape " + dst.shape());
        }
    }

    /**
     * Reads the regions (see {@link MappedRegionReader#readStrided}) and decodes them, in order, into
     * {@code out}, a contiguous host F32 tensor of exactly as many elements.
     */
    private void readStrided(TensorInfo info, Tensor out, long firstRegionStart, long regionBytes,
                             long stride, long regionCount) {
        requireOpen();
        if (out.dtype() != DType.F32 || !out.device().isCpu() || !out.isContiguous()) {
            throw new IllegalArgumentException("reads decode into contiguous host F32 tensors, not " + out);
        }
        checkReadSize(info, out.shape());
        DType stored = info.dtype();
        FloatBuffer destination = out.floatBuffer().duplicate();
        destination.clear();
        try {
            regions.readStrided(firstRegionStart, regionBytes, stride, regionCount, stored.byteSize(),
                    chunk -> ElementCodec.decode(stored, chunk, destination));
        } catch (IOException e) {
            throw new UncheckedIOException(label + ": reading tensor " + quoted(info.name()) + " failed: " + e.getMessage(), e);
        }
        if (destination.position() != out.numel()) {
            throw new IllegalStateException("read " + destination.position() + " of " + out.numel() + " elements");
        }
    }

    /** Bytes of tensor data read from this file so far (the header is not counted). */
    public long bytesRead() {
        return regions.bytesRead();
    }

    /** Bytes of tensor data mapped so far: those read, plus small gaps between strided rows mapped over. */
    public long bytesMapped() {
        return regions.bytesMapped();
    }

    /** Mappings made so far (tests check that windowing splits reads as intended). */
    long mappings() {
        return regions.mappings();
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException(label + " was closed");
        }
    }

    @Override
    public void close() {
        closed = true;
        try {
            channel.close();
        } catch (IOException e) {
            throw new UncheckedIOException(label + ": close failed: " + e.getMessage(), e);
        }
    }

    @Override
    public String toString() {
        return "SafetensorsFile[" + label + ", " + header.tensors().size() + " tensors]";
    }
}
