package dev.tp4j.backend.cuda;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.Pointer;

/**
 * The CUDA stream calls of {@link DeviceTensors} on host memory, for CPU tests. Copies use
 * {@code Pointer.memcpy}, whose {@code void*} parameters read a pointer exactly as the CUDA bindings do
 * (its raw position added as bytes), so a wrongly positioned pointer goes wrong here as on a GPU. Every
 * call is recorded by name; fresh memory is filled with 0x5A bytes, so that missing zeroing shows.
 */
final class HostStream implements DeviceTensors.StreamCalls {
    final List<String> calls = new ArrayList<>();
    long live;

    @Override
    public Pointer malloc(long bytes) {
        calls.add("malloc");
        Pointer p = Pointer.malloc(bytes);
        Pointer.memset(p, 0x5A, bytes);
        live++;
        return new Pointer(p); // capacity 0, like cudaMallocAsync's
    }

    @Override
    public void free(Pointer memory) {
        calls.add("free");
        live--;
        Pointer.free(memory);
    }

    @Override
    public void memset(Pointer dst, int value, long bytes) {
        calls.add("memset");
        Pointer.memset(dst, value, bytes);
    }

    @Override
    public Pointer mallocHost(long bytes) {
        calls.add("mallocHost");
        return Pointer.malloc(bytes);
    }

    @Override
    public void freeHost(Pointer memory) {
        calls.add("freeHost");
        Pointer.free(memory);
    }

    @Override
    public void synchronize(String why) {
        calls.add("synchronize");
    }

    @Override
    public void copy(Pointer dst, Pointer src, long bytes, DeviceCopies.Kind kind) {
        calls.add("copy " + kind);
        Pointer.memcpy(dst, src, bytes);
    }

    @Override
    public void copy2D(Pointer dst, long dstPitch, Pointer src, long srcPitch, long widthBytes, long rows,
                       DeviceCopies.Kind kind) {
        calls.add("copy2D " + kind);
        for (long r = 0; r < rows; r++) {
            Pointer.memcpy(plusBytes(dst, r * dstPitch), plusBytes(src, r * srcPitch), widthBytes);
        }
    }

    /** {@code (char*) p + bytes} as the bindings compute it: the raw position is a byte count. */
    static Pointer plusBytes(Pointer p, long bytes) {
        return new Pointer(p).position(p.position() + bytes);
    }
}
