package dev.tp4j.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Reads byte regions of a file through read-only memory mappings of bounded size, and counts what it
 * maps and what it reads.
 *
 * <p>A mapping never exceeds the window size: {@link FileChannel#map} cannot map more than 2 GiB at
 * once, and checkpoints are often larger, so a file is never mapped whole. Only the bytes a read needs
 * are mapped; the one exception is a gap between two strided regions (the other ranks' columns of a
 * row) no larger than {@code maxGapBytes}, which is mapped over so that a column shard of a matrix with
 * thousands of rows costs a few mappings instead of one per row. Mapping a gap costs address space,
 * not I/O: its bytes are never read.
 *
 * <p>Thread-safe: mappings are independent and the counters are atomic.
 */
final class MappedRegionReader {
    static final long DEFAULT_WINDOW_BYTES = 1L << 30;
    static final long DEFAULT_MAX_GAP_BYTES = 1L << 20;

    /** Receives consecutive little-endian chunks of the requested regions, in file order. */
    interface ChunkSink {
        void accept(ByteBuffer chunk);
    }

    private final FileChannel channel;
    private final long windowBytes;
    private final long maxGapBytes;
    private final AtomicLong bytesRead = new AtomicLong();
    private final AtomicLong bytesMapped = new AtomicLong();
    private final AtomicLong mappings = new AtomicLong();

    MappedRegionReader(FileChannel channel, long windowBytes, long maxGapBytes) {
        if (windowBytes < 1 || windowBytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("window must be 1 to " + Integer.MAX_VALUE + " bytes, got " + windowBytes);
        }
        if (maxGapBytes < 0) {
            throw new IllegalArgumentException("maxGapBytes must be >= 0, got " + maxGapBytes);
        }
        this.channel = channel;
        this.windowBytes = windowBytes;
        this.maxGapBytes = maxGapBytes;
    }

    /**
     * Reads {@code regionCount} regions of {@code regionBytes} bytes each, region {@code i} starting at
     * file offset {@code firstRegionStart + i * stride}, and hands them to {@code sink} in order. A region
     * larger than a window arrives in several chunks, split only at multiples of {@code elementBytes}
     * from the region's start so that no element is ever cut in two.
     */
    void readStrided(long firstRegionStart, long regionBytes, long stride, long regionCount, int elementBytes,
                     ChunkSink sink) throws IOException {
        if (regionCount > 1 && stride < regionBytes) {
            throw new IllegalArgumentException("stride " + stride + " is shorter than the region (" + regionBytes + " bytes)");
        }
        if (elementBytes < 1 || regionBytes % elementBytes != 0) {
            throw new IllegalArgumentException(regionBytes + "-byte regions are not whole " + elementBytes + "-byte elements");
        }
        if (regionBytes == 0 || regionCount == 0) {
            return;
        }
        long window = Math.max(elementBytes, windowBytes - windowBytes % elementBytes);
        boolean joinRegions = regionCount > 1 && stride - regionBytes <= maxGapBytes;

        long region = 0;
        long doneInRegion = 0;
        while (region < regionCount) {
            long regionStart = firstRegionStart + region * stride;
            long regionEnd = regionStart + regionBytes;
            long windowStart = regionStart + doneInRegion;
            long firstPieceEnd = Math.min(regionEnd, windowStart + window);
            boolean regionFinished = firstPieceEnd == regionEnd;

            // Extend the window over whole following regions while it stays within its size limit.
            long windowEnd = firstPieceEnd;
            long afterLastWhole = region + 1;
            if (regionFinished && joinRegions) {
                while (afterLastWhole < regionCount) {
                    long end = firstRegionStart + afterLastWhole * stride + regionBytes;
                    if (end - windowStart > window) {
                        break;
                    }
                    windowEnd = end;
                    afterLastWhole++;
                }
            }

            MappedByteBuffer mapped = channel.map(FileChannel.MapMode.READ_ONLY, windowStart, windowEnd - windowStart);
            mappings.incrementAndGet();
            bytesMapped.addAndGet(windowEnd - windowStart);
            deliver(mapped, 0, firstPieceEnd - windowStart, sink);
            if (regionFinished) {
                for (long k = region + 1; k < afterLastWhole; k++) {
                    deliver(mapped, firstRegionStart + k * stride - windowStart, regionBytes, sink);
                }
                region = afterLastWhole;
                doneInRegion = 0;
            } else {
                doneInRegion += firstPieceEnd - windowStart;
            }
        }
    }

    private void deliver(MappedByteBuffer mapped, long offset, long length, ChunkSink sink) {
        ByteBuffer chunk = mapped.slice(Math.toIntExact(offset), Math.toIntExact(length)).order(ByteOrder.LITTLE_ENDIAN);
        sink.accept(chunk);
        bytesRead.addAndGet(length);
    }

    /** Bytes handed to sinks so far: the bytes of the file actually read. */
    long bytesRead() {
        return bytesRead.get();
    }

    /** Bytes mapped so far (read bytes plus any small gaps mapped over). */
    long bytesMapped() {
        return bytesMapped.get();
    }

    /** Number of mappings made so far. */
    long mappings() {
        return mappings.get();
    }
}
