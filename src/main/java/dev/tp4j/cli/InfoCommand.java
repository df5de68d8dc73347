package dev.tp4j.cli;

import dev.tp4j.backend.cpu.CpuBackend;
import dev.tp4j.backend.cuda.CudaAvailability;
import dev.tp4j.backend.cuda.CudaDeviceInfo;
import dev.tp4j.backend.cuda.SystemLibraries;
import dev.tp4j.comm.shm.ShmCommunicator;
import dev.tp4j.runtime.BackendChoice;
import dev.tp4j.launch.LocalDevices;
import dev.tp4j.runtime.TransportChoice;
import dev.tp4j.runtime.WorkerEnvironment;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/**
 * {@code tp4j info}: what this machine offers tp4j — the JVM, OpenBLAS and its threads, the worker
 * environment it would run under, and what is missing for GPU ranks, and why. Needs no other rank.
 */
@Command(name = "info", description = "Show the runtime, the BLAS, the worker environment and the devices tp4j sees.")
public final class InfoCommand implements Callable<Integer> {

    /**
     * The CUDA part: devices, versions, and what is missing. {@code deviceFiles} is the count of visible
     * devices from CUDA_VISIBLE_DEVICES or /dev/nvidia* (without touching the driver).
     */
    static void printCuda(PrintStream out, CudaAvailability cuda, int deviceFiles) {
        if (cuda.usable()) {
            out.println("  cuda:        " + cuda.devices().size() + " device" + (cuda.devices().size() == 1 ? "" : "s")
                    + ", driver " + cuda.driverVersion() + ", runtime " + cuda.runtimeVersion() + ", cuBLAS "
                    + cuda.cublasVersion() + ", NVRTC " + cuda.nvrtcVersion()
                    + " (CUDA backend built but not yet validated on a GPU: docs/gpu-validation.md)");
            for (CudaDeviceInfo d : cuda.devices()) {
                out.println("               " + d);
            }
        } else {
            out.println("  cuda:        not usable: " + cuda.reason());
            out.println("               " + deviceFiles + " device" + (deviceFiles == 1 ? "" : "s")
                    + " visible by CUDA_VISIBLE_DEVICES and /dev/nvidia*"
                    + (cuda.driverVersion() != null ? ", driver " + cuda.driverVersion() : "")
                    + (cuda.runtimeVersion() != null ? ", runtime " + cuda.runtimeVersion() : "")
                    + "; --backend auto runs CPU ranks, --backend cuda exits 2");
            out.println("               libraries: " + libraries(SystemLibraries.locate(
                    SystemLibraries.required(SystemLibraries.bindingsMajor()), SystemLibraries.searchPath())));
        }
        if (cuda.ncclUsable()) {
            out.println("  nccl:        NCCL " + cuda.ncclVersion() + " between GPU ranks (--transport nccl)");
        } else {
            out.println("  nccl:        not usable: " + cuda.ncclReason());
        }
    }

    /** e.g. "found libcudart.so.13; missing libcuda.so.1, libnccl.so.2". */
    static String libraries(java.util.Map<String, java.nio.file.Path> located) {
        java.util.List<String> found = new java.util.ArrayList<>();
        java.util.List<String> missing = new java.util.ArrayList<>();
        located.forEach((name, dir) -> (dir == null ? missing : found).add(name));
        return (found.isEmpty() ? "" : "found " + String.join(", ", found) + (missing.isEmpty() ? "" : "; "))
                + (missing.isEmpty() ? "" : "missing " + String.join(", ", missing))
                + " (by file name on the library path)";
    }

    /**
     * Whether large native buffers get transparent huge pages: the kernel's mode, and whether glibc's malloc
     * asks for them (bin/tp4j sets {@code glibc.malloc.hugetlb=1} unless told otherwise).
     */
    static String hugePages(String tunables, Path thpMode) {
        String mode;
        try {
            String line = Files.readString(thpMode).trim();
            int open = line.indexOf('[');
            int close = line.indexOf(']');
            mode = open >= 0 && close > open ? line.substring(open + 1, close) : line;
        } catch (IOException | RuntimeException e) {
            mode = "unknown (" + thpMode + " unreadable)";
        }
        String hugetlb = null;
        if (tunables != null) {
            for (String setting : tunables.split(":")) {
                if (setting.startsWith("glibc.malloc.hugetlb=")) {
                    hugetlb = setting.substring("glibc.malloc.hugetlb=".length());
                }
            }
        }
        boolean asked = hugetlb != null && !hugetlb.equals("0");
        return "kernel mode " + mode + "; malloc asks for them: " + (asked ? "yes" : "no")
                + " (GLIBC_TUNABLES glibc.malloc.hugetlb=" + (hugetlb == null ? "unset" : hugetlb) + ")"
                + (asked && mode.equals("never") ? "; the kernel gives none" : "");
    }

    @Override
    public Integer call() {
        PrintStream out = System.out;
        WorkerEnvironment env = WorkerEnvironment.fromSystem();
        out.println(new Main.Version().getVersion()[0]);
        out.println("  java:        " + System.getProperty("java.vm.name") + " " + Runtime.version() + " ("
                + System.getProperty("java.home") + ")");
        out.println("  cores:       " + Runtime.getRuntime().availableProcessors());
        out.println("  huge pages:  " + hugePages(System.getenv("GLIBC_TUNABLES"),
                Path.of("/sys/kernel/mm/transparent_hugepage/enabled")));
        try (CpuBackend cpu = new CpuBackend(CpuBackend.threadsPerRank(env.localWorldSize()))) {
            out.println("  cpu backend: " + cpu.describe() + " per rank with " + env.localWorldSize()
                    + " local " + (env.localWorldSize() == 1 ? "rank" : "ranks"));
        }
        out.println("  worker:      rank " + env.rank() + " of " + env.worldSize() + " (local " + env.localRank() + " of "
                + env.localWorldSize() + ", from " + env.source() + "), rendezvous " + env.masterAddr() + ":"
                + env.masterPort() + (env.jobToken() == null ? ", no job token" : ", job token set"));
        out.println("  backend:     " + BackendChoice.fromSystem() + " (" + BackendChoice.ENV + ")");
        printCuda(out, CudaAvailability.get(), LocalDevices.cudaDeviceCount());
        TransportChoice transport = TransportChoice.fromSystem();
        out.println("  collectives: " + switch (transport) {
            case auto -> "NCCL when every rank has its own GPU, else shared memory (" + ShmCommunicator.directory()
                    + ") between ranks on one host, else hierarchical (shared memory inside each host, tcp between"
                    + " hosts) when a host holds several ranks, else tcp ring";
            case shm -> "shared memory (" + ShmCommunicator.directory() + "); ranks on different hosts are refused";
            case tcp -> "tcp ring between ranks";
            case hierarchical -> "shared memory inside each host, tcp ring between one leader per host";
            case nccl -> "NCCL between GPU ranks, one per GPU";
        } + " (" + TransportChoice.ENV + "=" + transport + ")");
        out.flush();
        return Main.EXIT_OK;
    }
}
