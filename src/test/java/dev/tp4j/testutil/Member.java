package dev.tp4j.testutil;

import dev.tp4j.backend.Backend;
import dev.tp4j.comm.Communicator;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;
import dev.tp4j.tensor.Tensor;

/**
 * One rank of a {@link CommGroup}: its communicator and the memory that communicator's collectives work
 * on (host memory, or the device of the rank's backend), so that one test body serves every transport.
 * Closing it closes the communicator, then what the rank opened to join (its store client, its backend).
 */
public final class Member<C extends Communicator> implements AutoCloseable {
    private final C comm;
    private final Backend device;
    private final AutoCloseable[] alsoClose;

    /**
     * @param device    the backend whose memory the collectives take, or null for host memory
     * @param alsoClose closed after the communicator, in this order
     */
    public Member(C comm, Backend device, AutoCloseable... alsoClose) {
        this.comm = comm;
        this.device = device;
        this.alsoClose = alsoClose;
    }

    public C comm() {
        return comm;
    }

    public int rank() {
        return comm.rank();
    }

    /** A zeroed tensor where this rank's collectives read and write. */
    public Tensor allocate(Shape shape, DType dtype) {
        return device == null ? Tensor.allocateHost(shape, dtype) : device.allocate(shape, dtype);
    }

    /** A one-dimensional F32 tensor holding {@code values}, where this rank's collectives read and write. */
    public Tensor upload(float[] values) {
        if (device == null) {
            return Tensor.hostOf(Shape.of(values.length), values);
        }
        Tensor t = device.allocate(Shape.of(values.length), DType.F32);
        device.copyFromHost(values, t);
        return t;
    }

    /** The values of an F32 tensor this rank allocated. */
    public float[] download(Tensor t) {
        return device == null ? t.toFloatArray() : device.copyToHost(t);
    }

    @Override
    public void close() {
        comm.close();
        for (AutoCloseable c : alsoClose) {
            try {
                c.close();
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException("rank " + comm.rank() + " could not close " + c, e);
            }
        }
    }
}
