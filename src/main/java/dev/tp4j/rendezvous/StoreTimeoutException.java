package dev.tp4j.rendezvous;

import dev.tp4j.CommunicationException;
import java.time.Duration;
import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A store key that did not appear in time; names the key and, where the key stands for one, the rank. */
public final class StoreTimeoutException extends CommunicationException {
    private static final long serialVersionUID = 1L;
    private static final Pattern RANK_KEY = Pattern.compile("(?:^|/)rank/(\\d+)$");

    private final String key;

    public StoreTimeoutException(String key, Duration waited) {
        super(message(key, waited));
        this.key = key;
    }

    public String key() {
        return key;
    }

    /** The rank a key such as {@code ring/rank/3} stands for. */
    public static OptionalInt rankIn(String key) {
        Matcher m = RANK_KEY.matcher(key);
        if (m.find()) {
            try {
                return OptionalInt.of(Integer.parseInt(m.group(1)));
            } catch (NumberFormatException e) {
                return OptionalInt.empty();
            }
        }
        return OptionalInt.empty();
    }

    private static String message(String key, Duration waited) {
        String base = "rendezvous timed out after " + Durations.describe(waited) + " waiting for key '" + key + "'";
        OptionalInt rank = rankIn(key);
        return rank.isPresent() ? base + ": rank " + rank.getAsInt() + " did not show up" : base;
    }
}
