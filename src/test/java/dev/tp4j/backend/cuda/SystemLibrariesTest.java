package dev.tp4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Finding the CUDA libraries by name, for {@code tp4j info} (no GPU, nothing loaded). */
class SystemLibrariesTest {

    @Test
    void requiredSonamesFollowTheCudaMajor() {
        assertEquals(List.of("libcuda.so.1", "libcudart.so.13", "libcublas.so.13", "libcublasLt.so.13",
                "libnvrtc.so.13", "libnccl.so.2"), SystemLibraries.required(13));
        assertTrue(SystemLibraries.required(12).contains("libcublas.so.12"));
        int major = SystemLibraries.bindingsMajor();
        assertTrue(major == 12 || major == 13, "bindings major " + major);
    }

    @Test
    void searchPathReadsLdLibraryPathAndLdSoConfIncludes(@TempDir Path dir) throws IOException {
        Path a = Files.createDirectories(dir.resolve("a"));
        Path b = Files.createDirectories(dir.resolve("b"));
        Path confD = Files.createDirectories(dir.resolve("ld.so.conf.d"));
        Files.writeString(confD.resolve("cuda.conf"), "# cuda\n" + b + "\n");
        Path conf = Files.writeString(dir.resolve("ld.so.conf"), "include ld.so.conf.d/*.conf\n");
        List<Path> path = SystemLibraries.searchPath(a + "::", conf);
        assertEquals(a, path.get(0));
        assertEquals(b, path.get(1));
        assertTrue(path.contains(Path.of("/usr/lib/x86_64-linux-gnu")));

        Files.createFile(b.resolve("libcudart.so.13"));
        Map<String, Path> found = SystemLibraries.locate(SystemLibraries.required(13), path.subList(0, 2));
        assertEquals(b, found.get("libcudart.so.13"));
        assertNull(found.get("libcuda.so.1"));
    }
}
