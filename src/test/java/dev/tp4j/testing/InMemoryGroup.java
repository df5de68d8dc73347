package dev.tp4j.testing;

import dev.tp4j.comm.CollectiveOp;
import dev.tp4j.comm.CommStats;
import dev.tp4j.comm.Communicator;
import dev.tp4j.tensor.Partition;
import dev.tp4j.tensor.Tensor;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Ranks as threads of this JVM with collectives over shared arrays: a test double for layer tests
 * that should not depend on the network transport. Sums run in rank order in float32, so every rank
 * sees bitwise the same result, as the real communicators guarantee.
 */
public final class InMemoryGroup {
    private final int size;
    private final CyclicBarrier barrier;
    private final float[][] slots;

    private InMemoryGroup(int size) {
        this.size = size;
        this.barrier = new CyclicBarrier(size);
        this.slots = new float[size][];
    }

    public interface RankBody<T> {
        T run(Communicator comm) throws Exception;
    }

    /** A group of {@code size} ranks; each rank's thread takes its {@link #member(int)} and runs its collectives. */
    public static InMemoryGroup of(int size) {
        return new InMemoryGroup(size);
    }

    /** Rank {@code rank}'s communicator; take it once per rank. */
    public Communicator member(int rank) {
        return new Member(rank);
    }

    /** Runs {@code body} on {@code size} ranks at once and returns each rank's result, by rank. */
    public static <T> List<T> run(int size, RankBody<T> body) throws Exception {
        InMemoryGroup group = new InMemoryGroup(size);
        ExecutorService pool = Executors.newFixedThreadPool(size);
        try {
            List<Future<T>> futures = new ArrayList<>();
            for (int r = 0; r < size; r++) {
                Communicator comm = group.member(r);
                futures.add(pool.submit(() -> body.run(comm)));
            }
            List<T> results = new ArrayList<>();
            for (Future<T> f : futures) {
                results.add(f.get(60, TimeUnit.SECONDS));
            }
            return results;
        } finally {
            pool.shutdownNow();
        }
    }

    private void await() {
        try {
            barrier.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException | BrokenBarrierException | java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("in-memory group broke", e);
        }
    }

    private final class Member implements Communicator {
        private final int rank;
        private final CommStats stats = new CommStats();

        Member(int rank) {
            this.rank = rank;
        }

        @Override
        public int rank() {
            return rank;
        }

        @Override
        public int worldSize() {
            return size;
        }

        private float[] publish(Tensor t) {
            float[] mine = t.toFloatArray();
            slots[rank] = mine;
            await();
            return mine;
        }

        @Override
        public void allReduce(Tensor buffer) {
            publish(buffer);
            float[] sum = slots[0].clone();
            for (int r = 1; r < size; r++) {
                for (int i = 0; i < sum.length; i++) {
                    sum[i] += slots[r][i];
                }
            }
            await();
            buffer.floatBuffer().put(0, sum);
            stats.record(CollectiveOp.ALL_REDUCE, buffer.numel(), buffer.byteSize(), 0, 0);
        }

        @Override
        public void allGather(Tensor local, Tensor gathered, long[] counts) {
            publish(local);
            FloatBuffer out = gathered.floatBuffer();
            int at = 0;
            for (int r = 0; r < size; r++) {
                if (slots[r].length != counts[r]) {
                    throw new IllegalStateException("rank " + r + " sent " + slots[r].length + ", expected " + counts[r]);
                }
                out.put(at, slots[r]);
                at += slots[r].length;
            }
            await();
            stats.record(CollectiveOp.ALL_GATHER, gathered.numel(), gathered.byteSize(), 0, 0);
        }

        @Override
        public void reduceScatter(Tensor input, Tensor output) {
            publish(input);
            Partition p = new Partition(input.numel(), size);
            int first = p.intOffset(rank);
            float[] mine = new float[p.intCount(rank)];
            for (int r = 0; r < size; r++) {
                for (int i = 0; i < mine.length; i++) {
                    mine[i] += slots[r][first + i];
                }
            }
            await();
            output.floatBuffer().put(0, mine);
            stats.record(CollectiveOp.REDUCE_SCATTER, input.numel(), input.byteSize(), 0, 0);
        }

        @Override
        public void broadcast(Tensor buffer, int root) {
            publish(buffer);
            float[] value = slots[root];
            await();
            buffer.floatBuffer().put(0, value);
            stats.record(CollectiveOp.BROADCAST, buffer.numel(), buffer.byteSize(), 0, 0);
        }

        @Override
        public void barrier() {
            await();
            stats.record(CollectiveOp.BARRIER, 0, 0, 0, 0);
        }

        @Override
        public CommStats stats() {
            return stats;
        }

        @Override
        public String describe() {
            return "in-memory threads";
        }

        @Override
        public void close() {
        }
    }
}
