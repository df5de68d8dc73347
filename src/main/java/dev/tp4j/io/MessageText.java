package dev.tp4j.io;

/**
 * Renders names and header values for error messages that must stay on one line: a tensor name or a
 * JSON value comes from the file, so it may hold line breaks or be arbitrarily long.
 */
public final class MessageText {
    private static final int MAX_VALUE_CHARS = 80;

    private MessageText() {
    }

    /** {@code 'name'} with control characters escaped. */
    public static String quoted(String name) {
        StringBuilder out = new StringBuilder(name.length() + 2).append('\'');
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c == '\n') {
                out.append("\\n");
            } else if (c == '\r') {
                out.append("\\r");
            } else if (c == '\t') {
                out.append("\\t");
            } else if (Character.isISOControl(c)) {
                out.append(String.format("\\u%04x", (int) c));
            } else {
                out.append(c);
            }
        }
        return out.append('\'').toString();
    }

    /** A value's text cut to a readable length, on one line. */
    static String abbreviated(String text) {
        String oneLine = text.replace("\r", "\\r").replace("\n", "\\n");
        if (oneLine.length() <= MAX_VALUE_CHARS) {
            return oneLine;
        }
        return oneLine.substring(0, MAX_VALUE_CHARS) + "...";
    }
}
