package dev.tp4j.io;

import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;

/**
 * One tensor's header entry, validated: its stored dtype and shape, and where its bytes lie in the
 * data section ({@code [dataBegin, dataEnd)}, relative to the first byte after the header, as the
 * safetensors {@code data_offsets} are).
 */
public record TensorInfo(String name, DType dtype, Shape shape, long dataBegin, long dataEnd) {

    /** Bytes the tensor occupies in the file (elements × stored element size). */
    public long byteSize() {
        return dataEnd - dataBegin;
    }

    public long numel() {
        return shape.numel();
    }
}
