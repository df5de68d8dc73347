package dev.tp4j.comm.nccl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tp4j.CommunicationException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Closing a non-blocking NCCL communicator, against a scripted stand-in for the NCCL calls. */
class NcclTeardownTest {

    /** Answers each call from a script and records the calls. */
    static final class Scripted implements NcclTeardown.Ops {
        final List<String> calls = new ArrayList<>();
        int finalize = NcclTeardown.IN_PROGRESS;
        int destroy = NcclTeardown.SUCCESS;
        int abort = NcclTeardown.SUCCESS;
        /** States reported by successive asyncError calls; the last one repeats. */
        int[] states = {NcclTeardown.IN_PROGRESS, NcclTeardown.IN_PROGRESS, NcclTeardown.SUCCESS};
        private int polled;

        @Override
        public int finalizeComm() {
            calls.add("finalize");
            return finalize;
        }

        @Override
        public int asyncError(int[] state) {
            calls.add("poll");
            state[0] = states[Math.min(polled++, states.length - 1)];
            return NcclTeardown.SUCCESS;
        }

        @Override
        public int destroy() {
            calls.add("destroy");
            return destroy;
        }

        @Override
        public int abort() {
            calls.add("abort");
            return abort;
        }

        @Override
        public String errorString(int result) {
            return "error " + result;
        }

        @Override
        public String lastError() {
            return " (peer 3 closed the connection)";
        }
    }

    @Test
    void finalizeIsWaitedForBeforeDestroy() {
        Scripted nccl = new Scripted();
        NcclTeardown.close(nccl, Duration.ofSeconds(5), "rank 0 of 2");
        assertEquals(List.of("finalize", "poll", "poll", "poll", "destroy"), nccl.calls);
    }

    @Test
    void aFailedFinalizeAbortsAndSaysSo() {
        Scripted nccl = new Scripted();
        nccl.states = new int[] {NcclTeardown.IN_PROGRESS, 6}; // ncclRemoteError
        CommunicationException e = assertThrows(CommunicationException.class,
                () -> NcclTeardown.close(nccl, Duration.ofSeconds(5), "rank 1 of 2"));
        assertEquals("NCCL close (ncclCommFinalize) failed on rank 1 of 2: error 6 (peer 3 closed the connection); "
                + "communicator aborted", e.getMessage());
        assertEquals(List.of("finalize", "poll", "poll", "abort"), nccl.calls);
    }

    @Test
    void finalizeRefusedOutrightAbortsWithoutPolling() {
        Scripted nccl = new Scripted();
        nccl.finalize = 4; // ncclInvalidArgument
        nccl.abort = 3;
        CommunicationException e = assertThrows(CommunicationException.class,
                () -> NcclTeardown.close(nccl, Duration.ofSeconds(5), "rank 0 of 4"));
        assertEquals("NCCL close (ncclCommFinalize) failed on rank 0 of 4: error 4 (peer 3 closed the connection); "
                + "ncclCommAbort failed too: error 3", e.getMessage());
        assertEquals(List.of("finalize", "abort"), nccl.calls);
    }

    @Test
    void aFinalizeThatNeverEndsIsAbortedAtTheDeadline() {
        Scripted nccl = new Scripted();
        nccl.states = new int[] {NcclTeardown.IN_PROGRESS};
        CommunicationException e = assertThrows(CommunicationException.class,
                () -> NcclTeardown.close(nccl, Duration.ofMillis(50), "rank 0 of 2"));
        assertEquals(true, e.getMessage().contains("not finished within 0 s"), e.getMessage());
        assertEquals("abort", nccl.calls.get(nccl.calls.size() - 1));
    }

    @Test
    void aFailedDestroyIsReported() {
        Scripted nccl = new Scripted();
        nccl.destroy = 1; // ncclUnhandledCudaError
        CommunicationException e = assertThrows(CommunicationException.class,
                () -> NcclTeardown.close(nccl, Duration.ofSeconds(5), "rank 0 of 2"));
        assertEquals("NCCL close (ncclCommDestroy) failed on rank 0 of 2: error 1", e.getMessage());
    }
}
