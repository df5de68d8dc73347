package dev.tp4j.tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * A dense tensor in off-heap memory (host, or a device when a backend hands one out). Row-major; a 2-D
 * tensor may be a column window of a wider matrix ({@link #rowStride()} elements between rows), which
 * is how a row-parallel layer reads its slice of the input features without copying them.
 *
 * <p>The native views ({@link #floatPointer()}, {@link #byteBuffer()}) are created once and reused, so
 * GEMM and collective calls on a tensor allocate nothing.
 */
public final class Tensor implements AutoCloseable {
    private final Pointer memory;
    private final long byteOffset;
    private final Shape shape;
    private final DType dtype;
    private final Device device;
    private final long rowStride;
    private final boolean owner;
    private FloatPointer floatPointer;
    private ByteBuffer byteBuffer;
    private FloatBuffer floatBuffer;
    private boolean closed;

    private Tensor(Pointer memory, long byteOffset, Shape shape, DType dtype, Device device,
                   long rowStride, boolean owner) {
        this.memory = memory;
        this.byteOffset = byteOffset;
        this.shape = shape;
        this.dtype = dtype;
        this.device = device;
        this.rowStride = rowStride;
        this.owner = owner;
    }

    /** Allocates zeroed host memory for {@code shape}. */
    public static Tensor allocateHost(Shape shape, DType dtype) {
        Tensor t = allocateHostUninitialized(shape, dtype);
        ((BytePointer) t.memory).zero();
        return t;
    }

    /**
     * Allocates host memory for {@code shape} without clearing it: only for a buffer that is about to be
     * overwritten completely (a checkpoint read), where zeroing first would touch every byte twice.
     */
    public static Tensor allocateHostUninitialized(Shape shape, DType dtype) {
        long bytes = Math.multiplyExact(shape.numel(), dtype.byteSize());
        BytePointer memory = new BytePointer(Math.max(bytes, 1));
        if (memory.isNull()) {
            throw new OutOfMemoryError("cannot allocate " + bytes + " bytes of host memory for " + shape);
        }
        return new Tensor(memory, 0, shape, dtype, Device.CPU, lastDim(shape), true);
    }

    /**
     * Wraps memory a backend allocated (device memory for a GPU backend). The tensor owns it: closing
     * the tensor releases it through the pointer's deallocator.
     */
    public static Tensor wrap(Pointer memory, Shape shape, DType dtype, Device device) {
        return new Tensor(memory, 0, shape, dtype, device, lastDim(shape), true);
    }

    public static Tensor hostOf(Shape shape, float[] values) {
        if (values.length != shape.numel()) {
            throw new IllegalArgumentException(values.length + " values for shape " + shape);
        }
        Tensor t = allocateHost(shape, DType.F32);
        t.floatPointer().put(values);
        return t;
    }

    private static long lastDim(Shape shape) {
        return shape.rank() == 0 ? 1 : shape.dim(shape.rank() - 1);
    }

    public Shape shape() {
        return shape;
    }

    public DType dtype() {
        return dtype;
    }

    public Device device() {
        return device;
    }

    public long numel() {
        return shape.numel();
    }

    public long byteSize() {
        return numel() * dtype.byteSize();
    }

    /** Rows of a 2-D tensor. */
    public int rows() {
        require2d();
        return shape.intDim(0);
    }

    /** Columns of a 2-D tensor. */
    public int cols() {
        require2d();
        return shape.intDim(1);
    }

    /** Elements between the starts of consecutive rows (the BLAS leading dimension). */
    public int rowStride() {
        return Math.toIntExact(rowStride);
    }

    public boolean isContiguous() {
        return shape.rank() < 2 || rowStride == shape.dim(shape.rank() - 1);
    }

    /** Columns {@code [first, first + count)} of a 2-D tensor, sharing this tensor's memory. */
    public Tensor narrowColumns(int first, int count) {
        require2d();
        if (first < 0 || count < 0 || first + count > cols()) {
            throw new IndexOutOfBoundsException("columns [" + first + ", " + (first + count) + ") of " + shape);
        }
        return new Tensor(memory, byteOffset + (long) first * dtype.byteSize(), Shape.of(rows(), count),
                dtype, device, rowStride, false);
    }

    /** Elements {@code [first, first + count)} of a contiguous tensor, as a 1-D view. */
    public Tensor slice(long first, long count) {
        requireContiguous();
        if (first < 0 || count < 0 || first + count > numel()) {
            throw new IndexOutOfBoundsException("elements [" + first + ", " + (first + count) + ") of " + shape);
        }
        return new Tensor(memory, byteOffset + first * dtype.byteSize(), Shape.of(count), dtype, device,
                count, false);
    }

    /** The same contiguous memory seen with another shape of equal size. */
    public Tensor view(Shape newShape) {
        requireContiguous();
        if (newShape.numel() != numel()) {
            throw new IllegalArgumentException("cannot view " + shape + " as " + newShape);
        }
        return new Tensor(memory, byteOffset, newShape, dtype, device, lastDim(newShape), false);
    }

    /** Native pointer to the first float (host or device address). */
    public FloatPointer floatPointer() {
        requireOpen();
        if (dtype != DType.F32) {
            throw new IllegalStateException("tensor is " + dtype + ", not F32");
        }
        if (floatPointer == null) {
            long firstFloat = byteOffset / Float.BYTES;
            long extent = extentElements();
            floatPointer = new FloatPointer(memory);
            floatPointer.capacity(firstFloat + Math.max(extent, 1)).limit(firstFloat + extent).position(firstFloat);
        }
        return floatPointer;
    }

    /** Elements from the first to the last one this tensor covers (row stride included). */
    private long extentElements() {
        if (isContiguous()) { // any rank; only 2-D column windows are strided
            return numel();
        }
        return shape.dim(0) == 0 ? 0 : (shape.dim(0) - 1) * rowStride + shape.dim(1);
    }

    /** Native pointer to the first byte, for any dtype. */
    public Pointer dataPointer() {
        requireOpen();
        return new BytePointer(memory).position(byteOffset);
    }

    /**
     * The host bytes this tensor covers, native byte order; element {@code (i, j)} of a 2-D view is at
     * float index {@code i * rowStride() + j}. Created once and reused: callers set position and limit.
     */
    public ByteBuffer byteBuffer() {
        requireOpen();
        requireHost();
        if (byteBuffer == null) {
            long extentBytes = extentElements() * dtype.byteSize();
            if (extentBytes == 0) {
                byteBuffer = ByteBuffer.allocateDirect(0);
            } else {
                BytePointer bytes = new BytePointer(memory);
                bytes.capacity(byteOffset + extentBytes).limit(byteOffset + extentBytes).position(byteOffset);
                // JavaCPP's buffer starts at the allocation and merely sets its position to our
                // offset; slice it so index 0 is this tensor's first byte.
                byteBuffer = bytes.asByteBuffer().slice();
            }
            byteBuffer.order(ByteOrder.nativeOrder());
        }
        return byteBuffer.clear();
    }

    /** The host floats this tensor covers (see {@link #byteBuffer()} for indexing). */
    public FloatBuffer floatBuffer() {
        if (floatBuffer == null) {
            if (dtype != DType.F32) {
                throw new IllegalStateException("tensor is " + dtype + ", not F32");
            }
            floatBuffer = byteBuffer().asFloatBuffer();
        }
        return floatBuffer;
    }

    /** Element {@code (row, col)} of a 2-D host F32 tensor (respects the row stride). */
    public float get(int row, int col) {
        return floatBuffer().get(Math.toIntExact((long) row * rowStride + col));
    }

    public void set(int row, int col, float value) {
        floatBuffer().put(Math.toIntExact((long) row * rowStride + col), value);
    }

    /** Copies a host F32 tensor's elements out, row by row (any row stride). */
    public float[] toFloatArray() {
        requireHost();
        float[] out = new float[Math.toIntExact(numel())];
        FloatBuffer floats = floatBuffer();
        if (isContiguous()) {
            floats.get(0, out);
        } else {
            int r = rows();
            int c = cols();
            for (int i = 0; i < r; i++) {
                floats.get(Math.toIntExact((long) i * rowStride), out, i * c, c);
            }
        }
        return out;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            if (owner) {
                memory.close();
            }
        }
    }

    @Override
    public String toString() {
        return "Tensor" + shape + " " + dtype + " on " + device;
    }

    private void require2d() {
        if (shape.rank() != 2) {
            throw new IllegalStateException("expected a 2-D tensor, got " + shape);
        }
    }

    private void requireContiguous() {
        if (!isContiguous()) {
            throw new IllegalStateException("tensor " + shape + " is a strided view");
        }
    }

    private void requireHost() {
        if (!device.isCpu()) {
            throw new IllegalStateException("tensor is on " + device + ", not host memory");
        }
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("tensor was closed");
        }
    }
}
