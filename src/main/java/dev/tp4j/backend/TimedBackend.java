package dev.tp4j.backend;

import dev.tp4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A backend that forwards every call to another and times each compute call: how many and how long, per
 * operation, and per weight shape for {@code linear} (which matrix streams slowly is what a decode step's
 * time is about). What {@code generate --profile} prints. Allocation and weight loading are forwarded
 * untimed (by {@link ForwardingBackend}).
 *
 * <p>A GPU backend's calls return before the device has finished; there the timed calls synchronize first,
 * so each one's time is the device's, at the price of the overlap that the profile then no longer shows.
 * Timing allocates nothing per call (up to {@value #MAX_SHAPES} linear shapes are kept apart, the rest
 * counted together). One thread, as a backend is.
 */
public final class TimedBackend extends ForwardingBackend {
    /** The timed operations, in the order they are reported. */
    public enum Op {
        LINEAR("linear"), ATTENTION("attention"), RMS_NORM("rms_norm"), ROTARY("rotary"),
        GATED_ACTIVATE("gated_activation"), ACTIVATE("activation"), ADD("add"), ADD_BIAS("add_bias"),
        EMBEDDING("embedding"), COPY("copy"), FROM_HOST("copy_from_host"), TO_HOST("copy_to_host");

        private final String label;

        Op(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }
    }

    /** One line of a profile: an operation (for linear, with its weight's shape), its calls and their time. */
    public record Entry(String op, long calls, long nanos) {
    }

    static final int MAX_SHAPES = 32;
    private static final Op[] OPS = Op.values();

    private final boolean synchronize;
    private final long[] calls = new long[OPS.length];
    private final long[] nanos = new long[OPS.length];
    /** Linear calls by weight shape: rows in the high half of the key, columns in the low. */
    private final long[] shapeKeys = new long[MAX_SHAPES];
    private final long[] shapeCalls = new long[MAX_SHAPES];
    private final long[] shapeNanos = new long[MAX_SHAPES];
    private int shapes;

    public TimedBackend(Backend inner) {
        super(inner);
        this.synchronize = !inner.device().isCpu();
    }

    /** What was timed since the start or the last {@link #reset}, linear by shape first, then the rest. */
    public List<Entry> entries() {
        List<Entry> out = new ArrayList<>();
        long shapedCalls = 0;
        long shapedNanos = 0;
        for (int s = 0; s < shapes; s++) {
            out.add(new Entry(Op.LINEAR.label() + " " + (shapeKeys[s] >>> 32) + "x" + (shapeKeys[s] & 0xFFFFFFFFL),
                    shapeCalls[s], shapeNanos[s]));
            shapedCalls += shapeCalls[s];
            shapedNanos += shapeNanos[s];
        }
        if (calls[Op.LINEAR.ordinal()] > shapedCalls) { // shapes beyond MAX_SHAPES
            out.add(new Entry(Op.LINEAR.label() + " (other shapes)", calls[Op.LINEAR.ordinal()] - shapedCalls,
                    nanos[Op.LINEAR.ordinal()] - shapedNanos));
        }
        for (Op op : OPS) {
            if (op != Op.LINEAR && calls[op.ordinal()] > 0) {
                out.add(new Entry(op.label(), calls[op.ordinal()], nanos[op.ordinal()]));
            }
        }
        return out;
    }

    /** Forgets what was timed (the start of a new phase). */
    public void reset() {
        Arrays.fill(calls, 0);
        Arrays.fill(nanos, 0);
        Arrays.fill(shapeCalls, 0);
        Arrays.fill(shapeNanos, 0);
        shapes = 0;
    }

    private long start() {
        if (synchronize) {
            inner.synchronize(); // what came before is not this call's
        }
        return System.nanoTime();
    }

    /** Counts the call; returns its time. */
    private long stop(Op op, long start) {
        if (synchronize) {
            inner.synchronize();
        }
        long elapsed = System.nanoTime() - start;
        calls[op.ordinal()]++;
        nanos[op.ordinal()] += elapsed;
        return elapsed;
    }

    @Override
    public void linear(Tensor x, Tensor w, Tensor bias, Tensor y) {
        long t = start();
        inner.linear(x, w, bias, y);
        long elapsed = stop(Op.LINEAR, t);
        long key = ((long) w.rows() << 32) | (w.cols() & 0xFFFFFFFFL);
        for (int s = 0; s < shapes; s++) {
            if (shapeKeys[s] == key) {
                shapeCalls[s]++;
                shapeNanos[s] += elapsed;
                return;
            }
        }
        if (shapes < MAX_SHAPES) {
            shapeKeys[shapes] = key;
            shapeCalls[shapes] = 1;
            shapeNanos[shapes] = elapsed;
            shapes++;
        }
    }

    @Override
    public void addBias(Tensor y, Tensor bias) {
        long t = start();
        inner.addBias(y, bias);
        stop(Op.ADD_BIAS, t);
    }

    @Override
    public void activate(Activation act, Tensor x) {
        long t = start();
        inner.activate(act, x);
        stop(Op.ACTIVATE, t);
    }

    @Override
    public void gatedActivate(Activation act, Tensor gate, Tensor up) {
        long t = start();
        inner.gatedActivate(act, gate, up);
        stop(Op.GATED_ACTIVATE, t);
    }

    @Override
    public void embedding(Tensor table, int[] ids, long firstId, Tensor out) {
        long t = start();
        inner.embedding(table, ids, firstId, out);
        stop(Op.EMBEDDING, t);
    }

    @Override
    public void rmsNorm(Tensor x, Tensor weight, float eps, Tensor y) {
        long t = start();
        inner.rmsNorm(x, weight, eps, y);
        stop(Op.RMS_NORM, t);
    }

    @Override
    public void rotary(Tensor x, int headDim, float[] invFreq, int firstPosition) {
        long t = start();
        inner.rotary(x, headDim, invFreq, firstPosition);
        stop(Op.ROTARY, t);
    }

    @Override
    public void attention(Tensor q, Tensor keys, Tensor values, int headDim, int firstPosition, float scale,
                          Tensor out) {
        long t = start();
        inner.attention(q, keys, values, headDim, firstPosition, scale, out);
        stop(Op.ATTENTION, t);
    }

    @Override
    public void add(Tensor a, Tensor b) {
        long t = start();
        inner.add(a, b);
        stop(Op.ADD, t);
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        long t = start();
        inner.copy(src, dst);
        stop(Op.COPY, t);
    }

    @Override
    public void copyFromHost(float[] src, Tensor dst) {
        long t = start();
        inner.copyFromHost(src, dst);
        stop(Op.FROM_HOST, t);
    }

    @Override
    public float[] copyToHost(Tensor src) {
        long t = start();
        float[] out = inner.copyToHost(src);
        stop(Op.TO_HOST, t);
        return out;
    }

    /** The timed backend belongs to whoever made it; closing this wrapper leaves it open. */
    @Override
    public void close() {
    }
}
