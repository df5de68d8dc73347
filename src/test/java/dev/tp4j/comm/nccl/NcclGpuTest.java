package dev.tp4j.comm.nccl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tp4j.backend.cuda.CudaAvailability;
import dev.tp4j.backend.cuda.CudaBackend;
import dev.tp4j.comm.CollectiveOp;
import dev.tp4j.comm.CommStats;
import dev.tp4j.rendezvous.RendezvousStore;
import dev.tp4j.rendezvous.StoreTimeoutException;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Partition;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import dev.tp4j.testutil.RankThreads;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * NCCL collectives between the GPUs of this machine, one rank (thread, CUDA backend) per GPU, up to 4;
 * with one GPU it is tp 1 (setup and the single-rank paths). Runs only with {@code -Dgroups=gpu}; skips,
 * saying why, where CUDA or NCCL is not usable. NOT YET RUN: the task that wrote it had no GPU.
 */
@Tag("gpu")
class NcclGpuTest {
    private static int tp;

    @BeforeEach
    void needsNccl() {
        CudaAvailability cuda = CudaAvailability.get();
        assumeTrue(cuda.ncclUsable(), () -> "NCCL not usable: " + cuda.ncclReason());
        tp = Math.min(4, cuda.devices().size());
    }

    /** The rendezvous store as a map: enough for ranks that are threads of one JVM. */
    static final class MapStore implements RendezvousStore {
        private final Map<String, byte[]> map = new ConcurrentHashMap<>();

        @Override
        public synchronized void set(String key, byte[] value) {
            map.put(key, value);
            notifyAll();
        }

        @Override
        public synchronized byte[] get(String key, Duration timeout) {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (!map.containsKey(key)) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new StoreTimeoutException(key, timeout);
                }
                try {
                    wait(Math.max(1, left / 1_000_000));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException(e);
                }
            }
            return map.get(key);
        }

        @Override
        public synchronized long add(String key, long delta) {
            long v = map.containsKey(key) ? Long.parseLong(new String(map.get(key))) + delta : delta;
            set(key, Long.toString(v).getBytes());
            return v;
        }

        @Override
        public synchronized byte[] setIfAbsent(String key, byte[] value) {
            map.putIfAbsent(key, value);
            notifyAll();
            return map.get(key);
        }

        @Override
        public boolean contains(String key) {
            return map.containsKey(key);
        }

        @Override
        public void close() {
        }
    }

    private static float[] values(int rank, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = rank * 1000 + i; // small integers: sums are exact in any order
        }
        return v;
    }

    @Test
    void collectivesMatchTheirDefinitionsWithUnevenCounts() throws Exception {
        MapStore store = new MapStore();
        CudaAvailability cuda = CudaAvailability.get();
        int n = 4 * tp + 1; // uneven for tp > 1
        Partition part = new Partition(n, tp);
        List<float[][]> results = RankThreads.run(tp, Duration.ofSeconds(120), rank -> {
            try (CudaBackend backend = new CudaBackend(cuda.devices().get(rank), false);
                 NcclCommunicator comm = NcclCommunicator.create(store, rank, tp, backend, Duration.ofSeconds(60));
                 Tensor buf = backend.allocate(Shape.of(n), DType.F32);
                 Tensor local = backend.allocate(Shape.of(part.count(rank)), DType.F32);
                 Tensor gathered = backend.allocate(Shape.of(n), DType.F32);
                 Tensor input = backend.allocate(Shape.of(n), DType.F32);
                 Tensor mine = backend.allocate(Shape.of(part.count(rank)), DType.F32);
                 Tensor bcast = backend.allocate(Shape.of(n), DType.F32)) {
                CommStats.Snapshot before = comm.stats().snapshot();
                backend.copyFromHost(values(rank, n), buf);
                comm.allReduce(buf);
                backend.copyFromHost(values(rank, part.intCount(rank)), local);
                long[] counts = new long[tp];
                for (int r = 0; r < tp; r++) {
                    counts[r] = part.count(r);
                }
                comm.allGather(local, gathered, counts);
                backend.copyFromHost(values(rank, n), input);
                comm.reduceScatter(input, mine);
                backend.copyFromHost(values(rank, n), bcast);
                comm.broadcast(bcast, tp - 1);
                comm.barrier();
                assertEquals(1, comm.stats().since(before).count(CollectiveOp.ALL_REDUCE));
                assertEquals(1, comm.stats().since(before).count(CollectiveOp.ALL_GATHER));
                return new float[][] {backend.copyToHost(buf), backend.copyToHost(gathered), backend.copyToHost(mine),
                        backend.copyToHost(bcast)};
            }
        });
        float[] sum = new float[n];
        for (int r = 0; r < tp; r++) {
            float[] v = values(r, n);
            for (int i = 0; i < n; i++) {
                sum[i] += v[i];
            }
        }
        float[] gathered = new float[n];
        for (int r = 0, off = 0; r < tp; off += part.intCount(r), r++) {
            System.arraycopy(values(r, part.intCount(r)), 0, gathered, off, part.intCount(r));
        }
        for (int r = 0; r < tp; r++) {
            float[][] got = results.get(r);
            assertArrayEquals(sum, got[0], "all_reduce, rank " + r);
            assertArrayEquals(gathered, got[1], "all_gather, rank " + r);
            float[] chunk = new float[part.intCount(r)];
            System.arraycopy(sum, part.intOffset(r), chunk, 0, chunk.length);
            assertArrayEquals(chunk, got[2], "reduce_scatter, rank " + r);
            assertArrayEquals(values(tp - 1, n), got[3], "broadcast, rank " + r);
        }
    }
}
