package dev.tp4j.comm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tp4j.backend.Backend;
import dev.tp4j.backend.Activation;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Device;
import dev.tp4j.tensor.Partition;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;
import dev.tp4j.testing.InMemoryGroup;
import java.util.List;
import org.bytedeco.javacpp.BytePointer;
import org.junit.jupiter.api.Test;

/**
 * The TCP path for CUDA ranks, without a GPU: a stand-in backend whose tensors say "cuda:0" (so the
 * host communicator could not touch them) but live in host memory, reachable only through the
 * backend's copies, as device memory is. Every collective must stage in, run, and stage back.
 */
class HostStagedCommunicatorTest {

    /** Tensors marked cuda:0, held in host memory; only copyToHost/copyFromHost reach their values. */
    static final class PretendDeviceBackend implements Backend {
        int copiesIn;
        int copiesOut;

        @Override
        public Device device() {
            return Device.cuda(0);
        }

        @Override
        public Tensor allocate(Shape shape, DType dtype) {
            BytePointer mem = new BytePointer(Math.max(1, shape.numel() * dtype.byteSize()));
            mem.zero();
            return Tensor.wrap(mem, shape, dtype, device());
        }

        @Override
        public void copyFromHost(float[] src, Tensor dst) {
            assertEquals(dst.numel(), src.length);
            copiesIn++;
            dst.floatPointer().put(src, 0, src.length);
        }

        @Override
        public float[] copyToHost(Tensor src) {
            copiesOut++;
            float[] out = new float[Math.toIntExact(src.numel())];
            src.floatPointer().get(out, 0, out.length);
            return out;
        }

        @Override
        public void copy(Tensor src, Tensor dst) {
            copyFromHost(copyToHost(src), dst);
        }

        @Override
        public void linear(Tensor x, Tensor w, Tensor bias, Tensor y) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void addBias(Tensor y, Tensor bias) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void activate(Activation act, Tensor x) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void gatedActivate(Activation act, Tensor gate, Tensor up) {
            throw new UnsupportedOperationException();
        }

        @Override
        public String describe() {
            return "pretend cuda:0";
        }

        @Override
        public void close() {
        }
    }

    private static float[] values(int rank, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = rank * 100 + i;
        }
        return v;
    }

    @Test
    void everyCollectiveOnDeviceTensorsMatchesTheHostResult() throws Exception {
        int tp = 3;
        int n = 10; // uneven over 3 ranks: 4, 3, 3
        Partition part = new Partition(n, tp);
        List<float[][]> results = InMemoryGroup.run(tp, host -> {
            PretendDeviceBackend dev = new PretendDeviceBackend();
            try (HostStagedCommunicator comm = new HostStagedCommunicator(host, dev);
                 Tensor buf = dev.allocate(Shape.of(2, 5), DType.F32);
                 Tensor local = dev.allocate(Shape.of(part.count(host.rank())), DType.F32);
                 Tensor gathered = dev.allocate(Shape.of(n), DType.F32);
                 Tensor scattered = dev.allocate(Shape.of(part.count(host.rank())), DType.F32);
                 Tensor bcast = dev.allocate(Shape.of(n), DType.F32)) {
                int r = comm.rank();
                dev.copyFromHost(values(r, n), buf);
                comm.allReduce(buf);

                dev.copyFromHost(values(r, part.intCount(r)), local);
                long[] counts = new long[tp];
                for (int i = 0; i < tp; i++) {
                    counts[i] = part.count(i);
                }
                comm.allGather(local, gathered, counts);

                Tensor input = dev.allocate(Shape.of(n), DType.F32);
                dev.copyFromHost(values(r, n), input);
                comm.reduceScatter(input, scattered);
                input.close();

                dev.copyFromHost(values(r, n), bcast);
                comm.broadcast(bcast, 2);
                comm.barrier();
                assertTrue(comm.describe().contains("staged through host memory"));
                assertSame(host.stats(), comm.stats());
                assertTrue(dev.copiesIn > 0 && dev.copiesOut > 0);
                return new float[][] {dev.copyToHost(buf), dev.copyToHost(gathered), dev.copyToHost(scattered),
                        dev.copyToHost(bcast)};
            }
        });
        float[] sum = new float[n];
        for (int r = 0; r < tp; r++) {
            float[] v = values(r, n);
            for (int i = 0; i < n; i++) {
                sum[i] += v[i];
            }
        }
        for (int r = 0; r < tp; r++) {
            float[][] got = results.get(r);
            assertArrayEquals(sum, got[0], "all_reduce on rank " + r);
            float[] expectGathered = new float[n];
            for (int q = 0, off = 0; q < tp; off += part.intCount(q), q++) {
                System.arraycopy(values(q, part.intCount(q)), 0, expectGathered, off, part.intCount(q));
            }
            assertArrayEquals(expectGathered, got[1], "all_gather on rank " + r);
            float[] chunk = new float[part.intCount(r)];
            System.arraycopy(sum, part.intOffset(r), chunk, 0, chunk.length);
            assertArrayEquals(chunk, got[2], "reduce_scatter on rank " + r);
            assertArrayEquals(values(2, n), got[3], "broadcast from rank 2 on rank " + r);
        }
    }

    @Test
    void hostTensorsPassStraightThrough() throws Exception {
        InMemoryGroup.run(2, host -> {
            PretendDeviceBackend dev = new PretendDeviceBackend();
            try (HostStagedCommunicator comm = new HostStagedCommunicator(host, dev);
                 Tensor t = Tensor.hostOf(Shape.of(3), new float[] {1, 2, 3})) {
                comm.allReduce(t);
                assertArrayEquals(new float[] {2, 4, 6}, t.toFloatArray());
                assertEquals(0, dev.copiesIn + dev.copiesOut);
            }
            return null;
        });
    }
}
