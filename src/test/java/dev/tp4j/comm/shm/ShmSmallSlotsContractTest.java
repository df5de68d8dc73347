package dev.tp4j.comm.shm;

/**
 * The communicator contract over shared memory with the smallest slots it accepts (64 bytes per rank),
 * so that every collective beyond a few elements runs in many segments and every segment boundary and
 * the alternation of slot sets are exercised. The 100k-element size is left out: at 16 floats per rank
 * per segment it would take thousands of phases per collective for no new boundary.
 */
class ShmSmallSlotsContractTest extends ShmCommunicatorContractTest {

    @Override
    int slotBytes(int worldSize) {
        return 64 * worldSize;
    }

    @Override
    protected int[] sizes() {
        return new int[] {0, 1, 2, 3, 7, 13, 1021};
    }
}
