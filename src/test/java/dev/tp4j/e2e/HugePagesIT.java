package dev.tp4j.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** bin/tp4j asks glibc's malloc for transparent huge pages, the launcher's workers inherit it, and users can say no. */
class HugePagesIT {
    private static final String ASKED = "malloc asks for them: yes (GLIBC_TUNABLES glibc.malloc.hugetlb=1)";

    @Test
    void everyWorkerAsksForHugePagesBesideTheUsersOtherTunables() throws Exception {
        Tp4jCommand.Result r = Tp4jCommand.run(Map.of("GLIBC_TUNABLES", "glibc.malloc.arena_max=4"), 120,
                "launch", "--nproc-per-node", "2", "info");
        assertEquals(0, r.status(), r::all);
        for (int rank = 0; rank < 2; rank++) {
            String expected = "[" + rank + "]   huge pages:  ";
            assertTrue(r.out().lines().anyMatch(l -> l.startsWith(expected) && l.endsWith(ASKED)), r::all);
        }
    }

    @Test
    void aSettingTheUserMadeIsKept() throws Exception {
        Tp4jCommand.Result r = Tp4jCommand.run(Map.of("GLIBC_TUNABLES", "glibc.malloc.hugetlb=0"), 60, "info");
        assertEquals(0, r.status(), r::all);
        assertTrue(r.out().contains("malloc asks for them: no (GLIBC_TUNABLES glibc.malloc.hugetlb=0)"), r::all);
    }
}
