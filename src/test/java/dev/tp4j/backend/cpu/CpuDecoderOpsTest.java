package dev.tp4j.backend.cpu;

import dev.tp4j.backend.Backend;
import dev.tp4j.backend.DecoderOpsContract;

/** The decoder operations' contract on a CPU rank (OpenBLAS, one thread). */
class CpuDecoderOpsTest extends DecoderOpsContract {
    @Override
    protected Backend open() {
        return new CpuBackend(1);
    }
}
