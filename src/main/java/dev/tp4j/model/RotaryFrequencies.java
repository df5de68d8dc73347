package dev.tp4j.model;

/**
 * The rotary embedding's inverse frequencies, as transformers computes them:
 * {@code inv_freq[i] = 1 / theta^(2i / head_dim)}, then Llama 3's scaling when the config has it
 * ({@code _compute_llama3_parameters}): long wavelengths divided by the factor, short ones kept, and
 * the band between blended smoothly.
 */
public final class RotaryFrequencies {
    private RotaryFrequencies() {
    }

    /** In float64, for references. */
    public static double[] of(ModelConfig config) {
        int half = config.headDim() / 2;
        double[] inv = new double[half];
        for (int i = 0; i < half; i++) {
            inv[i] = 1.0 / Math.pow(config.ropeTheta(), (2.0 * i) / config.headDim());
        }
        ModelConfig.RopeScaling s = config.ropeScaling();
        if (s == null) {
            return inv;
        }
        double lowFreqWavelen = s.originalMaxPositions() / s.lowFreqFactor();
        double highFreqWavelen = s.originalMaxPositions() / s.highFreqFactor();
        for (int i = 0; i < half; i++) {
            double wavelen = 2 * Math.PI / inv[i];
            if (wavelen > lowFreqWavelen) {
                inv[i] = inv[i] / s.factor();
            } else if (wavelen >= highFreqWavelen) {
                double smooth = (s.originalMaxPositions() / wavelen - s.lowFreqFactor())
                        / (s.highFreqFactor() - s.lowFreqFactor());
                inv[i] = (1 - smooth) * inv[i] / s.factor() + smooth * inv[i];
            }
        }
        return inv;
    }

    /** Rounded to float32, what a rank computes with. */
    public static float[] asFloats(ModelConfig config) {
        double[] inv = of(config);
        float[] out = new float[inv.length];
        for (int i = 0; i < inv.length; i++) {
            out[i] = (float) inv[i];
        }
        return out;
    }
}
