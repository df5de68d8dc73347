package dev.tp4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.BadInputException;
import dev.tp4j.backend.cuda.CudaAvailability;
import dev.tp4j.backend.cuda.CudaDeviceInfo;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@code --transport auto|shm|tcp|hierarchical|nccl}: what one host's ranks can use (no GPU needed: machines are
 * described), and the decision all ranks reach from everyone's facts.
 */
class TransportChoiceTest {
    private static final CudaDeviceInfo GPU = new CudaDeviceInfo(0, "gpu", 1L << 30, 8, 0);
    private static final CudaAvailability ONE_GPU_NCCL = CudaAvailability.usable(List.of(GPU), null);
    private static final CudaAvailability ONE_GPU_NO_NCCL = CudaAvailability.usable(List.of(GPU),
            "cannot load NCCL: libnccl.so.2 (NCCL) not found on the library path");
    private static final CudaAvailability CPU_ONLY = CudaAvailability.unusable("cannot load the CUDA runtime bindings: "
            + "libcuda.so.1 (the NVIDIA driver's CUDA library) not found on the library path");

    private static final RankFacts GPU_A = new RankFacts("a/boot", null);
    private static final RankFacts GPU_B = new RankFacts("b/boot", null);
    private static final RankFacts CPU_A = new RankFacts("a/boot", "the ranks run on CPU");
    private static final RankFacts CPU_B = new RankFacts("b/boot", "the ranks run on CPU");

    @Test
    void ncclNeedsCudaRanksNcclAndAGpuPerRank() {
        assertTrue(TransportChoice.ncclProblem(BackendChoice.cpu, CPU_ONLY, 4).contains("libcuda.so.1"));
        assertEquals("the ranks run on CPU", TransportChoice.ncclProblem(BackendChoice.cpu, null, 4));
        assertNull(TransportChoice.ncclProblem(BackendChoice.cuda, ONE_GPU_NCCL, 1));
        assertEquals("2 ranks on this host but 1 GPU: NCCL refuses two ranks on one GPU",
                TransportChoice.ncclProblem(BackendChoice.cuda, ONE_GPU_NCCL, 2));
        assertTrue(TransportChoice.ncclProblem(BackendChoice.cuda, ONE_GPU_NO_NCCL, 1).contains("libnccl.so.2"));
    }

    @Test
    void theLauncherRefusesNcclWhereItCannotRunAndShmAcrossNodes() {
        BadInputException cpu = assertThrows(BadInputException.class,
                () -> TransportChoice.nccl.checkBeforeLaunch(BackendChoice.cpu, CPU_ONLY, 1, 1));
        assertTrue(cpu.getMessage().startsWith("--transport nccl: the ranks run on CPU"), cpu.getMessage());
        BadInputException shared = assertThrows(BadInputException.class,
                () -> TransportChoice.nccl.checkBeforeLaunch(BackendChoice.cuda, ONE_GPU_NCCL, 2, 1));
        assertTrue(shared.getMessage().contains("NCCL refuses two ranks on one GPU"), shared.getMessage());
        BadInputException nodes = assertThrows(BadInputException.class,
                () -> TransportChoice.shm.checkBeforeLaunch(BackendChoice.cpu, null, 2, 2));
        assertEquals("--transport shm needs every rank on one host, but the job spans 2 nodes; use --transport auto, hierarchical or tcp",
                nodes.getMessage());
        for (TransportChoice ok : List.of(TransportChoice.auto, TransportChoice.tcp, TransportChoice.shm)) {
            ok.checkBeforeLaunch(BackendChoice.cuda, ONE_GPU_NCCL, 4, 1); // the workers decide, nothing to refuse
        }
        TransportChoice.nccl.checkBeforeLaunch(BackendChoice.cuda, ONE_GPU_NCCL, 1, 2);
    }

