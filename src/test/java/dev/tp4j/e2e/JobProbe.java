package dev.tp4j.e2e;

import dev.tp4j.CommunicationException;
import dev.tp4j.comm.shm.ShmCommunicator;
import dev.tp4j.comm.tcp.TcpRingCommunicator;
import dev.tp4j.rendezvous.RendezvousStore;
import dev.tp4j.rendezvous.auth.JobToken;
import dev.tp4j.rendezvous.store.StoreClient;
import dev.tp4j.testutil.Poll;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * How far a running job of worker processes has come, seen from outside the way anyone holding the job's
 * token could see it: through its rendezvous store (rank 0's, at {@code 127.0.0.1:port}) and the kernel's
 * table of listening sockets. The workers print nothing until they are done, so this is what a test waits
 * on before it kills a rank "in the middle of the collectives".
 */
final class JobProbe {
    private static final String HOST = "127.0.0.1";
    /** {@code StoreBarrier}'s key for an opened barrier; ShmCommunicator's barrier once every rank mapped the file. */
    private static final String SHM_MAPPED = "tp4j/barrier/shm-mapped:" + ShmCommunicator.DEFAULT_KEY_PREFIX + "/open";
    /** Where Linux lists TCP sockets; a listening one has state 0A. */
    private static final List<Path> SOCKET_TABLES = List.of(Path.of("/proc/net/tcp"), Path.of("/proc/net/tcp6"));

    private JobProbe() {
    }

    /**
     * Returns once every rank of the job has set up its collectives, so that what the ranks do next is
     * run them: over shared memory, every rank has mapped the file (the store barrier after mapping has
     * opened); over the TCP ring, every rank has published its ring port and closed it again, which it
     * does once its neighbour's link is accepted and its own link to the next rank is up. Fails, with
     * {@code logs}, if that does not happen within {@code limit}.
     */
    static void awaitCollectivesSetUp(int storePort, String token, int worldSize, Duration limit, Poll.Probe<String> logs)
            throws Exception {
        // A client that is no rank of the job (rank worldSize): the store takes any rank with the token.
        StoreClient store;
        try {
            store = StoreClient.connect(HOST, storePort, JobToken.of(token), worldSize, limit);
        } catch (CommunicationException e) {
            throw new AssertionError("the job's store never let us in: " + e.getMessage() + "\n" + logs.get(), e);
        }
        try (store) {
            Poll.until("the " + worldSize + " ranks to set up their collectives", limit,
                    () -> store.contains(SHM_MAPPED) || ringFormed(store, worldSize), logs);
        } catch (CommunicationException e) {
            throw new AssertionError("lost the job's store while waiting: " + e.getMessage() + "\n" + logs.get(), e);
        }
    }

    /** Every rank published its ring port, and none of those ports still listens. */
    private static boolean ringFormed(StoreClient store, int worldSize) throws IOException {
        for (int r = 0; r < worldSize; r++) {
            String key = RendezvousStore.rankKey(TcpRingCommunicator.DEFAULT_KEY_PREFIX, r);
            if (!store.contains(key)) {
                return false;
            }
            String endpoint = store.getString(key, Duration.ofSeconds(1));
            if (isListening(Integer.parseInt(endpoint.substring(endpoint.lastIndexOf(':') + 1)))) {
                return false;
            }
        }
        return true;
    }

    /** Whether some socket of this machine listens on TCP {@code port}, read from the kernel's tables. */
    static boolean isListening(int port) throws IOException {
        boolean anyTable = false;
        for (Path table : SOCKET_TABLES) {
            if (!Files.isReadable(table)) {
                continue;
            }
            anyTable = true;
            List<String> lines = Files.readAllLines(table);
            for (String line : lines.subList(1, lines.size())) { // a header, then "sl local_address rem_address st ..."
                String[] fields = line.trim().split("\\s+");
                String local = fields[1];
                int localPort = Integer.parseInt(local.substring(local.lastIndexOf(':') + 1), 16);
                if (localPort == port && fields[3].equals("0A")) {
                    return true;
                }
            }
        }
        if (!anyTable) {
            throw new AssertionError("cannot tell whether port " + port + " listens: no " + SOCKET_TABLES + " (not Linux?)");
        }
        return false;
    }
}
