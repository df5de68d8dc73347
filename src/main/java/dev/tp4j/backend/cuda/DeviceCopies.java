package dev.tp4j.backend.cuda;

import dev.tp4j.tensor.Tensor;
import org.bytedeco.javacpp.Pointer;

/**
 * The {@code cudaMemcpy} calls behind {@link CudaBackend}'s copies, in pure Java: which call (1-D or 2-D),
 * which pointers (byte-positioned, see {@link DevicePointers}), pitches and widths in bytes. The calls go
 * to an {@link Engine}: on a GPU rank the stream's {@code cudaMemcpyAsync}/{@code cudaMemcpy2DAsync}; in a
 * CPU test {@code Pointer.memcpy} on host memory, which reads a {@code void*} the way the CUDA bindings do,
 * so the offset arithmetic of views is checked without a GPU (DeviceCopiesTest).
 */
final class DeviceCopies {
    private DeviceCopies() {
    }

    /** {@code cudaMemcpyKind}, with the runtime's values. */
    enum Kind {
        HOST_TO_DEVICE(1, "host → device"), DEVICE_TO_HOST(2, "device → host"), DEVICE_TO_DEVICE(3, "device → device");

        final int cuda;
        final String label;

        Kind(int cuda, String label) {
            this.cuda = cuda;
            this.label = label;
        }
    }

    /** The two runtime calls, with the C parameters' meaning: {@code void*} pointers, sizes in bytes. */
    interface Engine {
        void copy(Pointer dst, Pointer src, long bytes, Kind kind);

        void copy2D(Pointer dst, long dstPitch, Pointer src, long srcPitch, long widthBytes, long rows, Kind kind);
    }

    /** Contiguous row-major host bytes at {@code host} (positioned in bytes) into {@code dst}. */
    static void fromHost(Pointer host, Tensor dst, Engine engine) {
        long width = cols(dst) * (long) dst.dtype().byteSize();
        if (dst.isContiguous()) {
            engine.copy(DevicePointers.bytes(dst), host, dst.byteSize(), Kind.HOST_TO_DEVICE);
        } else {
            engine.copy2D(DevicePointers.bytes(dst), pitch(dst), host, width, width, rows(dst), Kind.HOST_TO_DEVICE);
        }
    }

    /** {@code src} into contiguous row-major host bytes at {@code host}. */
    static void toHost(Tensor src, Pointer host, Engine engine) {
        long width = cols(src) * (long) src.dtype().byteSize();
        if (src.isContiguous()) {
            engine.copy(host, DevicePointers.bytes(src), src.byteSize(), Kind.DEVICE_TO_HOST);
        } else {
            engine.copy2D(host, width, DevicePointers.bytes(src), pitch(src), width, rows(src), Kind.DEVICE_TO_HOST);
        }
    }

    /** {@code dst ← src} on the device; equal shapes and dtypes, either may be a column window. */
    static void between(Tensor src, Tensor dst, Engine engine) {
        if (!src.shape().equals(dst.shape()) || src.dtype() != dst.dtype()) {
            throw new IllegalArgumentException("copy: " + src + " into " + dst);
        }
        if (src.isContiguous() && dst.isContiguous()) {
            engine.copy(DevicePointers.bytes(dst), DevicePointers.bytes(src), src.byteSize(), Kind.DEVICE_TO_DEVICE);
            return;
        }
        engine.copy2D(DevicePointers.bytes(dst), pitch(dst), DevicePointers.bytes(src), pitch(src),
                cols(src) * (long) src.dtype().byteSize(), rows(src), Kind.DEVICE_TO_DEVICE);
    }

    static int rows(Tensor t) {
        return t.shape().rank() < 2 ? 1 : t.rows();
    }

    static int cols(Tensor t) {
        return t.shape().rank() < 2 ? Math.toIntExact(t.numel()) : t.cols();
    }

    /** Elements between row starts; a 1-D or contiguous tensor is one row. */
    static int stride(Tensor t) {
        return t.shape().rank() < 2 ? Math.toIntExact(Math.max(1, t.numel())) : t.rowStride();
    }

    private static long pitch(Tensor t) {
        return (long) stride(t) * t.dtype().byteSize();
    }
}
