package dev.tp4j.runtime;

import java.util.Map;

/**
 * Which compute backend a worker uses: {@code auto} (CUDA when a device is visible, else CPU), {@code cpu}
 * or {@code cuda}. {@code tp4j launch --backend X} hands the choice to its workers in the environment
 * variable {@value #ENV}, so a worker started by any launcher (srun, mpirun, a plain shell) reads it the
 * same way.
 */
public enum BackendChoice {
    auto, cpu, cuda;

    /** The environment variable that carries the choice to a worker. */
    public static final String ENV = "TP4J_BACKEND";

    /** The choice in {@code env}, {@link #auto} when unset or blank; a value not understood is bad input. */
    public static BackendChoice fromEnvironment(Map<String, String> env) {
        return EnvironmentChoice.parse(env, ENV, BackendChoice.class, auto);
    }

    public static BackendChoice fromSystem() {
        return fromEnvironment(System.getenv());
    }
}
