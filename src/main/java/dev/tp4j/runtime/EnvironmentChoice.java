package dev.tp4j.runtime;

import dev.tp4j.runtime.WorkerEnvironment.BadEnvironmentException;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/** Reads a choice among an enum's constants from an environment variable (TP4J_BACKEND, TP4J_TRANSPORT). */
public final class EnvironmentChoice {
    private EnvironmentChoice() {
    }

    /**
     * The constant named by {@code variable} in {@code env} (case and surrounding blanks ignored),
     * {@code unset} when it is absent or blank; any other value is bad input naming the variable and the choices.
     */
    public static <E extends Enum<E>> E parse(Map<String, String> env, String variable, Class<E> type, E unset) {
        String v = env.get(variable);
        if (v == null || v.isBlank()) {
            return unset;
        }
        try {
            return Enum.valueOf(type, v.trim().toLowerCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new BadEnvironmentException(variable + "='" + v + "' is not one of " + Arrays.stream(type.getEnumConstants())
                    .map(Enum::name).collect(Collectors.joining(", ")));
        }
    }
}
