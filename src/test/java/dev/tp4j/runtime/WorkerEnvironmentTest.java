package dev.tp4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tp4j.BadInputException;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The worker-environment contract under each launcher, with the variables those launchers really set
 * (copied from srun 22.05, sbatch and Open MPI 4.1 on Debian bookworm: see .ci/launchers/), and each
 * contradiction refused with the variables named.
 */
@Timeout(10)
class WorkerEnvironmentTest {

    /** Task {@code rank} of {@code srun -n world} on one node "vm", job 1234, step 2. */
    private static Map<String, String> srunTask(int rank, int world) {
        Map<String, String> env = new HashMap<>();
        env.put("SLURM_JOB_ID", "1234");
        env.put("SLURM_STEP_ID", "2");
        env.put("SLURM_PROCID", Integer.toString(rank));
        env.put("SLURM_LOCALID", Integer.toString(rank));
        env.put("SLURM_NTASKS", Integer.toString(world));
        env.put("SLURM_NODEID", "0");
        env.put("SLURM_STEP_TASKS_PER_NODE", Integer.toString(world));
        env.put("SLURM_TASKS_PER_NODE", Integer.toString(world));
        env.put("SLURM_STEP_NODELIST", "vm");
        env.put("SLURM_JOB_NODELIST", "vm");
        return env;
    }

    /** A batch script's own environment ({@code sbatch -n 4}): no step, SLURM_PROCID 0. */
    private static Map<String, String> batchScript() {
        Map<String, String> env = srunTask(0, 4);
        env.remove("SLURM_STEP_ID");
        env.remove("SLURM_STEP_TASKS_PER_NODE");
        env.remove("SLURM_STEP_NODELIST");
        return env;
    }

    /** Rank {@code rank} of {@code mpirun -n world}, all on this host. */
    private static Map<String, String> mpirunRank(Map<String, String> inherited, int rank, int world) {
        Map<String, String> env = new HashMap<>(inherited);
        env.put("OMPI_COMM_WORLD_RANK", Integer.toString(rank));
        env.put("OMPI_COMM_WORLD_SIZE", Integer.toString(world));
        env.put("OMPI_COMM_WORLD_LOCAL_RANK", Integer.toString(rank));
        env.put("OMPI_COMM_WORLD_LOCAL_SIZE", Integer.toString(world));
        return env;
    }

    private static Map<String, String> with(Map<String, String> env, String... pairs) {
        Map<String, String> copy = new HashMap<>(env);
        for (int i = 0; i < pairs.length; i += 2) {
            if (pairs[i + 1] == null) {
                copy.remove(pairs[i]);
            } else {
                copy.put(pairs[i], pairs[i + 1]);
            }
        }
        return copy;
    }

    private static String refused(Map<String, String> env) {
        return assertThrows(BadInputException.class, () -> WorkerEnvironment.from(env)).getMessage();
    }

    // --- what each launcher gives ---

    @Test
    void noLauncherIsOneRankAlone() {
        assertEquals(new WorkerEnvironment(0, 1, 0, 1, "127.0.0.1", 29500, null, "single"),
                WorkerEnvironment.from(Map.of()));
    }

    @Test
    void torchrunsNamesAreReadAsGiven() {
        WorkerEnvironment env = WorkerEnvironment.from(Map.of("RANK", "5", "WORLD_SIZE", "8", "LOCAL_RANK", "1",
                "LOCAL_WORLD_SIZE", "4", "MASTER_ADDR", "node7", "MASTER_PORT", "29400", "TP4J_JOB_TOKEN", "s"));
        assertEquals(new WorkerEnvironment(5, 8, 1, 4, "node7", 29400, "s", "torchrun"), env);
    }

    @Test
    void anSrunTaskFindsRankZerosHostAndAPortOfItsJobAndStep() {
        assertEquals(new WorkerEnvironment(3, 4, 3, 4, "vm", 15000 + 10 * 234 + 2, null, "slurm"),
                WorkerEnvironment.from(srunTask(3, 4)));
    }

