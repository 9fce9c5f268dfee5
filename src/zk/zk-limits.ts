/** The ZooKeeper front end's named limits. Operator-facing ones are in docs/operations.md. */
export const zkLimits = Object.freeze({
  /**
   * Largest request frame a client may send, and largest data of a znode, in bytes:
   * ZooKeeper's `jute.maxbuffer` default (0xfffff). A larger frame closes the connection.
   */
  requestBytesMax: 0xfffff,
  /** Sessions open at once in the cluster; a connect beyond it is refused. */
  sessionsMax: 65_536,
  /** Operations in one multi. */
  multiOpsMax: 1_000,
  /** Entries in one ACL. */
  aclEntriesMax: 64,
  /** Sessions one touch or expire command names (more wait for the next). */
  sessionsPerCommandMax: 1_024,
  /** Nodes one `node-expire` command names (more wait for the next check). */
  expiringNodesPerCommandMax: 1_024,
  /** Longest session timeout a command may carry, ms (servers negotiate within their own min and max, below this). */
  sessionTimeoutMsMax: 24 * 60 * 60 * 1000,
});
