package dev.tp4j.cli;

import dev.tp4j.checkpoint.LoadListener;
import dev.tp4j.comm.TrafficReport;
import dev.tp4j.tensor.DType;
import dev.tp4j.tensor.Shape;
import java.io.PrintStream;
import java.util.Locale;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;

/**
 * Rank 0's view of its shard load: a progress bar on the terminal when a person watches and the shard
 * is large enough to wait for, otherwise one plain line per tensor. The other ranks load quietly (their
 * bytes and times are in the final report).
 */
final class LoadProgress {
    /** Below this many stored bytes a load takes well under a second: lines say enough. */
    static final long BAR_THRESHOLD_BYTES = 256L << 20;

    private LoadProgress() {
    }

    static LoadListener forRank(int rank, PrintStream lines) {
        return forRank(rank, lines, System.err);
    }

    /** Progress from rank 0 only; a warning about NaN or Inf in a shard from whichever rank holds it. */
    static LoadListener forRank(int rank, PrintStream lines, PrintStream warnings) {
        LoadListener progress = rank != 0 ? LoadListener.NONE : Terminal.watched() ? new BarOrLines(lines) : new Lines(lines);
        return new LoadListener() {
            @Override
            public void started(long totalBytes) {
                progress.started(totalBytes);
            }

            @Override
            public void advanced(long bytes) {
                progress.advanced(bytes);
            }

            @Override
            public void tensorLoaded(String name, Shape shard, DType stored, long bytes, long nanos) {
                progress.tensorLoaded(name, shard, stored, bytes, nanos);
            }

            @Override
            public void nonFinite(String name, long count, long first) {
                warnings.printf(Locale.ROOT, "tp4j: warning: rank %d: %s holds %d NaN or infinite value%s in its shard "
                        + "(first at element %d): outputs that read it will be NaN%n", rank, name, count,
                        count == 1 ? "" : "s", first);
                warnings.flush();
            }

            @Override
            public void finished() {
                progress.finished();
            }
        };
    }

    /** A line per tensor: name, shard shape, stored dtype, bytes, time. */
    static class Lines implements LoadListener {
        private final PrintStream out;

        Lines(PrintStream out) {
            this.out = out;
        }

        @Override
        public void tensorLoaded(String name, Shape shard, DType stored, long bytes, long nanos) {
            out.printf(Locale.ROOT, "loaded %s: shard %s of %s, %s in %.3f s%n", name, shard, stored,
                    TrafficReport.bytes(bytes), nanos / 1e9);
            out.flush();
        }
    }

    /** A bar on /dev/tty for a large shard; lines when the shard is small or no terminal can be opened. */
    static final class BarOrLines extends Lines {
        private PrintStream tty;
        private ProgressBar bar;

        BarOrLines(PrintStream out) {
            super(out);
        }

        @Override
        public void started(long totalBytes) {
            if (totalBytes < BAR_THRESHOLD_BYTES || (tty = Terminal.open()) == null) {
                return;
            }
            bar = new ProgressBarBuilder()
                    .setTaskName("loading shard")
                    .setInitialMax(totalBytes)
                    .setUnit(" MiB", 1 << 20)
                    .showSpeed()
                    .setUpdateIntervalMillis(200)
                    .clearDisplayOnFinish()
                    .setConsumer(new ConsoleProgressBarConsumer(tty, 100))
                    .build();
        }

        @Override
        public void advanced(long bytes) {
            if (bar != null) {
                bar.stepBy(bytes);
            }
        }

        @Override
        public void tensorLoaded(String name, Shape shard, DType stored, long bytes, long nanos) {
            if (bar == null) {
                super.tensorLoaded(name, shard, stored, bytes, nanos);
            } else {
                bar.setExtraMessage(name);
            }
        }

        @Override
        public void finished() {
            if (bar != null) {
                bar.close();
                bar = null;
            }
            if (tty != null) {
                tty.close(); // closes our descriptor of /dev/tty, not the terminal
                tty = null;
            }
        }
    }
}