    @Test
    void anSrunTaskOnTheSecondOfTwoNodesUsesItsOwnNodesTaskCount() {
        Map<String, String> env = with(srunTask(4, 5), "SLURM_NODEID", "1", "SLURM_LOCALID", "1",
                "SLURM_STEP_TASKS_PER_NODE", "3,2", "SLURM_STEP_NODELIST", "gpu[07-08]");
        WorkerEnvironment w = WorkerEnvironment.from(env);
        assertEquals(2, w.localWorldSize());
        assertEquals(1, w.localRank());
        assertEquals("gpu07", w.masterAddr());
    }

    @Test
    void masterAddrAndPortSetUnderSrunWin() {
        WorkerEnvironment w = WorkerEnvironment.from(with(srunTask(0, 2), "MASTER_ADDR", "10.0.0.1",
                "MASTER_PORT", "4000"));
        assertEquals("10.0.0.1", w.masterAddr());
        assertEquals(4000, w.masterPort());
    }

    @Test
    void aBatchScriptsOwnProcessIsNoTaskOfAStep() {
        assertEquals("single", WorkerEnvironment.from(batchScript()).source());
    }

    @Test
    void mpirunInsideABatchScriptIsReadFromOpenMpisNamesNotTheInheritedSlurmProcid() {
        WorkerEnvironment w = WorkerEnvironment.from(mpirunRank(batchScript(), 2, 4));
        assertEquals(new WorkerEnvironment(2, 4, 2, 4, "127.0.0.1", 29500, null, "openmpi"), w);
    }

    @Test
    void mpirunRanksStartedByOrtedUnderAStepStillFollowOpenMpi() {
        // A remote node's orted is started by srun (one task per node): its ranks inherit that step's task.
        WorkerEnvironment w = WorkerEnvironment.from(mpirunRank(with(srunTask(0, 1), "MASTER_ADDR", "n1"), 3, 4));
        assertEquals(3, w.rank());
        assertEquals("openmpi", w.source());
    }

    @Test
    void workersOfTp4jLaunchOrTorchrunInsideAnSrunTaskFollowTheirOwnLauncher() {
        Map<String, String> launched = with(srunTask(1, 2), "RANK", "5", "WORLD_SIZE", "8", "LOCAL_RANK", "1",
                "LOCAL_WORLD_SIZE", "4", "MASTER_ADDR", "n0", "TP4J_LAUNCHER_PID", "4242");
        assertEquals(5, WorkerEnvironment.from(launched).rank());
        Map<String, String> torchrun = with(launched, "TP4J_LAUNCHER_PID", null, "TORCHELASTIC_RUN_ID", "j1");
        assertEquals(5, WorkerEnvironment.from(torchrun).rank());
    }

    @Test
    void anUnmarkedLauncherInsideAnSrunTaskWithALargerWorldIsAJobOfItsOwn() {
        // e.g. a test harness or wrapper script starting 3 workers inside one srun task
        Map<String, String> env = with(srunTask(0, 1), "RANK", "2", "WORLD_SIZE", "3");
        assertEquals(new WorkerEnvironment(2, 3, 2, 3, "127.0.0.1", 29500, null, "torchrun"),
                WorkerEnvironment.from(env));
    }

    @Test
    void torchrunsNamesSetFromSlurmsByHandAgreeAndAreAccepted() {
        Map<String, String> env = with(srunTask(1, 2), "RANK", "1", "WORLD_SIZE", "2");
        assertEquals(new WorkerEnvironment(1, 2, 1, 2, "127.0.0.1", 29500, null, "torchrun"),
                WorkerEnvironment.from(env));
    }

    // --- contradictions and gaps: exit 2 naming the variables, one test each ---

    @Test
    void aRankNotBelowTheWorldSize() {
        assertEquals("RANK=4 is outside 0..3 (WORLD_SIZE=4)", refused(Map.of("RANK", "4", "WORLD_SIZE", "4")));
    }

    @Test
    void aSlurmProcidNotBelowSlurmNtasks() {
        assertEquals("SLURM_PROCID=4 is outside 0..3 (SLURM_NTASKS=4)", refused(with(srunTask(3, 4), "SLURM_PROCID", "4")));
    }

    @Test
    void anOpenMpiRankNotBelowItsSize() {
        assertEquals("OMPI_COMM_WORLD_RANK=2 is outside 0..1 (OMPI_COMM_WORLD_SIZE=2)",
                refused(with(mpirunRank(Map.of(), 1, 2), "OMPI_COMM_WORLD_RANK", "2")));
    }

