package dev.tp4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * The cuBLAS call chosen for {@code y = x·wᵀ}, by weight dtype and view strides (host tensors stand in
 * for device ones: only shapes, strides and dtypes matter here).
 */
class GemmCallTest {

    @Test
    void f32WeightsGoToSgemmWithTheViewsLeadingDimensions() {
        try (Tensor xWide = Tensor.allocateHost(Shape.of(7, 20), DType.F32);
             Tensor w = Tensor.allocateHost(Shape.of(5, 16), DType.F32);
             Tensor yWide = Tensor.allocateHost(Shape.of(7, 9), DType.F32)) {
            GemmCall c = GemmCall.of(xWide.narrowColumns(3, 16), w, yWide.narrowColumns(4, 5));
            assertEquals(new GemmCall(7, 5, 16, 16, 20, 9, 0, 0, 0, 68, false), c);
            assertEquals("cublasSgemm(7x5x16, TF32)", c.describe(DType.F32, true));
        }
    }

    /** cudaDataType: CUDA_R_16BF = 14, CUDA_R_16F = 2, CUDA_R_32F = 0; CUBLAS_COMPUTE_32F = 68. */
    @Test
    void halfWeightsGoToGemmExWithXRoundedToTheirDtypeAndF32Accumulation() {
        for (DType half : new DType[] {DType.BF16, DType.F16}) {
            try (Tensor xWide = Tensor.allocateHost(Shape.of(7, 20), DType.F32);
                 Tensor w = Tensor.allocateHost(Shape.of(5, 16), half);
                 Tensor y = Tensor.allocateHost(Shape.of(7, 5), DType.F32)) {
                GemmCall c = GemmCall.of(xWide.narrowColumns(3, 16), w, y);
                int type = half == DType.BF16 ? 14 : 2;
                // x's rounded copy is contiguous: ldx = k, whatever x's own stride.
                assertEquals(new GemmCall(7, 5, 16, 16, 16, 5, type, type, 0, 68, true), c);
                assertEquals("cublasGemmEx(7x5x16, " + half + " inputs, F32 accumulation)", c.describe(half, true));
            }
        }
    }

    @Test
    void shapesThatDoNotChainAndOtherDtypesAreRefused() {
        try (Tensor x = Tensor.allocateHost(Shape.of(2, 3), DType.F32);
             Tensor w = Tensor.allocateHost(Shape.of(4, 5), DType.F32);
             Tensor w64 = Tensor.allocateHost(Shape.of(4, 3), DType.F64);
             Tensor y = Tensor.allocateHost(Shape.of(2, 4), DType.F32)) {
            assertEquals("linear: x[2, 3] · w[4, 5]ᵀ → y[2, 4]",
                    assertThrows(IllegalArgumentException.class, () -> GemmCall.of(x, w, y)).getMessage());
            assertEquals("no cuBLAS GEMM for F64 weights",
                    assertThrows(IllegalArgumentException.class, () -> GemmCall.of(x, w64, y)).getMessage());
        }
    }
}
