package dev.tp4j.cli;

import dev.tp4j.backend.cpu.CpuBackend;
import dev.tp4j.comm.shm.ShmCommunicator;
import dev.tp4j.dist.BackendChoice;
import dev.tp4j.dist.LocalDevices;
import dev.tp4j.dist.TransportChoice;
import dev.tp4j.dist.WorkerEnvironment;
import java.io.PrintStream;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/**
 * {@code tp4j info}: what this machine offers tp4j — the JVM, OpenBLAS and its threads, the worker
 * environment it would run under, and what is missing for GPU ranks, and why. Needs no other rank.
 */
@Command(name = "info", description = "Show the runtime, the BLAS, the worker environment and the devices tp4j sees.")
public final class InfoCommand implements Callable<Integer> {

    @Override
    public Integer call() {
        PrintStream out = System.out;
        WorkerEnvironment env = WorkerEnvironment.fromSystem();
        out.println(new Main.Version().getVersion()[0]);
        out.println("  java:        " + System.getProperty("java.vm.name") + " " + Runtime.version() + " ("
                + System.getProperty("java.home") + ")");
        out.println("  cores:       " + Runtime.getRuntime().availableProcessors());
        try (CpuBackend cpu = new CpuBackend(CpuBackend.threadsPerRank(env.localWorldSize()))) {
            out.println("  cpu backend: " + cpu.describe() + " per rank with " + env.localWorldSize()
                    + " local " + (env.localWorldSize() == 1 ? "rank" : "ranks"));
        }
        out.println("  worker:      rank " + env.rank() + " of " + env.worldSize() + " (local " + env.localRank() + " of "
                + env.localWorldSize() + ", from " + env.source() + "), rendezvous " + env.masterAddr() + ":"
                + env.masterPort() + (env.jobToken() == null ? ", no job token" : ", job token set"));
        out.println("  backend:     " + BackendChoice.fromSystem() + " (" + BackendChoice.ENV + ")");
        int gpus = LocalDevices.cudaDeviceCount();
        out.println("  cuda:        " + gpus + " device" + (gpus == 1 ? "" : "s") + " visible"
                + " (CUDA_VISIBLE_DEVICES, /dev/nvidia*); this build has no CUDA backend yet, so ranks run on CPU");
        TransportChoice transport = TransportChoice.fromSystem();
        out.println("  collectives: " + switch (transport) {
            case auto -> "shared memory (" + ShmCommunicator.directory() + ") between ranks on one host, else tcp ring";
            case shm -> "shared memory (" + ShmCommunicator.directory() + "); ranks on different hosts are refused";
            case tcp -> "tcp ring between ranks";
        } + " (" + TransportChoice.ENV + "=" + transport + "; no NCCL in this build)");
        out.flush();
        return Main.EXIT_OK;
    }
}