    @Test
    void aWorldSizeBelowOne() {
        assertEquals("WORLD_SIZE=0 must be at least 1", refused(Map.of("RANK", "0", "WORLD_SIZE", "0")));
    }

    @Test
    void aLocalRankNotBelowTheLocalWorldSize() {
        assertEquals("LOCAL_RANK=2 is outside 0..1 (LOCAL_WORLD_SIZE=2)",
                refused(Map.of("RANK", "3", "WORLD_SIZE", "4", "LOCAL_RANK", "2", "LOCAL_WORLD_SIZE", "2")));
    }

    @Test
    void aSlurmLocalidNotBelowItsNodesTaskCount() {
        assertEquals("SLURM_LOCALID=2 is outside 0..1 (SLURM_STEP_TASKS_PER_NODE='2(x2)' (2 on SLURM_NODEID=1))",
                refused(with(srunTask(3, 4), "SLURM_LOCALID", "2", "SLURM_NODEID", "1",
                        "SLURM_STEP_TASKS_PER_NODE", "2(x2)")));
    }

    @Test
    void anOpenMpiLocalRankNotBelowItsLocalSize() {
        assertEquals("OMPI_COMM_WORLD_LOCAL_RANK=2 is outside 0..1 (OMPI_COMM_WORLD_LOCAL_SIZE=2)",
                refused(with(mpirunRank(Map.of("MASTER_ADDR", "n0"), 3, 4), "OMPI_COMM_WORLD_LOCAL_RANK", "2",
                        "OMPI_COMM_WORLD_LOCAL_SIZE", "2")));
    }

    @Test
    void aLocalWorldLargerThanTheWorld() {
        assertEquals("LOCAL_WORLD_SIZE=8 is outside 1..4 (WORLD_SIZE=4)",
                refused(Map.of("RANK", "0", "WORLD_SIZE", "4", "LOCAL_WORLD_SIZE", "8")));
    }

    @Test
    void aLocalRankAboveTheGlobalRank() {
        assertEquals("LOCAL_RANK=3 is larger than RANK=1",
                refused(Map.of("RANK", "1", "WORLD_SIZE", "4", "LOCAL_RANK", "3")));
    }

    @Test
    void aSlurmNodeidOutsideTheTasksPerNodeList() {
        assertEquals("SLURM_NODEID=2 is outside the 2 nodes of SLURM_STEP_TASKS_PER_NODE='2(x2)'",
                refused(with(srunTask(3, 4), "SLURM_NODEID", "2", "SLURM_STEP_TASKS_PER_NODE", "2(x2)")));
    }

    @Test
    void staleRankAndWorldSizeUnderSrunDisagreeWithSlurmsTask() {
        assertEquals("WORLD_SIZE=1 but SLURM_NTASKS=4: two launchers' variables for one process disagree (stale ones"
                        + " exported by hand? a launcher started inside slurm marks its workers with TORCHELASTIC_RUN_ID"
                        + " or TP4J_LAUNCHER_PID)",
                refused(with(srunTask(2, 4), "RANK", "0", "WORLD_SIZE", "1")));
    }

    @Test
    void rankDisagreeingWithSlurmProcid() {
        String m = refused(with(srunTask(2, 4), "RANK", "0", "WORLD_SIZE", "4"));
        assertEquals("RANK=0 but SLURM_PROCID=2", m.substring(0, m.indexOf(':')));
    }

    @Test
    void rankDisagreeingWithOpenMpisRank() {
        String m = refused(with(mpirunRank(Map.of(), 1, 2), "RANK", "0", "WORLD_SIZE", "2"));
        assertEquals("RANK=0 but OMPI_COMM_WORLD_RANK=1", m.substring(0, m.indexOf(':')));
    }

    @Test
    void worldSizeSmallerThanOpenMpisSize() {
        String m = refused(with(mpirunRank(Map.of(), 1, 4), "RANK", "1", "WORLD_SIZE", "2"));
        assertEquals("WORLD_SIZE=2 but OMPI_COMM_WORLD_SIZE=4", m.substring(0, m.indexOf(':')));
    }

