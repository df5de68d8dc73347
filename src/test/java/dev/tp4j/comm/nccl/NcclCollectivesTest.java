package dev.tp4j.comm.nccl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tp4j.backend.cpu.CpuBackend;
import dev.tp4j.tensor.Partition;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import dev.tp4j.testutil.RankThreads;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link NcclCollectives} (what the NCCL communicator does around NCCL) on CPU ranks as threads, with
 * {@link HostNccl} standing in for NCCL. The buffers are slices at an offset inside larger tensors, so a
 * pointer positioned in floats instead of bytes (issue 12) reads and writes the wrong elements; counts
 * are uneven for tp &gt; 1, so the padding and compaction run; tp 1 checks the out-of-place copies.
 */
class NcclCollectivesTest {

    /**
     * NCCL's four collectives on host memory between ranks that are threads of this JVM: every call meets
     * the other ranks at a barrier and reads their buffers through {@code Pointer.memcpy}, i.e. with the
     * bindings' {@code void*} rule (raw position added as bytes).
     */
    static final class HostNccl {
        private final CyclicBarrier barrier;
        private final Pointer[] sends;
        final AtomicInteger calls = new AtomicInteger();

        HostNccl(int worldSize) {
            barrier = new CyclicBarrier(worldSize);
            sends = new Pointer[worldSize];
        }

        NcclCollectives.Calls rank(int rank) {
            return new NcclCollectives.Calls() {
                @Override
                public void allReduce(Pointer send, Pointer recv, long count) {
                    meet(rank, send);
                    float[] sum = new float[(int) count];
                    for (Pointer s : sends) {
                        float[] v = read(s, 0, count);
                        for (int i = 0; i < sum.length; i++) {
                            sum[i] += v[i];
                        }
                    }
                    await(); // everyone has read before anyone writes (in place)
                    write(recv, 0, sum);
                    await();
                }

                @Override
                public void allGather(Pointer send, Pointer recv, long sendCount) {
                    meet(rank, send);
                    for (int q = 0; q < sends.length; q++) {
                        write(recv, q * sendCount, read(sends[q], 0, sendCount));
                    }
                    await();
                }

                @Override
                public void reduceScatter(Pointer send, Pointer recv, long recvCount) {
                    meet(rank, send);
                    float[] sum = new float[(int) recvCount];
                    for (Pointer s : sends) {
                        float[] v = read(s, rank * recvCount, recvCount);
                        for (int i = 0; i < sum.length; i++) {
                            sum[i] += v[i];
                        }
                    }
                    await();
                    write(recv, 0, sum);
                    await();
                }

                @Override
                public void broadcast(Pointer send, Pointer recv, long count, int root) {
                    meet(rank, send);
                    float[] v = read(sends[root], 0, count);
                    await();
                    write(recv, 0, v);
                    await();
                }
            };
        }

        private void meet(int rank, Pointer send) {
            calls.incrementAndGet();
            sends[rank] = send;
            await();
        }

        private void await() {
            try {
                barrier.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException | BrokenBarrierException | TimeoutException e) {
                throw new IllegalStateException("host NCCL stand-in: a rank did not arrive", e);
            }
        }

        /** {@code count} floats from {@code (char*) p + first * 4}, read as a {@code void*} parameter reads. */
        private static float[] read(Pointer p, long first, long count) {
            float[] out = new float[(int) count];
            try (FloatPointer tmp = new FloatPointer(Math.max(1, count))) {
                Pointer.memcpy(tmp, new Pointer(p).position(p.position() + first * Float.BYTES), count * Float.BYTES);
                tmp.get(out);
            }
            return out;
        }

        private static void write(Pointer p, long first, float[] v) {
            try (FloatPointer tmp = new FloatPointer(Math.max(1, v.length))) {
                tmp.put(v);
                Pointer.memcpy(new Pointer(p).position(p.position() + first * Float.BYTES), tmp, (long) v.length * Float.BYTES);
            }
        }
    }

