package dev.tp4j.testutil;

import dev.tp4j.comm.Communicator;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;

/**
 * The ranks of one communicator group as threads of this JVM. Each rank {@link #join joins} from its own
 * thread, at the same time as the others, the way each process of a job joins; an implementation says
 * how (a store on loopback and shared memory, a TCP ring, NCCL on a GPU per rank, arrays in memory).
 * The contract suite ({@code dev.tp4j.comm.CommunicatorContract}) and the transport-specific tests open
 * their groups through it.
 */
public interface CommGroup<C extends Communicator> extends AutoCloseable {

    int worldSize();

    /** Rank {@code rank}'s communicator; called on that rank's thread while the other ranks join too. */
    Member<C> join(int rank) throws Exception;

    /** Releases what the ranks share (a store server); called once every rank has closed its member. */
    @Override
    void close();

    /** What one rank does with its member. */
    @FunctionalInterface
    interface RankBody<C extends Communicator, T> {
        T run(Member<? extends C> member) throws Exception;
    }

    /**
     * Runs {@code body} on every rank of {@code group}, one thread each, and returns what each rank returned
     * or threw. A rank closes its member only once every rank's body has returned (as {@code ProcessGroup}
     * waits at a barrier before tearing down), so no rank sees a peer that finished as a lost one; a rank
     * whose body fails or hangs holds the others at most {@code timeout}. The whole run is bounded by
     * {@code timeout} plus ten seconds.
     */
    static <C extends Communicator, T> List<RankThreads.Outcome<T>> outcomes(CommGroup<? extends C> group, Duration timeout,
                                                                              RankBody<C, T> body)
            throws InterruptedException {
        CyclicBarrier done = new CyclicBarrier(group.worldSize());
        return RankThreads.outcomes(group.worldSize(), timeout.plusSeconds(10), rank -> {
            try (Member<? extends C> member = group.join(rank)) {
                try {
                    return body.run(member);
                } finally {
                    try {
                        done.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
                    } catch (Exception e) {
                        // another rank failed or hung: close anyway, its own outcome reports why
                    }
                }
            }
        });
    }

    /** Every rank's value, in rank order; fails with every rank's error if any rank failed. */
    static <C extends Communicator, T> List<T> run(CommGroup<? extends C> group, Duration timeout, RankBody<C, T> body)
            throws InterruptedException {
        return RankThreads.valuesOf(outcomes(group, timeout, body));
    }
}
