import type { NodeId } from '../core/index.js';

/** What the runtime tells {@link StateMachine.apply} about the command it applies. */
export interface ApplyMeta {
  /** The slot that chose the command. */
  readonly slot: number;
  /**
   * Log time: milliseconds since the epoch, assigned by the leader that proposed the
   * command and made non-decreasing across the log. The leader reads its wall clock
   * only within 5% of the time its monotonic clock measured since it last stamped or
   * saw a command, so a wall clock step moves log time slowly, not at once. Use it for
   * time-based state (TTLs, display): apply must never read a clock itself (apply is
   * deterministic). For a deadline that must hold to the millisecond whatever the
   * clocks do, let the leader measure it on its monotonic clock and enter the
   * decision, as the KV does for sessions.
   */
  readonly timestamp: number;
  /** The client that proposed the command (by default the proposing node's own client). */
  readonly clientId: string;
  /** The request's sequence number within its client: `clientId` and `seq` identify it. */
  readonly seq: number;
  /** The node whose runtime first proposed the command. */
  readonly origin: NodeId;
}

/** The first step of a snapshot: a cheap, synchronous capture whose `write` runs while applies continue. */
export interface SnapshotCapture {
  /** Serialises the captured state. It may take its time: later applies must not change what it writes. */
  write(): Promise<Uint8Array>;
}

/**
 * The user's replicated state. Every replica applies the same commands in the same
 * order, so `apply` must be deterministic: a pure function of the state and the
 * command (and `meta`), with no clock, randomness or I/O. Its result goes back to the
 * proposer's `propose()` promise.
 *
 * If `apply` throws, the command's outcome is that error on every replica (the
 * proposer's promise rejects with {@link ApplyError}); apply must then leave the state
 * as it was, deterministically.
 *
 * @example
 * ```ts
 * class Counter implements StateMachine<{ add: number }, number> {
 *   total = 0;
 *   apply(command: { add: number }): number { return (this.total += command.add); }
 *   snapshot() { const total = this.total; return { write: async () => new TextEncoder().encode(String(total)) }; }
 *   restore(data: Uint8Array) { this.total = Number(new TextDecoder().decode(data)); }
 * }
 * ```
 */
export interface StateMachine<Command, Result> {
  /**
   * Applies one chosen command and returns the proposer's result. The result is kept
   * as it is (not copied) for a retry of the command and for snapshots, which encode
   * it with the result codec a while later: neither the state machine nor the caller
   * of `propose()` may change it once returned.
   */
  apply(command: Command, meta: ApplyMeta): Result;
  /**
   * Whether `command` only reads: applying it changes no state, whatever the state.
   * Such a command takes no entry in the exactly-once table (its result is not kept
   * for a retry; a retry runs it again, which is harmless), so a client reading large
   * answers through the log holds no memory on the replicas. It must be a pure
   * function of the command, the same on every replica and in every version that
   * replays the same log. Optional: by default every command may write, and keeps
   * its result for retries.
   */
  readOnly?(command: Command): boolean;
  /** Captures the state for a snapshot (step one of two). Optional until snapshots are scheduled. */
  snapshot?(): SnapshotCapture;
  /**
   * Replaces the whole state with a snapshot's. It may return a promise, to restore a
   * large state in steps without holding the event loop: until it settles the node
   * applies nothing and serves no read (it keeps voting and learning), so the state
   * must stay the old one, whole, until the new one replaces it at the end.
   */
  restore?(data: Uint8Array): void | Promise<void>;
}

/** Turns commands into the bytes the log carries, and back. */
export interface Codec<T> {
  encode(value: T): Uint8Array;
  /** Throws on bytes it cannot read. */
  decode(bytes: Uint8Array): T;
  /**
   * Optional: the same bytes as {@link encode}, placed after `headBytes` bytes left for
   * the runtime's envelope, in a buffer of `allocate(length)` (whose first `headBytes`
   * bytes the runtime then writes). The runtime uses it, when given, to build each
   * command's log entry without copying the encoded command into it: worth it for
   * large commands.
   */
  encodeAfter?(value: T, headBytes: number, allocate: (bytes: number) => Uint8Array): Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Commands as JSON text (UTF-8). The default codec. Refuses what JSON cannot hold (`undefined`, functions). */
export const jsonCodec: Codec<unknown> = Object.freeze({
  encode: (value: unknown): Uint8Array => {
    const text = JSON.stringify(value) as string | undefined;
    if (text === undefined) throw new TypeError(`jsonCodec cannot encode ${typeof value}`);
    return encoder.encode(text);
  },
  decode: (bytes: Uint8Array): unknown => JSON.parse(decoder.decode(bytes)) as unknown,
});

/** Commands that are bytes already. */
export const bytesCodec: Codec<Uint8Array> = Object.freeze({
  encode: (value: Uint8Array): Uint8Array => value,
  decode: (bytes: Uint8Array): Uint8Array => bytes,
});

const noBytes = new Uint8Array(0);

/**
 * Results as JSON, with `undefined` (a command that returns nothing) as zero bytes.
 * The default codec of results kept in snapshots.
 */
export const resultJsonCodec: Codec<unknown> = Object.freeze({
  encode: (value: unknown): Uint8Array => (value === undefined ? noBytes : jsonCodec.encode(value)),
  decode: (bytes: Uint8Array): unknown => (bytes.byteLength === 0 ? undefined : jsonCodec.decode(bytes)),
});
