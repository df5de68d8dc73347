package dev.tp4j.comm;

import dev.tp4j.backend.Backend;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;

/**
 * Runs a host-memory communicator (the TCP ring) on tensors of any device: each collective copies its
 * device tensors to host scratch through the rank's {@link Backend}, runs the collective there, and
 * copies the result back. This is how several CUDA ranks share one GPU for testing (NCCL refuses two
 * ranks on one device); it costs two PCIe copies per collective, so it is a test path, not a fast one.
 *
 * <p>Host tensors pass straight through. The recorded {@link CommStats} are the inner communicator's
 * (the network part); the staging copies are not counted in them.
 */
public final class HostStagedCommunicator implements Communicator {
    private final Communicator host;
    private final Backend backend;
    private Tensor scratchA;
    private Tensor scratchB;

    /** @param host a communicator over host tensors, which this one takes over (and closes) */
    public HostStagedCommunicator(Communicator host, Backend backend) {
        this.host = host;
        this.backend = backend;
    }

    @Override
    public int rank() {
        return host.rank();
    }

    @Override
    public int worldSize() {
        return host.worldSize();
    }

    @Override
    public void allReduce(Tensor buffer) {
        scratchInUse = 0;
        if (buffer.device().isCpu()) {
            host.allReduce(buffer);
            return;
        }
        Tensor h = stageIn(buffer, true);
        host.allReduce(h);
        stageOut(h, buffer);
    }

    @Override
    public void allGather(Tensor local, Tensor gathered, long[] counts) {
        scratchInUse = 0;
        if (local.device().isCpu() && gathered.device().isCpu()) {
            host.allGather(local, gathered, counts);
            return;
        }
        Tensor l = stageIn(local, true);
        Tensor g = stageIn(gathered, false);
        host.allGather(l, g, counts);
        stageOut(g, gathered);
    }

    @Override
    public void reduceScatter(Tensor input, Tensor output) {
        scratchInUse = 0;
        if (input.device().isCpu() && output.device().isCpu()) {
            host.reduceScatter(input, output);
            return;
        }
        Tensor in = stageIn(input, true);
        Tensor out = stageIn(output, false);
        host.reduceScatter(in, out);
        stageOut(out, output);
    }

    @Override
    public void broadcast(Tensor buffer, int root) {
        scratchInUse = 0;
        if (buffer.device().isCpu()) {
            host.broadcast(buffer, root);
            return;
        }
        Tensor h = stageIn(buffer, host.rank() == root);
        host.broadcast(h, root);
        stageOut(h, buffer);
    }

    @Override
    public void barrier() {
        host.barrier();
    }

    @Override
    public CommStats stats() {
        return host.stats();
    }

    /** The host transport's failure is this communicator's: nothing else here can fail a collective. */
    @Override
    public boolean failed() {
        return host.failed();
    }

    @Override
    public java.util.List<Link> links() {
        return host.links();
    }

    @Override
    public String describe() {
        return host.describe() + ", device tensors staged through host memory";
    }

    @Override
    public void close() {
        try {
            host.close();
        } finally {
            release();
        }
    }

    /**
     * A host tensor with {@code t}'s shape (a view of reused scratch; the first staged tensor of a call
     * uses one buffer, the second the other), holding {@code t}'s values when {@code copy}.
     */
    private Tensor stageIn(Tensor t, boolean copy) {
        if (t.device().isCpu()) {
            return t;
        }
        if (t.dtype() != DType.F32) {
            throw new IllegalArgumentException("collectives are on F32 tensors, got " + t);
        }
        boolean first = scratchInUse == 0;
        scratchInUse++;
        Tensor scratch = first ? (scratchA = grow(scratchA, t.numel())) : (scratchB = grow(scratchB, t.numel()));
        Tensor view = scratch.slice(0, t.numel()).view(t.shape().rank() < 2 ? Shape.of(t.numel()) : t.shape());
        if (copy) {
            float[] values = backend.copyToHost(t);
            view.floatBuffer().put(0, values);
        }
        return view;
    }

    private int scratchInUse;

    private void stageOut(Tensor hostView, Tensor device) {
        if (hostView == device) {
            return;
        }
        backend.copyFromHost(hostView.toFloatArray(), device);
    }

    private static Tensor grow(Tensor t, long numel) {
        if (t != null && t.numel() >= numel) {
            return t;
        }
        if (t != null) {
            t.close();
        }
        return Tensor.allocateHost(Shape.of(Math.max(numel, 1)), DType.F32);
    }

    private void release() {
        if (scratchA != null) {
            scratchA.close();
            scratchA = null;
        }
        if (scratchB != null) {
            scratchB.close();
            scratchB = null;
        }
    }
}
