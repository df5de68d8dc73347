package dev.tp4j.files;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileSystemException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * An output that could not be written, in one line naming the file and why in words ("out.safetensors:
 * cannot write: no space left on device") rather than the exception's class name. Nothing about the
 * input was wrong, so it is a runtime failure (exit 1), not bad input.
 */
public final class OutputWriteException extends UncheckedIOException {
    private static final long serialVersionUID = 1L;

    public OutputWriteException(Path file, IOException cause) {
        super(file + ": cannot write: " + reason(cause), cause);
    }

    /** What the operating system said, as the user would say it. */
    static String reason(IOException e) {
        String text = e instanceof FileSystemException f && f.getReason() != null ? f.getReason() : e.getMessage();
        if (text == null || text.isBlank()) {
            return e.getClass().getSimpleName();
        }
        String lower = text.toLowerCase(Locale.ROOT);
        if (lower.contains("no space left on device")) {
            return "no space left on device";
        }
        if (lower.contains("disk quota exceeded")) {
            return "disk quota exceeded";
        }
        if (lower.contains("file too large")) {
            return "file too large (the file-size limit of this process, ulimit -f, or of the file system)";
        }
        if (lower.contains("read-only file system")) {
            return "read-only file system";
        }
        String where = e instanceof FileSystemException f && f.getFile() != null ? " (" + f.getFile() + ")" : "";
        return text + where;
    }
}
