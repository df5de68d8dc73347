package dev.tp4j.backend.cuda;

import dev.tp4j.tensor.Tensor;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * The JavaCPP pointer to hand a CUDA-family function for a tensor, by the C type of the parameter.
 *
 * <p>JavaCPP passes {@code address + position} to C, and how it scales the position depends on the
 * <em>parameter's</em> Java type, not on the object's class: a {@code void*} parameter ({@code Pointer}
 * in the binding: {@code cudaMemcpy*}, {@code cudaMemset*}, every NCCL buffer, {@code cublasGemmEx}'s
 * matrices) adds the position as <b>bytes</b> ({@code lea (%rbx,%rax,1)} in libjnicudart's
 * {@code cudaMemcpyAsync}); a typed {@code float*} parameter ({@code FloatPointer}: {@code cublasSgemm})
 * scales it by 4. A tensor's {@link Tensor#floatPointer()} is positioned in floats, so passing it to a
 * {@code void*} parameter reads a view with offset {@code o} at {@code o/4}: the bug this class exists
 * to prevent. {@code Pointer.memcpy} follows the same {@code void*} rule on host memory, which is how a
 * CPU test pins the convention (DevicePointersTest).
 */
public final class DevicePointers {
    private DevicePointers() {
    }

    /** For a {@code void*} parameter: positioned in bytes at the tensor's first element (any dtype). */
    public static Pointer bytes(Tensor t) {
        return t.dataPointer();
    }

    /** For a {@code float*} parameter: positioned in floats at the tensor's first element (F32 only). */
    public static FloatPointer floats(Tensor t) {
        return t.floatPointer();
    }

    /** The device address of the tensor's first element, as a kernel argument receives it. */
    public static long address(Tensor t) {
        return address(bytes(t));
    }

    /** The address a JavaCPP pointer denotes, its position scaled by its own element size. */
    static long address(Pointer p) {
        return p.address() + p.position() * p.sizeof();
    }
}
