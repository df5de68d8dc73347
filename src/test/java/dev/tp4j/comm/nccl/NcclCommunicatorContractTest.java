package dev.tp4j.comm.nccl;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tp4j.backend.cuda.CudaAvailability;
import dev.tp4j.backend.cuda.CudaBackend;
import dev.tp4j.comm.CommunicatorContract;
import dev.tp4j.testutil.CommGroup;
import dev.tp4j.testutil.Member;
import java.time.Duration;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;

/**
 * The communicator contract over NCCL, one rank (thread, CUDA backend, device tensors) per GPU of this
 * machine: tp 1 on one GPU, and each larger tp for which there are as many GPUs. Runs only with
 * {@code -Dgroups=gpu}; skips, saying why, where CUDA or NCCL is not usable. NOT YET RUN: the task that
 * wrote it had no GPU.
 */
@Tag("gpu")
class NcclCommunicatorContractTest extends CommunicatorContract {

    /** Per test (not once per class), so that every skipped test shows the reason in the report. */
    @BeforeEach
    void needsNccl() {
        CudaAvailability cuda = CudaAvailability.get();
        assumeTrue(cuda.ncclUsable(), () -> "NCCL not usable: " + cuda.ncclReason());
    }

    @Override
    protected CommGroup<NcclCommunicator> open(int worldSize, Duration timeout) {
        MapStore store = new MapStore();
        return new CommGroup<>() {
            @Override
            public int worldSize() {
                return worldSize;
            }

            @Override
            public Member<NcclCommunicator> join(int rank) {
                CudaBackend backend = new CudaBackend(CudaAvailability.get().devices().get(rank), false);
                try {
                    return new Member<>(NcclCommunicator.create(store, rank, worldSize, backend, timeout), backend, backend);
                } catch (RuntimeException e) {
                    backend.close();
                    throw e;
                }
            }

            @Override
            public void close() {
            }
        };
    }

    @Override
    protected Capability groupsOf(int worldSize) {
        int gpus = CudaAvailability.get().devices().size();
        return worldSize <= gpus ? Capability.SUPPORTED : Capability.unsupported("tp " + worldSize + " needs " + worldSize
                + " GPUs (NCCL takes one rank per device); this machine has " + gpus);
    }

    @Override
    protected Capability rankOrderSums() {
        return Capability.unsupported("NCCL picks its reduction order (ring or tree); every rank gets the same bits,"
                + " not those of the rank-order sum");
    }

    @Override
    protected Capability copiesOfAnyDType() {
        return Capability.unsupported("NcclCommunicator moves F32 tensors only");
    }

    @Override
    protected Capability argumentChecks() {
        return Capability.unsupported("NcclCommunicator checks device, dtype, contiguity and counts, but leaves the"
                + " broadcast root to NCCL, which fails the communicator instead of the call");
    }

    @Override
    protected Capability lostPeerDetection() {
        return Capability.unsupported("NCCL cannot tell which rank is gone: a survivor's collective ends at the"
                + " timeout with ncclCommAbort, naming no rank");
    }

    @Override
    protected Capability silentPeerDiagnosis() {
        return Capability.unsupported("NCCL reports a stuck collective after the timeout (in whole seconds),"
                + " naming no rank");
    }

    @Override
    protected Capability closeDuringCollective() {
        return Capability.unsupported("closing an NCCL communicator while another thread waits in one of its"
                + " collectives is not safe (ncclCommDestroy under a running kernel)");
    }
}
