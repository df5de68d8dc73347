package dev.tp4j.testing;

import dev.tp4j.backend.Activation;
import dev.tp4j.backend.Backend;
import dev.tp4j.backend.cpu.CpuBackend;
import dev.tp4j.io.BFloat16;
import dev.tp4j.io.Float16;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Device;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Set;

/**
 * A CPU rank that computes like a GPU rank with half-precision weights: it accepts BF16/F16 for
 * {@link #adoptWeight}, rounds those weights to the dtype (kept in F32 memory) and rounds {@code x} to
 * the weight's dtype before the F32 GEMM, as the CUDA backend does before cublasGemmEx. The numerics of
 * the bf16 path can thus be checked end to end (task, reference, bound) without a GPU.
 *
 * <p>{@code forced}, when not null, rounds every weight to that dtype whatever was asked: a rank whose
 * numbers are half precision while the verifier believes F32 (the control that the bounds matter).
 */
public final class RoundingCpuBackend implements Backend {
    private final CpuBackend cpu = new CpuBackend(1);
    private final DType forced;
    private final Map<Tensor, DType> halfWeights = new IdentityHashMap<>();

    public RoundingCpuBackend() {
        this(null);
    }

    public RoundingCpuBackend(DType forced) {
        this.forced = forced;
    }

    public static float round(DType dtype, float v) {
        return dtype == DType.BF16 ? BFloat16.toFloat(BFloat16.fromFloat(v)) : Float16.toFloat(Float16.fromFloat(v));
    }

    @Override
    public Set<DType> weightDTypes() {
        return Set.of(DType.F32, DType.BF16, DType.F16);
    }

    @Override
    public Tensor adoptWeight(Tensor host, DType storage) {
        DType dtype = forced != null ? forced : storage;
        Tensor w = cpu.adopt(host);
        if (dtype != DType.F32) {
            float[] v = w.toFloatArray();
            for (int i = 0; i < v.length; i++) {
                v[i] = round(dtype, v[i]);
            }
            cpu.copyFromHost(v, w);
            halfWeights.put(w, dtype);
        }
        return w;
    }

    @Override
    public void linear(Tensor x, Tensor w, Tensor bias, Tensor y) {
        DType dtype = halfWeights.get(w);
        if (dtype == null) {
            cpu.linear(x, w, bias, y);
            return;
        }
        float[] v = x.toFloatArray();
        for (int i = 0; i < v.length; i++) {
            v[i] = round(dtype, v[i]);
        }
        try (Tensor rounded = Tensor.hostOf(Shape.of(x.rows(), x.cols()), v)) {
            cpu.linear(rounded, w, bias, y);
        }
    }

    @Override
    public Device device() {
        return cpu.device();
    }

    @Override
    public Tensor allocate(Shape shape, DType dtype) {
        return cpu.allocate(shape, dtype);
    }

    @Override
    public Tensor adopt(Tensor host) {
        return cpu.adopt(host);
    }

    @Override
    public void copyFromHost(float[] src, Tensor dst) {
        cpu.copyFromHost(src, dst);
    }

    @Override
    public float[] copyToHost(Tensor src) {
        return cpu.copyToHost(src);
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        cpu.copy(src, dst);
    }

    @Override
    public void addBias(Tensor y, Tensor bias) {
        cpu.addBias(y, bias);
    }

    @Override
    public void activate(Activation act, Tensor x) {
        cpu.activate(act, x);
    }

    @Override
    public void gatedActivate(Activation act, Tensor gate, Tensor up) {
        cpu.gatedActivate(act, gate, up);
    }

    @Override
    public String describe() {
        return "CPU rounding like a GPU rank's half-precision weights";
    }

    @Override
    public void close() {
        cpu.close();
    }
}
