package dev.tp4j.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tp4j.backend.cuda.CudaAvailability;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@code tp4j verify} on GPU ranks through the packaged command: tp 1 over NCCL, tp 2 and 4 sharing one
 * GPU over the TCP ring (staged through host memory). Runs only with {@code -Dgroups=gpu}; skips, saying
 * why, without a usable GPU. NOT YET RUN: the task that wrote it had no GPU.
 */
@Tag("gpu")
class GpuVerifyIT {

    @BeforeEach
    void needsGpu() {
        CudaAvailability cuda = CudaAvailability.get();
        assumeTrue(cuda.usable(), () -> "no usable CUDA device: " + cuda.reason());
    }

    @Test
    void tp1OverNccl() throws Exception {
        assumeTrue(CudaAvailability.get().ncclUsable(), () -> "NCCL not usable: " + CudaAvailability.get().ncclReason());
        Tp4jCommand.Result r = Tp4jCommand.run(300, "launch", "--nproc-per-node", "1", "--backend", "cuda", "--transport", "nccl",
                "verify");
        assertEquals(0, r.status(), r::all);
        assertTrue(r.out().contains("cuda:0"), r::all);
    }

    @Test
    void tp2And4ShareOneGpuOverTcp() throws Exception {
        for (String tp : new String[] {"2", "4"}) {
            Tp4jCommand.Result r = Tp4jCommand.run(300, "launch", "--nproc-per-node", tp, "--backend", "cuda",
                    "--transport", "tcp", "verify", "--hidden", "1000", "--ffn", "3001");
            assertEquals(0, r.status(), r::all);
            assertTrue(r.out().contains("staged through host memory"), r::all);
        }
    }

    /** The PyTorch-made Llama-style BF16 checkpoint (src/test/resources/interop) through mlp on GPU ranks. */
    @Test
    void mlpOnAPytorchCheckpoint(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Path fixture = Tp4jCommand.ROOT.resolve("src/test/resources/interop/llama_bf16_silu_gated");
        String prefix = "model.layers.0.mlp.";
        for (String[] ranksAndComm : new String[][] {{"1", "auto"}, {"2", "tcp"}}) {
            Tp4jCommand.Result r = Tp4jCommand.run(300, "launch", "--nproc-per-node", ranksAndComm[0], "--backend", "cuda",
                    "--transport", ranksAndComm[1], "mlp", "--checkpoint", fixture.resolve("model.safetensors").toString(),
                    "--up", prefix + "up_proj", "--gate", prefix + "gate_proj", "--down", prefix + "down_proj",
                    "--activation", "silu", "--input", fixture.resolve("input.safetensors").toString(),
                    "--output", dir.resolve("out" + ranksAndComm[0] + ".safetensors").toString(), "--verify");
            assertEquals(0, r.status(), r::all);
        }
    }

    @Test
    void gatedSiluOnTwoRanks() throws Exception {
        Tp4jCommand.Result r = Tp4jCommand.run(300, "launch", "--nproc-per-node", "2", "--backend", "cuda", "--transport", "tcp",
                "verify", "--activation", "silu", "--gated");
        assertEquals(0, r.status(), r::all);
    }
}
