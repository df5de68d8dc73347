package dev.tp4j.tensor;

import java.util.Locale;

/** Element types: the three a checkpoint may hold, plus F64 for references. Names follow safetensors. */
public enum DType {
    F32(4), F16(2), BF16(2), F64(8);

    private final int byteSize;

    DType(int byteSize) {
        this.byteSize = byteSize;
    }

    public int byteSize() {
        return byteSize;
    }

    /** The safetensors spelling ("F32", "BF16", ...). */
    public String safetensorsName() {
        return name();
    }

    /** Parses a safetensors dtype name; null when it is not one tp4j reads. */
    public static DType fromSafetensorsName(String name) {
        if (name == null) {
            return null;
        }
        try {
            return valueOf(name.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            return null;
        }
    }
}
