package dev.tp4j.backend.cuda;

import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Device;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * A GPU rank's tensors: device memory and the copies into and out of it, over the rank's stream
 * ({@link StreamCalls}). Pure Java above the calls, so a CPU test runs it on host memory with
 * {@code Pointer.memcpy} standing in for {@code cudaMemcpy} (DeviceTensorsTest).
 *
 * <p>Allocation is stream-ordered and never waits: memory comes from the stream's pool
 * ({@code cudaMallocAsync}) and is zeroed by a {@code cudaMemsetAsync} queued on the same stream, so every
 * later use of the tensor on that stream sees zeros; closing a tensor queues {@code cudaFreeAsync}. A
 * forward pass that allocates and frees a temporary (gather_output does) thus costs neither a
 * {@code cudaMalloc}/{@code cudaFree} pair nor a device-wide synchronisation. Only copies to or from Java
 * memory wait for the stream, because the host reads or reuses the bytes right after.
 */
final class DeviceTensors implements AutoCloseable {

    /** The CUDA runtime calls this class makes, all on one stream of one device. */
    interface StreamCalls extends DeviceCopies.Engine {
        /** Device memory usable by work queued after this call ({@code cudaMallocAsync}); capacity 0. */
        Pointer malloc(long bytes);

        /** Releases {@code memory} once the work queued before this call is done ({@code cudaFreeAsync}). */
        void free(Pointer memory);

        /** {@code cudaMemsetAsync}: {@code dst} is positioned in bytes. */
        void memset(Pointer dst, int value, long bytes);

        /** Page-locked host memory ({@code cudaMallocHost}), for staging Java arrays. */
        Pointer mallocHost(long bytes);

        void freeHost(Pointer memory);

        /** Waits for everything queued on the stream; {@code why} names what needs the wait. */
        void synchronize(String why);
    }

    private final StreamCalls calls;
    private final Device device;
    private Pointer staging;
    private long stagingBytes;

    DeviceTensors(StreamCalls calls, Device device) {
        this.calls = calls;
        this.device = device;
    }

    /** A zeroed tensor, ready for any work queued after this call on the stream (no wait). */
    Tensor allocate(Shape shape, DType dtype) {
        long bytes = Math.max(1, Math.multiplyExact(shape.numel(), dtype.byteSize()));
        Allocation memory = new Allocation(calls, bytes);
        calls.memset(memory, 0, bytes);
        return Tensor.wrap(memory, shape, dtype, device);
    }

    /** A device copy of the contiguous host tensor {@code host} (any dtype), straight from its memory. */
    Tensor adopt(Tensor host) {
        if (!host.device().isCpu() || !host.isContiguous()) {
            throw new IllegalArgumentException("adopt takes a contiguous host tensor, not " + host);
        }
        Tensor onDevice = allocate(host.shape(), host.dtype());
        if (host.numel() > 0) {
            DeviceCopies.fromHost(DevicePointers.bytes(host), onDevice, calls);
            // The caller frees the host tensor right after: the copy must have read it.
            calls.synchronize("copying " + host + " to " + device);
        }
        return onDevice;
    }

    void copyFromHost(float[] src, Tensor dst) {
        requireF32(dst);
        if (src.length != dst.numel()) {
            throw new IllegalArgumentException(src.length + " floats for " + dst);
        }
        if (src.length == 0) {
            return;
        }
        Pointer host = staging((long) src.length * Float.BYTES);
        new FloatPointer(host).put(src, 0, src.length);
        DeviceCopies.fromHost(host, dst, calls);
        // The staging buffer is reused by the next copy: wait until this one has read it.
        calls.synchronize("copying " + src.length + " floats to " + dst);
    }

    float[] copyToHost(Tensor src) {
        requireF32(src);
        float[] out = new float[Math.toIntExact(src.numel())];
        if (out.length == 0) {
            return out;
        }
        Pointer host = staging((long) out.length * Float.BYTES);
        DeviceCopies.toHost(src, host, calls);
        calls.synchronize("copying " + src + " to the host");
        new FloatPointer(host).get(out, 0, out.length);
        return out;
    }

    /** Device to device, queued on the stream (no wait). */
    void copy(Tensor src, Tensor dst) {
        if (src.numel() == 0 && src.shape().equals(dst.shape())) {
            return;
        }
        DeviceCopies.between(src, dst, calls);
    }

    @Override
    public void close() {
        if (staging != null) {
            calls.freeHost(staging);
            staging = null;
        }
    }

    /** The pinned host buffer, grown to at least {@code bytes}. */
    private Pointer staging(long bytes) {
        if (staging == null || stagingBytes < bytes) {
            if (staging != null) {
                calls.freeHost(staging);
                staging = null;
            }
            long size = Math.max(bytes, 1 << 20);
            staging = calls.mallocHost(size);
            stagingBytes = size;
        }
        return staging;
    }

    private static void requireF32(Tensor t) {
        if (t.dtype() != DType.F32) {
            throw new IllegalArgumentException(t + ": Java float arrays copy to and from F32 tensors only");
        }
    }

    /** Device memory from the stream's pool, released by {@code free} when its tensor is closed. */
    static final class Allocation extends Pointer {
        Allocation(StreamCalls calls, long bytes) {
            Pointer p = calls.malloc(bytes);
            this.address = p.address();
            // The deallocator holds a copy, not this object, so that a forgotten tensor stays collectable.
            Pointer freeMe = new Pointer(p);
            // Registered while the capacity is still 0, so that JavaCPP does not count device memory
            // against its host-memory limit (maxBytes).
            deallocator(() -> calls.free(freeMe));
            this.capacity = bytes;
            this.limit = bytes;
        }
    }
}
