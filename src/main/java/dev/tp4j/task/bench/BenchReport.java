package dev.tp4j.task.bench;

import dev.tp4j.report.Report;
import java.util.List;

/**
 * What {@code tp4j bench} reports: rank 0 prints it ({@link BenchReportText}) and {@code --json} writes it
 * ({@link dev.tp4j.report.ReportJson}), both from one instance of this record; {@code --plot-with} reads
 * such a file back ({@link BenchResultsFile}).
 *
 * @param header  the run in one line: ranks, compute, collectives
 * @param results every measurement, in the order they ran
 */
public record BenchReport(String header, List<BenchResult> results) implements Report {
    /** The {@code "task"} of a bench report's JSON: how a reader knows the file for one. */
    public static final String TASK = "bench";

    public BenchReport {
        results = List.copyOf(results);
    }

    @Override
    public String task() {
        return TASK;
    }
}
