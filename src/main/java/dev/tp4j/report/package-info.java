/**
 * What every task's report has in common: a {@link dev.tp4j.report.Report} is a record of the facts a
 * run found, printed for people by the task's renderer and written for machines by
 * {@link dev.tp4j.report.ReportJson} from the same record, so the two cannot disagree. This package
 * depends on Jackson alone; tasks and the command line depend on it.
 */
package dev.tp4j.report;
