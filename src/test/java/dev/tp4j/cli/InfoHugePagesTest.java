package dev.tp4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InfoHugePagesTest {
    @TempDir
    Path dir;

    private Path mode(String line) throws Exception {
        Path file = dir.resolve("enabled");
        Files.writeString(file, line + "\n");
        return file;
    }

    @Test
    void readsTheKernelsBracketedModeAndMallocsSetting() throws Exception {
        assertEquals("kernel mode madvise; malloc asks for them: yes (GLIBC_TUNABLES glibc.malloc.hugetlb=1)",
                InfoCommand.hugePages("glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1",
                        mode("always [madvise] never")));
        assertEquals("kernel mode always; malloc asks for them: no (GLIBC_TUNABLES glibc.malloc.hugetlb=unset)",
                InfoCommand.hugePages(null, mode("[always] madvise never")));
        assertEquals("kernel mode madvise; malloc asks for them: no (GLIBC_TUNABLES glibc.malloc.hugetlb=0)",
                InfoCommand.hugePages("glibc.malloc.hugetlb=0", mode("always [madvise] never")));
    }

    @Test
    void saysWhenTheKernelGivesNoneOrCannotBeRead() throws Exception {
        assertEquals("kernel mode never; malloc asks for them: yes (GLIBC_TUNABLES glibc.malloc.hugetlb=1); "
                + "the kernel gives none", InfoCommand.hugePages("glibc.malloc.hugetlb=1", mode("always madvise [never]")));
        Path missing = dir.resolve("absent");
        assertEquals("kernel mode unknown (" + missing + " unreadable); malloc asks for them: yes "
                + "(GLIBC_TUNABLES glibc.malloc.hugetlb=1)", InfoCommand.hugePages("glibc.malloc.hugetlb=1", missing));
    }
}