    private static float[] values(int rank, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = rank * 1000 + i + 1; // small integers: sums are exact in any order
        }
        return v;
    }

    /** A tensor of {@code n} elements at element offset 3 of a larger host buffer, filled with -7. */
    private static Tensor atAnOffset(Tensor buffer, int n) {
        float[] fill = new float[Math.toIntExact(buffer.numel())];
        java.util.Arrays.fill(fill, -7f);
        buffer.floatBuffer().put(0, fill);
        return buffer.slice(3, n);
    }

    @ParameterizedTest(name = "tp={0}")
    @ValueSource(ints = {1, 2, 3, 4})
    void collectivesOnSlicesAtAnOffsetWithUnevenCounts(int tp) throws Exception {
        int n = 4 * tp + (tp > 1 ? 1 : 0) + 2; // uneven for tp > 1
        Partition part = new Partition(n, tp);
        long[] counts = new long[tp];
        for (int r = 0; r < tp; r++) {
            counts[r] = part.count(r);
        }
        HostNccl nccl = new HostNccl(tp);
        List<float[][]> results = RankThreads.run(tp, Duration.ofSeconds(60), rank -> {
            try (CpuBackend backend = new CpuBackend(1);
                 NcclCollectives c = new NcclCollectives(rank, tp, backend, nccl.rank(rank));
                 Tensor b1 = Tensor.allocateHost(Shape.of(n + 6), dev.tp4j.tensor.DType.F32);
                 Tensor b2 = Tensor.allocateHost(Shape.of(n + 6), dev.tp4j.tensor.DType.F32);
                 Tensor b3 = Tensor.allocateHost(Shape.of(n + 6), dev.tp4j.tensor.DType.F32);
                 Tensor b4 = Tensor.allocateHost(Shape.of(n + 6), dev.tp4j.tensor.DType.F32);
                 Tensor b5 = Tensor.allocateHost(Shape.of(n + 6), dev.tp4j.tensor.DType.F32);
                 Tensor b6 = Tensor.allocateHost(Shape.of(n + 6), dev.tp4j.tensor.DType.F32)) {
                Tensor reduced = atAnOffset(b1, n);
                reduced.floatBuffer().put(0, values(rank, n));
                c.allReduce(reduced);

                Tensor local = atAnOffset(b2, part.intCount(rank));
                local.floatBuffer().put(0, values(rank, part.intCount(rank)));
                Tensor gathered = atAnOffset(b3, n);
                c.allGather(local, gathered, counts);

                Tensor input = atAnOffset(b4, n);
                input.floatBuffer().put(0, values(rank, n));
                Tensor mine = atAnOffset(b5, part.intCount(rank));
                c.reduceScatter(input, mine);

                Tensor bcast = atAnOffset(b6, n);
                bcast.floatBuffer().put(0, values(rank, n));
                c.broadcast(bcast, tp - 1);

                // The elements around each view were left alone.
                for (Tensor b : new Tensor[] {b1, b2, b3, b4, b5, b6}) {
                    float[] all = b.toFloatArray();
                    assertEquals(-7f, all[2], "the element before a view, rank " + rank);
                }
                float[] gatheredAll = b3.toFloatArray();
                assertEquals(-7f, gatheredAll[3 + n], "the element after the gathered view, rank " + rank);
                return new float[][] {reduced.toFloatArray(), gathered.toFloatArray(), mine.toFloatArray(),
                        bcast.toFloatArray()};
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

    /** Issue 12: at one rank, all_gather and reduce_scatter still copy their input to their output. */
    @Test
    void oneRankCopiesTheOutOfPlaceCollectives() {
        HostNccl nccl = new HostNccl(1);
        try (CpuBackend backend = new CpuBackend(1);
             NcclCollectives c = new NcclCollectives(0, 1, backend, nccl.rank(0));
             Tensor local = Tensor.hostOf(Shape.of(2, 3), values(0, 6));
             Tensor gathered = Tensor.allocateHost(Shape.of(6), dev.tp4j.tensor.DType.F32);
             Tensor output = Tensor.allocateHost(Shape.of(6), dev.tp4j.tensor.DType.F32)) {
            c.allGather(local, gathered, new long[] {6});
            assertArrayEquals(values(0, 6), gathered.toFloatArray());
            c.reduceScatter(local, output);
            assertArrayEquals(values(0, 6), output.toFloatArray());
            c.allReduce(local);
            c.broadcast(local, 0);
            assertArrayEquals(values(0, 6), local.toFloatArray());
        }
    }

    @Test
    void countsThatDoNotMatchAreRefusedNamingTheRank() {
        try (CpuBackend backend = new CpuBackend(1);
             NcclCollectives c = new NcclCollectives(1, 2, backend, new HostNccl(2).rank(1));
             Tensor local = Tensor.allocateHost(Shape.of(3), dev.tp4j.tensor.DType.F32);
             Tensor gathered = Tensor.allocateHost(Shape.of(5), dev.tp4j.tensor.DType.F32)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> c.allGather(local, gathered, new long[] {3, 2}));
            assertEquals("all_gather on rank 1: counts [3, 2] do not match the input Tensor[3] F32 on cpu and the output "
                    + "Tensor[5] F32 on cpu", e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> c.broadcast(local, 2));
        }
    }
}
