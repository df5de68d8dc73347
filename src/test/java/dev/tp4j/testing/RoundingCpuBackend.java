package dev.tp4j.testing;

import dev.tp4j.backend.Backend;
import dev.tp4j.backend.ForwardingBackend;
import dev.tp4j.backend.cpu.CpuBackend;
import dev.tp4j.io.BFloat16;
import dev.tp4j.io.Float16;
import dev.tp4j.tensor.DType;
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
public final class RoundingCpuBackend extends ForwardingBackend {
    private final Backend cpu;
    private final DType forced;
    private final Map<Tensor, DType> halfWeights = new IdentityHashMap<>();

    public RoundingCpuBackend() {
        this(null);
    }

    public RoundingCpuBackend(DType forced) {
        super(new CpuBackend(1));
        this.cpu = inner;
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
    public String describe() {
        return "CPU rounding like a GPU rank's half-precision weights";
    }

}
