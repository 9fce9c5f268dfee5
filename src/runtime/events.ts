import type { Configuration, NodeId, Role } from '../core/index.js';

/** Every event a node emits, by name, with its payload. */
export interface NodeEvents {
  /** The node this replica believes leads changed (undefined while it knows none). */
  leaderChange: { readonly leader: NodeId | undefined };
  /** This replica's own role changed. */
  roleChange: { readonly role: Role; readonly previous: Role };
  /**
   * A new configuration was chosen: it governs the slots from `from` on (once the
   * commit index reaches `from - 1`, it is in effect).
   */
  configuration: { readonly configuration: Configuration; readonly from: number };
  /** The commit index moved: every slot up to it is chosen. */
  commit: { readonly commitIndex: number };
  /** The state machine applied every slot up to `appliedIndex`. */
  apply: { readonly appliedIndex: number };
  /** A peer became unreachable or reachable again, as the transport reports it. */
  peer: { readonly peer: NodeId; readonly reachable: boolean };
  /**
   * Something went wrong. Fatal (a storage failure, a broken invariant): the node
   * closes itself. Not fatal: a transport's `send` threw, or the log held a command the
   * runtime could not read (skipped on every replica alike).
   */
  error: { readonly error: Error; readonly fatal: boolean };
}

/** A listener for event `E`. */
export type NodeListener<E extends keyof NodeEvents> = (payload: NodeEvents[E]) => void;