    @Test
    void autoIsNcclWhenEveryRankHasAGpuElseShmOnOneHostElseTcp() {
        assertEquals(TransportChoice.nccl, TransportAgreement.decide(TransportChoice.auto, 0, new RankFacts[] {GPU_A}));
        assertEquals(TransportChoice.nccl, TransportAgreement.decide(TransportChoice.auto, 1, new RankFacts[] {GPU_A, GPU_B}));
        assertEquals(TransportChoice.shm, TransportAgreement.decide(TransportChoice.auto, 0, new RankFacts[] {CPU_A, CPU_A}));
        assertEquals(TransportChoice.shm, TransportAgreement.decide(TransportChoice.auto, 0, new RankFacts[] {GPU_A, CPU_A}),
                "one rank without NCCL takes every rank off it");
        assertEquals(TransportChoice.tcp, TransportAgreement.decide(TransportChoice.auto, 0, new RankFacts[] {CPU_A, CPU_B}));
        assertEquals(TransportChoice.tcp, TransportAgreement.decide(TransportChoice.auto, 0, new RankFacts[] {CPU_A}),
                "one CPU rank alone shares memory with nobody");
    }

    @Test
    void autoIsHierarchicalWhenSeveralHostsAndSomeHostHoldsSeveralRanks() {
        RankFacts[] twoByTwo = {CPU_A, CPU_A, CPU_B, CPU_B};
        RankFacts[] interleaved = {CPU_A, CPU_B, CPU_A};
        for (int r = 0; r < twoByTwo.length; r++) {
            assertEquals(TransportChoice.hierarchical, TransportAgreement.decide(TransportChoice.auto, r, twoByTwo),
                    "rank " + r + " of 2 hosts x 2 ranks");
        }
        assertEquals(TransportChoice.hierarchical, TransportAgreement.decide(TransportChoice.auto, 1, interleaved),
                "a host's ranks need not be consecutive");
        assertEquals(TransportChoice.tcp, TransportAgreement.decide(TransportChoice.auto, 0, new RankFacts[] {CPU_A, CPU_B}),
                "one rank per host: nothing to share, the flat ring");
        assertEquals(TransportChoice.tcp, TransportAgreement.decide(TransportChoice.tcp, 0, twoByTwo),
                "tcp asked stays the flat ring, so the two can be compared");
        assertEquals(TransportChoice.hierarchical, TransportAgreement.decide(TransportChoice.hierarchical, 0, twoByTwo));
        assertEquals(TransportChoice.nccl, TransportAgreement.decide(TransportChoice.auto, 0,
                new RankFacts[] {GPU_A, GPU_A, GPU_B, GPU_B}), "GPUs of their own on every rank still mean NCCL");
    }

    @Test
    void everyRankReachesTheSameDecision() {
        RankFacts[] mixed = {GPU_A, GPU_A, CPU_B};
        for (TransportChoice asked : List.of(TransportChoice.auto, TransportChoice.tcp, TransportChoice.hierarchical)) {
            TransportChoice first = TransportAgreement.decide(asked, 0, mixed);
            for (int r = 1; r < mixed.length; r++) {
                assertEquals(first, TransportAgreement.decide(asked, r, mixed), asked + " on rank " + r);
            }
        }
    }

    @Test
    void anExplicitChoiceThatSomeRankCannotServeNamesThatRank() {
        BadInputException nccl = assertThrows(BadInputException.class,
                () -> TransportAgreement.decide(TransportChoice.nccl, 0, new RankFacts[] {GPU_A, CPU_B}));
        assertEquals("TP4J_TRANSPORT=nccl: rank 1 cannot use NCCL: the ranks run on CPU; use auto, shm or tcp",
                nccl.getMessage());
        BadInputException shm = assertThrows(BadInputException.class,
                () -> TransportAgreement.decide(TransportChoice.shm, 0, new RankFacts[] {CPU_A, CPU_B}));
        assertEquals("TP4J_TRANSPORT=shm needs every rank on one host, but rank 1 runs on b (boot) and rank 0 on a (boot)"
                + " (use auto, hierarchical or tcp)", shm.getMessage());
        assertEquals(TransportChoice.tcp, TransportAgreement.decide(TransportChoice.tcp, 0, new RankFacts[] {GPU_A, GPU_B}));
    }

