package dev.tp4j.backend.cuda;

import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Tensor;
import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;

/**
 * The cuBLAS call for the row-major {@code y = x·wᵀ}: computed as the column-major {@code yᵀ = w·xᵀ},
 * i.e. {@code gemm(OP_T, OP_N, n, m, k, α, w, ldw, x, ldx, β, y, ldy)}, so that no transpose is copied and
 * column windows (ld &gt; cols) are used in place. F32 weights go to {@code cublasSgemm}; BF16/F16 weights
 * to {@code cublasGemmEx} with {@code x} first rounded into a contiguous {@code [m, k]} matrix of the
 * weights' dtype ({@code convertX}: mixed input types are not a cuBLAS combination) and {@code y} in F32,
 * accumulated in F32 ({@code CUBLAS_COMPUTE_32F}). Pure Java, so CPU tests pin it (GemmCallTest).
 *
 * @param aType the cudaDataType of {@code w} (the column-major A), {@code bType} that of the B operand
 *              ({@code x}, or its rounded copy), {@code cType} that of {@code y}
 */
record GemmCall(int m, int n, int k, int ldw, int ldx, int ldy, int aType, int bType, int cType, int computeType,
                boolean convertX) {

    static GemmCall of(Tensor x, Tensor w, Tensor y) {
        int m = x.rows();
        int k = x.cols();
        int n = w.rows();
        if (w.cols() != k || y.rows() != m || y.cols() != n) {
            throw new IllegalArgumentException("linear: x" + x.shape() + " · w" + w.shape() + "ᵀ → y" + y.shape());
        }
        if (x.dtype() != DType.F32 || y.dtype() != DType.F32) {
            throw new IllegalArgumentException("linear: x " + x.dtype() + " and y " + y.dtype() + " must be F32");
        }
        int type = dataType(w.dtype());
        boolean half = w.dtype() != DType.F32;
        return new GemmCall(m, n, k, w.rowStride(), half ? k : x.rowStride(), y.rowStride(), type, type,
                cudart.CUDA_R_32F, cublas.CUBLAS_COMPUTE_32F, half);
    }

    /** cuBLAS's {@code cudaDataType} for a weight dtype. */
    static int dataType(DType dtype) {
        switch (dtype) {
            case F32:
                return cudart.CUDA_R_32F;
            case BF16:
                return cudart.CUDA_R_16BF;
            case F16:
                return cudart.CUDA_R_16F;
            default:
                throw new IllegalArgumentException("no cuBLAS GEMM for " + dtype + " weights");
        }
    }

    /** For messages: {@code cublasGemmEx(8x512x2048, BF16 · F32 accumulate)}. */
    String describe(DType weights, boolean tf32) {
        String dims = m + "x" + n + "x" + k;
        return convertX ? "cublasGemmEx(" + dims + ", " + weights + " inputs, F32 accumulation)"
                : "cublasSgemm(" + dims + (tf32 ? ", TF32)" : ")");
    }
}
