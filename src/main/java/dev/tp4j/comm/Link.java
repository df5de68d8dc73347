package dev.tp4j.comm;

/**
 * One kind of link a communicator moves bytes over, and what it moved: a flat transport is one link (its
 * own stats); a hierarchical one has two, shared memory inside a node and TCP between nodes, so reports
 * can show what crossed the node boundary.
 *
 * @param name  how reports name it, e.g. {@code "shm inside node 0"}
 * @param stats the collectives that ran over it, as that link's own communicator recorded them
 */
public record Link(String name, CommStats stats) {
}
