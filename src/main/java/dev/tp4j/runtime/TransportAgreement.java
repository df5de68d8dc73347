package dev.tp4j.runtime;

import dev.tp4j.BadInputException;
import dev.tp4j.comm.hierarchical.NodeLayout;
import dev.tp4j.rendezvous.RendezvousStore;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * Turns the asked {@link TransportChoice} into the one every rank uses: each rank publishes its
 * {@link RankFacts} in the store and reads everyone's, so all ranks reach the same answer from the same
 * facts (a rank deciding alone could pick NCCL while its peer picks shared memory, and both would hang).
 */
final class TransportAgreement {
    private static final String KEY_PREFIX = "tp4j/rank-facts";

    private TransportAgreement() {
    }

    /**
     * What the ranks agreed: the transport ({@code shm}, {@code tcp}, {@code hierarchical} or {@code nccl},
     * never {@code auto}) and, where the ranks exchanged them, every rank's host id ({@code hostIds[r]} is
     * rank r's; null when {@code tcp} was asked, which needs no facts).
     */
    record Agreement(TransportChoice transport, String[] hostIds) {
    }

    /**
     * The transport for this job, and the hosts of the ranks that a hierarchical one is built from.
     *
     * @throws BadInputException {@code nccl} asked where some rank cannot use it, or {@code shm} asked
     *                           for ranks on different hosts; the message names the rank
     */
    static Agreement agree(RendezvousStore store, int rank, int worldSize, TransportChoice asked,
                           RankFacts mine, Duration timeout) {
        if (asked == TransportChoice.tcp) {
            return new Agreement(TransportChoice.tcp, null);
        }
        RankFacts[] all = new RankFacts[worldSize];
        store.set(RendezvousStore.rankKey(KEY_PREFIX, rank), mine.encode());
        String[] hostIds = new String[worldSize];
        for (int r = 0; r < worldSize; r++) {
            all[r] = r == rank ? mine : RankFacts.decode(store.getString(RendezvousStore.rankKey(KEY_PREFIX, r), timeout));
            hostIds[r] = all[r].hostId();
        }
        return new Agreement(decide(asked, rank, all), hostIds);
    }

    /** The decision itself, from every rank's facts; pure, so it is tested without a store. */
    static TransportChoice decide(TransportChoice asked, int rank, RankFacts[] all) {
        int noNccl = firstWithoutNccl(all);
        int[] sharing = firstTwoSharingAGpu(all);
        int otherHost = firstOnAnotherHostThan(all, rank);
        switch (asked) {
            case nccl:
                if (noNccl >= 0) {
                    throw new BadInputException(TransportChoice.ENV + "=nccl: rank " + noNccl + " cannot use NCCL: "
                            + all[noNccl].ncclProblem() + "; use auto, shm or tcp");
                }
                if (sharing != null) {
                    throw new BadInputException(TransportChoice.ENV + "=nccl: ranks " + sharing[0] + " and " + sharing[1]
                            + " compute on the same GPU (" + all[sharing[0]].gpu() + " on "
                            + hostName(all[sharing[0]].hostId()) + "): NCCL refuses two ranks on one GPU; "
                            + "use auto, shm or tcp");
                }
                return TransportChoice.nccl;
            case shm:
                if (otherHost >= 0) {
                    throw new BadInputException(TransportChoice.ENV + "=shm needs every rank on one host, but rank "
                            + otherHost + " runs on " + hostName(all[otherHost].hostId()) + " and rank " + rank + " on "
                            + hostName(all[rank].hostId()) + " (use auto, hierarchical or tcp)");
                }
                return TransportChoice.shm;
            case tcp:
                return TransportChoice.tcp;
            case hierarchical:
                return TransportChoice.hierarchical;
            case auto:
            default:
                if (noNccl < 0 && sharing == null) {
                    return TransportChoice.nccl;
                }
                if (otherHost < 0) {
                    // One rank alone has nobody to share memory with: the ring of one is a no-op.
                    return all.length > 1 ? TransportChoice.shm : TransportChoice.tcp;
                }
                // Several hosts: shared memory inside those that hold several ranks pays; with one rank per
                // host there is nothing to share, and the flat ring is the whole of it.
                return someHostHoldsSeveral(all) ? TransportChoice.hierarchical : TransportChoice.tcp;
        }
    }

    private static boolean someHostHoldsSeveral(RankFacts[] all) {
        String[] hostIds = new String[all.length];
        for (int r = 0; r < all.length; r++) {
            hostIds[r] = all[r].hostId();
        }
        return NodeLayout.of(hostIds).isHierarchical();
    }

    private static int firstWithoutNccl(RankFacts[] all) {
        for (int r = 0; r < all.length; r++) {
            if (all[r].ncclProblem() != null) {
                return r;
            }
        }
        return -1;
    }

    /** The first two ranks on one host with the same GPU, or null: NCCL needs a GPU of its own per rank. */
    private static int[] firstTwoSharingAGpu(RankFacts[] all) {
        Map<String, Integer> firstOnGpu = new HashMap<>();
        for (int r = 0; r < all.length; r++) {
            if (all[r].gpu() == null) {
                continue;
            }
            Integer earlier = firstOnGpu.putIfAbsent(all[r].hostId() + "\n" + all[r].gpu(), r);
            if (earlier != null) {
                return new int[] {earlier, r};
            }
        }
        return null;
    }

    private static int firstOnAnotherHostThan(RankFacts[] all, int rank) {
        for (int r = 0; r < all.length; r++) {
            if (!all[r].hostId().equals(all[rank].hostId())) {
                return r;
            }
        }
        return -1;
    }

    /** {@code name/boot-id} as {@code name (boot-id)}. */
    private static String hostName(String hostId) {
        int slash = hostId.indexOf('/');
        return slash < 0 ? hostId : hostId.substring(0, slash) + " (" + hostId.substring(slash + 1) + ")";
    }
}