    @Test
    void factsSurviveTheStoreEncodingWhateverTheHostIdHolds() {
        RankFacts odd = new RankFacts("host\nwith/new\nlines", "a reason\nover two lines");
        RankFacts back = RankFacts.decode(odd.encode());
        assertEquals("host\nwith/new\nlines", back.hostId());
        assertEquals("a reason over two lines", back.ncclProblem());
        assertEquals(GPU_A, RankFacts.decode(GPU_A.encode()));
        RankFacts withGpu = new RankFacts("host\nid", null, "GPU-01234567-89ab-cdef-0123-456789abcdef");
        assertEquals(withGpu, RankFacts.decode(withGpu.encode()));
    }

    @Test
    void ranksThatEachSeeOneGpuUseNcclWhenTheGpusDiffer() {
        // srun --gpus-per-task=1: every rank sees one device numbered 0, its own; one rank alone has no problem.
        assertNull(TransportChoice.ncclProblemOfOneRank(BackendChoice.cuda, ONE_GPU_NCCL));
        RankFacts first = new RankFacts("a/boot", null, "GPU-0000000a");
        RankFacts second = new RankFacts("a/boot", null, "GPU-0000000b");
        assertEquals(TransportChoice.nccl, TransportAgreement.decide(TransportChoice.auto, 0, new RankFacts[] {first, second}));
        assertEquals(TransportChoice.nccl, TransportAgreement.decide(TransportChoice.nccl, 1, new RankFacts[] {first, second}));
        // The same GPU on two hosts is two GPUs.
        RankFacts sameIdOtherHost = new RankFacts("b/boot", null, "GPU-0000000a");
        assertEquals(TransportChoice.nccl,
                TransportAgreement.decide(TransportChoice.auto, 0, new RankFacts[] {first, sameIdOtherHost}));
    }

    @Test
    void ranksOnOneGpuAreRefusedNcclByName() {
        RankFacts[] shared = {new RankFacts("a/boot", null, "GPU-0000000b"), new RankFacts("a/boot", null, "GPU-0000000a"),
            new RankFacts("a/boot", null, "GPU-0000000b")};
        assertEquals(TransportChoice.shm, TransportAgreement.decide(TransportChoice.auto, 1, shared));
        BadInputException nccl = assertThrows(BadInputException.class,
                () -> TransportAgreement.decide(TransportChoice.nccl, 1, shared));
        assertEquals("TP4J_TRANSPORT=nccl: ranks 0 and 2 compute on the same GPU (GPU-0000000b on a (boot)): NCCL refuses"
                + " two ranks on one GPU; use auto, shm or tcp", nccl.getMessage());
    }

    @Test
    void aGpuIsNamedByItsUuidAsNvidiaSmiPrintsIt() {
        byte[] bytes = new byte[16];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = (byte) (0xf0 + i);
        }
        assertEquals("GPU-f0f1f2f3-f4f5-f6f7-f8f9-fafbfcfdfeff", CudaDeviceInfo.uuidText(bytes));
        assertEquals("GPU-f0f1f2f3-f4f5-f6f7-f8f9-fafbfcfdfeff",
                ProcessGroup.gpuIdentity(new CudaDeviceInfo(3, "gpu", 1, 9, 0, CudaDeviceInfo.uuidText(bytes))));
        assertEquals("cuda:3", ProcessGroup.gpuIdentity(new CudaDeviceInfo(3, "gpu", 1, 9, 0)));
    }

    @Test
    void readFromTheEnvironment() {
        assertEquals(TransportChoice.auto, TransportChoice.fromEnvironment(Map.of()));
        assertEquals(TransportChoice.nccl, TransportChoice.fromEnvironment(Map.of(TransportChoice.ENV, " NCCL ")));
        assertThrows(BadInputException.class, () -> TransportChoice.fromEnvironment(Map.of(TransportChoice.ENV, "mpi")));
    }
}
