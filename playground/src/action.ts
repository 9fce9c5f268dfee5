import type { NodeId } from '../../src/core/index.js';

/**
 * What the user did to the cluster. Recorded with the number of events done before
 * it, so a hand-made run replays exactly (the simulator is deterministic).
 */
export type Action =
  /** A command proposed to the leader (or to `to`). */
  | { readonly kind: 'propose'; readonly text: string; readonly to?: NodeId }
  /** A member killed; with `keepUnsynced`, its completed but unsynced writes survive. */
  | { readonly kind: 'crash'; readonly node: NodeId; readonly keepUnsynced: boolean }
  /** A killed member restarted from its disk. */
  | { readonly kind: 'restart'; readonly node: NodeId }
  /** The links now cut, each `[from, to]` (one way); every other link works. */
  | { readonly kind: 'links'; readonly cuts: readonly (readonly [NodeId, NodeId])[] }
  /** The message in flight sent as `order` is lost. */
  | { readonly kind: 'drop'; readonly order: number }
  /** The message in flight sent as `order` arrives twice. */
  | { readonly kind: 'duplicate'; readonly order: number };
