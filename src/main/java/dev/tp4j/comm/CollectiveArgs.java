package dev.tp4j.comm;

import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Tensor;

/**
 * The argument checks every host transport makes before it moves a byte, so that a misuse fails the
 * same way, with the same message, whichever transport the job runs on.
 */
public final class CollectiveArgs {
    private CollectiveArgs() {
    }

    /** {@code counts} has one entry per rank, none negative, this rank's matching {@code local}, summing to {@code gathered}. */
    public static void checkGatherCounts(Tensor local, Tensor gathered, long[] counts, int rank, int worldSize) {
        if (local.dtype() != gathered.dtype()) {
            throw new IllegalArgumentException("all_gather input is " + local.dtype() + ", output " + gathered.dtype());
        }
        if (counts.length != worldSize) {
            throw new IllegalArgumentException("all_gather got " + counts.length + " counts for " + worldSize + " ranks");
        }
        long total = 0;
        for (long c : counts) {
            if (c < 0) {
                throw new IllegalArgumentException("all_gather count " + c + " is negative");
            }
            total += c;
        }
        if (counts[rank] != local.numel()) {
            throw new IllegalArgumentException("all_gather: rank " + rank + " contributes " + local.numel()
                    + " elements but counts[" + rank + "] = " + counts[rank]);
        }
        if (total != gathered.numel()) {
            throw new IllegalArgumentException("all_gather output has " + gathered.numel() + " elements, counts sum to " + total);
        }
        Math.toIntExact(gathered.byteSize());
    }

    /** Elements before rank {@code block}'s part of a gathered tensor. */
    public static int blockOffset(long[] counts, int block) {
        long offset = 0;
        for (int b = 0; b < block; b++) {
            offset += counts[b];
        }
        return Math.toIntExact(offset);
    }

    public static void checkRoot(int root, int worldSize) {
        if (root < 0 || root >= worldSize) {
            throw new IllegalArgumentException("broadcast root " + root + " is not a rank of " + worldSize);
        }
    }

    /** A host tensor without gaps; {@code transport} names who refuses it (e.g. "the TCP ring"). */
    public static void requireHostContiguous(Tensor t, String what, String transport) {
        if (!t.device().isCpu()) {
            throw new IllegalArgumentException(what + " is on " + t.device()
                    + "; " + transport + " moves host tensors (stage device tensors through host memory)");
        }
        if (!t.isContiguous()) {
            throw new IllegalArgumentException(what + " " + t.shape() + " is a strided view; collectives need contiguous tensors");
        }
    }

    public static void requireF32(Tensor t, String what) {
        if (t.dtype() != DType.F32) {
            throw new IllegalArgumentException(what + " is " + t.dtype() + "; sums are of F32 tensors");
        }
    }
}
