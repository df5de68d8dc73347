package dev.tp4j.rendezvous.auth;

import java.io.PrintStream;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One stderr line per refused connection, so a port scanner or a misconfigured rank is visible without
 * flooding the job's output: after {@link #LIMIT} lines it says so once and goes quiet.
 */
public final class RejectionLog {
    static final int LIMIT = 20;

    private final String who;
    private final PrintStream out;
    private final AtomicInteger logged = new AtomicInteger();

    public RejectionLog(String who) {
        this(who, System.err);
    }

    RejectionLog(String who, PrintStream out) {
        this.who = who;
        this.out = out;
    }

    public void refused(String peer, String reason) {
        int n = logged.incrementAndGet();
        if (n <= LIMIT) {
            out.println("tp4j: " + who + " refused a connection from " + peer + ": " + reason);
        } else if (n == LIMIT + 1) {
            out.println("tp4j: " + who + " refused more than " + LIMIT + " connections; not logging further ones");
        }
    }

    public int count() {
        return logged.get();
    }
}
