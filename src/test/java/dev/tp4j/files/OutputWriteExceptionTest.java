package dev.tp4j.files;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Issue 14, fault 5: a full disk said "UncheckedIOException: ..."; now the file and the reason in words. */
class OutputWriteExceptionTest {

    private static String message(IOException cause) {
        return new OutputWriteException(Path.of("out.safetensors"), cause).getMessage();
    }

    @Test
    void whatTheSystemSaidIsNamedWithTheFile() {
        // FileChannel.write's own words, and Files.write's FileSystemException with the file and a reason
        assertEquals("out.safetensors: cannot write: no space left on device", message(new IOException("No space left on device")));
        assertEquals("out.safetensors: cannot write: no space left on device",
                message(new FileSystemException("/t/.out.tmp", null, "No space left on device")));
        assertEquals("out.safetensors: cannot write: disk quota exceeded", message(new IOException("Disk quota exceeded")));
        assertEquals("out.safetensors: cannot write: file too large (the file-size limit of this process, ulimit -f, "
                + "or of the file system)", message(new IOException("File too large")));
        assertEquals("out.safetensors: cannot write: read-only file system",
                message(new FileSystemException("/t/.out.tmp", null, "Read-only file system")));
        assertEquals("out.safetensors: cannot write: Permission denied (/t)",
                message(new AccessDeniedException("/t", null, "Permission denied")));
        assertEquals("out.safetensors: cannot write: IOException", message(new IOException()));
    }
}
