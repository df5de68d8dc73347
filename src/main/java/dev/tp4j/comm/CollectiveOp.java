package dev.tp4j.comm;

/** The collectives a communicator offers, named as NCCL and torch.distributed name them. */
public enum CollectiveOp {
    ALL_REDUCE("all_reduce"),
    ALL_GATHER("all_gather"),
    REDUCE_SCATTER("reduce_scatter"),
    BROADCAST("broadcast"),
    BARRIER("barrier");

    private final String label;

    CollectiveOp(String label) {
        this.label = label;
    }

    public String label() {
        return label;
    }

    @Override
    public String toString() {
        return label;
    }
}
