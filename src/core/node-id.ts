/** Identifies a node (voter or observer) in a cluster. Unique per cluster, non-empty. */
export type NodeId = string;
