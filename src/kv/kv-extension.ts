/**
 * A second state machine carried in the KV's log: its commands and results are bytes
 * the KV does not read, applied in log order with the KV's own, and its state rides
 * in the KV's snapshots. One synod group then serves both (the ZooKeeper front end is
 * one), with one log, one leader and one snapshot.
 */
import type { ApplyMeta } from '../runtime/index.js';

/**
 * A state machine run inside the KV's. Deterministic like any (`apply` a pure
 * function of its state, the command and `meta`); the KV never interprets its bytes.
 *
 * @example
 * ```ts
 * const kv = createKvNode({ ..., kv: { extension: myExtension } });
 * const answer = await kv.node.propose({ type: 'extension', data: encodedCommand });
 * ```
 */
export interface KvExtension {
  /**
   * Applies one command; the bytes returned are the proposer's result. Must not throw
   * for bytes it cannot read: answer a refusal instead (a throw would be the command's
   * outcome on every replica, but a refusal is clearer).
   */
  apply(command: Uint8Array, meta: ApplyMeta): Uint8Array;
  /** The whole state as bytes, now: synchronous, as the KV captures its own state. */
  snapshot(): Uint8Array;
  /** Replaces the whole state with a snapshot's; undefined when the snapshot holds none (taken before the extension existed): start empty. */
  restore(data: Uint8Array | undefined): void;
}
