package dev.tp4j.runtime;

import java.util.Map;

/**
 * How CPU ranks exchange data: {@code auto} (shared memory when every rank of the job runs on this host
 * and there is more than one, else the TCP ring), {@code shm} (shared memory, refused when the ranks are
 * on different hosts) or {@code tcp} (the ring, always). Read from {@value #ENV}.
 */
public enum TransportChoice {
    auto, shm, tcp;

    /** The environment variable that carries the choice. */
    public static final String ENV = "TP4J_TRANSPORT";

    /** The choice in {@code env}, {@link #auto} when unset or blank; a value not understood is bad input. */
    public static TransportChoice fromEnvironment(Map<String, String> env) {
        return EnvironmentChoice.parse(env, ENV, TransportChoice.class, auto);
    }

    public static TransportChoice fromSystem() {
        return fromEnvironment(System.getenv());
    }
}