    @Test
    void localRankDisagreeingWithSlurmLocalid() {
        Map<String, String> env = with(srunTask(3, 4), "SLURM_LOCALID", "1", "SLURM_NODEID", "1",
                "SLURM_STEP_TASKS_PER_NODE", "2(x2)", "RANK", "3", "WORLD_SIZE", "4", "LOCAL_RANK", "0",
                "LOCAL_WORLD_SIZE", "2");
        String m = refused(env);
        assertEquals("LOCAL_RANK=0 but SLURM_LOCALID=1", m.substring(0, m.indexOf(':')));
    }

    @Test
    void rankWithoutWorldSize() {
        assertEquals("RANK=2 is set but WORLD_SIZE is not", refused(Map.of("RANK", "2")));
    }

    @Test
    void worldSizeWithoutRank() {
        assertEquals("WORLD_SIZE=4 is set but RANK is not", refused(Map.of("WORLD_SIZE", "4")));
    }

    @Test
    void anOpenMpiRankWithoutItsSize() {
        assertEquals("OMPI_COMM_WORLD_RANK is set but OMPI_COMM_WORLD_SIZE is not",
                refused(with(mpirunRank(Map.of(), 0, 2), "OMPI_COMM_WORLD_SIZE", null)));
    }

    @Test
    void aSlurmProcidWithoutSlurmNtasks() {
        assertEquals("SLURM_PROCID is set but SLURM_NTASKS is not", refused(with(srunTask(0, 2), "SLURM_NTASKS", null)));
    }

    @Test
    void ranksOnSeveralHostsUnderMpirunWithoutMasterAddr() {
        assertEquals("MASTER_ADDR is not set, but only OMPI_COMM_WORLD_LOCAL_SIZE=2 of OMPI_COMM_WORLD_SIZE=4 ranks run"
                        + " on this host: set it to rank 0's host on every host (mpirun -x MASTER_ADDR)",
                refused(with(mpirunRank(Map.of(), 3, 4), "OMPI_COMM_WORLD_LOCAL_RANK", "1",
                        "OMPI_COMM_WORLD_LOCAL_SIZE", "2")));
    }

    @Test
    void ranksOnSeveralHostsWithTorchrunsNamesWithoutMasterAddr() {
        assertEquals("MASTER_ADDR is not set, but only LOCAL_WORLD_SIZE=2 of WORLD_SIZE=4 ranks run on this host:"
                        + " set it to rank 0's host on every host",
                refused(Map.of("RANK", "3", "WORLD_SIZE", "4", "LOCAL_WORLD_SIZE", "2")));
    }

    @Test
    void aVariableThatIsNoInteger() {
        assertEquals("SLURM_PROCID='x' is not an integer", refused(with(srunTask(0, 2), "SLURM_PROCID", "x")));
    }

    @Test
    void aTasksPerNodeListNotUnderstood() {
        assertEquals("SLURM_STEP_TASKS_PER_NODE='4(y2)' is not understood (expected e.g. 4 or 4(x2),3)",
                refused(with(srunTask(0, 2), "SLURM_STEP_TASKS_PER_NODE", "4(y2)")));
    }

    @Test
    void aNodelistWithUnbalancedBrackets() {
        assertEquals("SLURM_STEP_NODELIST='node[01-02' has unbalanced brackets",
                refused(with(srunTask(0, 2), "SLURM_STEP_NODELIST", "node[01-02")));
    }

    // --- Slurm's compact lists ---

    @Test
    void theFirstHostOfAHostlistKeepsItsPaddingAndSkipsTheOtherItems() {
        assertEquals("node01", SlurmNodeLists.firstHost("L", "node[01-04,07],gpu3"));
        assertEquals("gpu3", SlurmNodeLists.firstHost("L", "gpu3,node[01-04]"));
        assertEquals("rack2-n005", SlurmNodeLists.firstHost("L", "rack[2-3]-n[005,009]"));
        assertEquals("a7", SlurmNodeLists.firstHost("L", "a[7]"));
    }

    @Test
    void tasksPerNodeExpandsRepeats() {
        assertEquals(4, SlurmNodeLists.tasksOnNode("T", "4(x2),3", 0));
        assertEquals(4, SlurmNodeLists.tasksOnNode("T", "4(x2),3", 1));
        assertEquals(3, SlurmNodeLists.tasksOnNode("T", "4(x2),3", 2));
        assertEquals(1, SlurmNodeLists.tasksOnNode("T", "2,1", 1));
    }
}
