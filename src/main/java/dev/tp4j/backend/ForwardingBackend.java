package dev.tp4j.backend;

import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Device;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import java.util.Set;

/**
 * A backend that hands every call to another: a subclass overrides the few calls it watches or changes
 * ({@link TimedBackend} times them; tests round or count them). Closing it closes the other.
 */
public abstract class ForwardingBackend implements Backend {
    protected final Backend inner;

    protected ForwardingBackend(Backend inner) {
        this.inner = inner;
    }

    @Override
    public Device device() {
        return inner.device();
    }

    @Override
    public Tensor allocate(Shape shape, DType dtype) {
        return inner.allocate(shape, dtype);
    }

    @Override
    public Tensor adopt(Tensor host) {
        return inner.adopt(host);
    }

    @Override
    public Set<DType> weightDTypes() {
        return inner.weightDTypes();
    }

    @Override
    public Tensor adoptWeight(Tensor host, DType storage) {
        return inner.adoptWeight(host, storage);
    }

    @Override
    public void copyFromHost(float[] src, Tensor dst) {
        inner.copyFromHost(src, dst);
    }

    @Override
    public float[] copyToHost(Tensor src) {
        return inner.copyToHost(src);
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        inner.copy(src, dst);
    }

    @Override
    public void linear(Tensor x, Tensor w, Tensor bias, Tensor y) {
        inner.linear(x, w, bias, y);
    }

    @Override
    public void addBias(Tensor y, Tensor bias) {
        inner.addBias(y, bias);
    }

    @Override
    public void activate(Activation act, Tensor x) {
        inner.activate(act, x);
    }

    @Override
    public void gatedActivate(Activation act, Tensor gate, Tensor up) {
        inner.gatedActivate(act, gate, up);
    }

    @Override
    public void embedding(Tensor table, int[] ids, long firstId, Tensor out) {
        inner.embedding(table, ids, firstId, out);
    }

    @Override
    public void rmsNorm(Tensor x, Tensor weight, float eps, Tensor y) {
        inner.rmsNorm(x, weight, eps, y);
    }

    @Override
    public void rotary(Tensor x, int headDim, float[] invFreq, int firstPosition) {
        inner.rotary(x, headDim, invFreq, firstPosition);
    }

    @Override
    public void attention(Tensor q, Tensor keys, Tensor values, int headDim, int firstPosition, float scale,
                          Tensor out) {
        inner.attention(q, keys, values, headDim, firstPosition, scale, out);
    }

    @Override
    public void add(Tensor a, Tensor b) {
        inner.add(a, b);
    }

    @Override
    public double streamBytesPerSecond(long bytes) {
        return inner.streamBytesPerSecond(bytes);
    }

    @Override
    public boolean hasDecoderOps() {
        return inner.hasDecoderOps();
    }

    @Override
    public void synchronize() {
        inner.synchronize();
    }

    @Override
    public String describe() {
        return inner.describe();
    }

    @Override
    public void close() {
        inner.close();
    }
}
