package dev.tp4j.backend.cuda;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tp4j.backend.Backend;
import dev.tp4j.backend.DecoderOpsContract;
import org.junit.jupiter.api.Tag;

/**
 * The decoder operations' contract on a GPU rank: decoder.cu's kernels against float64, the embedding in
 * F32, BF16 and F16. Runs only with {@code -Dgroups=gpu}; each test skips, saying why, where no CUDA device
 * is usable. NOT YET RUN: the task that wrote it had no GPU.
 *
 * <p>The bounds are the float32 recipe's ({@code Float64DecoderOps}), which allows java.lang.Math's cos, sin
 * and exp (1 ulp of a double); CUDA's double-precision cos and sin are within 2 ulp, exp within 1 (CUDA C
 * Programming Guide, mathematical functions): a relative 2⁻⁵² more before the rounding to float, far inside
 * the bounds' slack but not covered by them term for term.
 */
@Tag("gpu")
class CudaDecoderOpsGpuTest extends DecoderOpsContract {
    @Override
    protected Backend open() {
        CudaAvailability cuda = CudaAvailability.get();
        assumeTrue(cuda.usable(), () -> "no usable CUDA device: " + cuda.reason());
        return new CudaBackend(cuda.devices().get(0), false);
    }
}
