package dev.tp4j.model;

import dev.tp4j.BadInputException;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Which attention heads one rank holds, as Megatron and vLLM split them: query heads in equal blocks
 * (never splitting a head); key/value heads split the same way when {@code tp ≤ kv heads}, else each kv
 * head replicated on the {@code tp / kvHeads} ranks whose query heads read it.
 *
 * @param firstQueryHead the first of this rank's {@code queryHeads} query heads
 * @param firstKvHead    the first of this rank's {@code kvHeads} key/value heads
 */
public record HeadSharding(int queryHeads, int firstQueryHead, int kvHeads, int firstKvHead, boolean kvReplicated) {

    /**
     * Rank {@code rank}'s heads of {@code heads} query and {@code kvHeads} key/value heads at {@code tp}.
     *
     * @throws BadInputException tp fits neither rule; the message names the counts and the tp values that work
     */
    public static HeadSharding of(int heads, int kvHeads, int tp, int rank) {
        if (!fits(heads, kvHeads, tp)) {
            throw new BadInputException("tp " + tp + " does not fit " + heads + " attention heads and " + kvHeads
                    + " key/value heads: tp must divide both, or divide the attention heads and be a multiple of the "
                    + "key/value heads; tp values that work: " + workingTps(heads, kvHeads).stream()
                    .map(String::valueOf).collect(Collectors.joining(", ")));
        }
        int q = heads / tp;
        if (tp <= kvHeads) {
            int kv = kvHeads / tp;
            return new HeadSharding(q, rank * q, kv, rank * kv, false);
        }
        return new HeadSharding(q, rank * q, 1, rank / (tp / kvHeads), true);
    }

    static boolean fits(int heads, int kvHeads, int tp) {
        if (heads % tp != 0) {
            return false;
        }
        return tp <= kvHeads ? kvHeads % tp == 0 : tp % kvHeads == 0;
    }

    static List<Integer> workingTps(int heads, int kvHeads) {
        List<Integer> out = new ArrayList<>();
        for (int tp = 1; tp <= heads; tp++) {
            if (fits(heads, kvHeads, tp)) {
                out.add(tp);
            }
        }
        return out;
    }
}
