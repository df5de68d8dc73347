package dev.tp4j.comm;

import java.util.List;

/**
 * One kind of collective as a report shows it, to people ({@link TrafficReport#text}) and in its JSON
 * (this record): how many ran, their payload, the bytes this rank sent and the time they took.
 *
 * @param op        the collective, as {@link CollectiveOp#label()} names it
 * @param bytes     payload: the size of the buffers as the API sees them, summed
 * @param sentBytes the bytes this rank put on its links
 * @param timeMs    wall time of all of them together
 */
public record CollectiveTraffic(String op, long count, long bytes, long sentBytes, double timeMs) {

    public static CollectiveTraffic of(CommStats.Summary s) {
        return new CollectiveTraffic(s.op().label(), s.count(), s.payloadBytes(), s.sentBytes(), s.nanos() / 1e6);
    }

    /** One record per summary, in the same order. */
    public static List<CollectiveTraffic> allOf(List<CommStats.Summary> traffic) {
        return traffic.stream().map(CollectiveTraffic::of).toList();
    }
}
