package dev.tp4j.report;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;

/**
 * The top-level record of a task's report. Its JSON object starts with {@code "task"}, so a reader can
 * tell one task's file from another's before reading further; the record's components follow in
 * declaration order (see {@link ReportJson}).
 */
@JsonPropertyOrder({"task"})
public interface Report {

    /** The task that wrote the report, as the command line names it: verify, mlp, bench. */
    @JsonProperty
    String task();
}
