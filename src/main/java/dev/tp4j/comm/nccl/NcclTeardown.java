package dev.tp4j.comm.nccl;

import dev.tp4j.CommunicationException;
import java.time.Duration;
import java.util.concurrent.locks.LockSupport;

/**
 * Closing a non-blocking NCCL communicator: {@code ncclCommFinalize} (returns {@code ncclInProgress}
 * and flushes this rank's outstanding work with its peers in the background), {@code ncclCommGetAsyncError}
 * polled until that is done, then {@code ncclCommDestroy}. Destroying without finalizing frees buffers
 * that peers may still be reading. Every return code is checked; on a failure or the deadline the
 * communicator is aborted and the step is named. Pure Java over {@link Ops}, checked by NcclTeardownTest.
 */
final class NcclTeardown {
    /** {@code ncclResult_t} values used here (nccl.h; stable across NCCL 2.x). */
    static final int SUCCESS = 0;
    static final int IN_PROGRESS = 7;

    /** The communicator calls, bound to one {@code ncclComm_t}. */
    interface Ops {
        int finalizeComm();

        /** {@code ncclCommGetAsyncError}: the call's result; the communicator's state in {@code state[0]}. */
        int asyncError(int[] state);

        int destroy();

        int abort();

        /** {@code ncclGetErrorString}: a static description, safe after destroy. */
        String errorString(int result);

        /** {@code ncclGetLastError} of the communicator (" (text)" or ""); only before abort or destroy. */
        String lastError();
    }

    private NcclTeardown() {
    }

    /** Finalizes and destroys; throws {@link CommunicationException} naming the step that failed. */
    static void close(Ops ops, Duration timeout, String who) {
        long deadline = System.nanoTime() + timeout.toNanos();
        int r = ops.finalizeComm();
        if (r != SUCCESS && r != IN_PROGRESS) {
            throw aborted(ops, who, "ncclCommFinalize", ops.errorString(r));
        }
        int[] state = {IN_PROGRESS};
        long backoff = 1_000;
        while (true) {
            r = ops.asyncError(state);
            if (r != SUCCESS) {
                throw aborted(ops, who, "ncclCommGetAsyncError after ncclCommFinalize", ops.errorString(r));
            }
            if (state[0] == SUCCESS) {
                break;
            }
            if (state[0] != IN_PROGRESS) {
                throw aborted(ops, who, "ncclCommFinalize", ops.errorString(state[0]));
            }
            if (System.nanoTime() > deadline) {
                throw aborted(ops, who, "ncclCommFinalize", "not finished within " + timeout.toSeconds()
                        + " s (a peer gone or stuck?)");
            }
            LockSupport.parkNanos(backoff);
            backoff = Math.min(backoff * 2, 1_000_000);
        }
        r = ops.destroy();
        if (r != SUCCESS) {
            throw new CommunicationException("NCCL close (ncclCommDestroy) failed on " + who + ": " + ops.errorString(r));
        }
    }

    private static CommunicationException aborted(Ops ops, String who, String step, String why) {
        why += ops.lastError();
        int a = ops.abort();
        String after = a == SUCCESS || a == IN_PROGRESS ? "communicator aborted"
                : "ncclCommAbort failed too: " + ops.errorString(a);
        return new CommunicationException("NCCL close (" + step + ") failed on " + who + ": " + why + "; " + after);
    }
}
