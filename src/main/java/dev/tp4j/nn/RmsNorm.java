package dev.tp4j.nn;

import dev.tp4j.backend.Backend;
import dev.tp4j.tensor.Tensor;

/** {@code y = x / √(mean(x²) + eps) ⊙ w}: every rank holds the whole weight and normalises its own copy. */
public final class RmsNorm {
    private final Backend backend;
    private final Tensor weight;
    private final float eps;

    public RmsNorm(Backend backend, Tensor weight, double eps) {
        this.backend = backend;
        this.weight = weight;
        this.eps = (float) eps;
    }

    public void forward(Tensor x, Tensor y) {
        backend.rmsNorm(x, weight, eps, y);
    }

    public Tensor weight() {
        return weight;
    }
}
