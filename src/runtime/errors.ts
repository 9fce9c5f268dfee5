/**
 * The errors a node's promises reject with. Each extends {@link SynodError}, has a
 * stable `code`, and matches `instanceof` across duplicate copies of the package.
 */
import { type NodeId, SynodError } from '../core/index.js';

/**
 * The node is closed (or failed and closed itself): this node will do nothing more.
 * `cause` says why, if it failed. A command that was pending may still be applied by
 * the other nodes.
 */
export class ClosedError extends SynodError {
  constructor(message = 'the node is closed', options?: { cause?: unknown }) {
    super('CLOSED', message, options);
  }
}

/** The node was used before `start()` resolved. */
export class NotStartedError extends SynodError {
  constructor(api: string) {
    super('NOT_STARTED', `${api}: the node has not started; await node.start() first`);
  }
}

/**
 * This node does not lead and was told not to forward. `leaderHint` names the node
 * it believes leads (if any), and `command` gives the refused command back.
 */
export class NotLeaderError extends SynodError {
  readonly leaderHint: NodeId | undefined;
  readonly command: unknown;

  constructor(leaderHint: NodeId | undefined, command?: unknown) {
    super('NOT_LEADER', leaderHint === undefined ? 'this node does not lead, and knows no leader' : `this node does not lead; try ${leaderHint}`);
    this.leaderHint = leaderHint;
    this.command = command;
  }
}

/**
 * The wait ran out. The command may still be chosen and applied later, unless `sent`
 * is false: then it never left this process (no server was reachable), so it cannot.
 */
export class TimeoutError extends SynodError {
  /** How long the caller waited, in milliseconds. */
  readonly timeoutMs: number;
  /** Whether the request was handed to a server (or a node); if not, it cannot take effect. Default true. */
  readonly sent: boolean;

  constructor(what: string, timeoutMs: number, options: { sent?: boolean } = {}) {
    const sent = options.sent ?? true;
    super('TIMEOUT', `${what} timed out after ${timeoutMs} ms; ${sent ? 'it may still take effect' : 'it was never sent, so it did not take effect'}`);
    this.timeoutMs = timeoutMs;
    this.sent = sent;
  }
}

/** The caller's `AbortSignal` fired. The command may still be chosen and applied later. */
export class AbortedError extends SynodError {
  constructor(what: string, options?: { cause?: unknown }) {
    super('ABORTED', `${what} was aborted; it may still take effect`, options);
  }
}

/**
 * Too many requests wait already (`pendingProposalsMax`, `pendingReadsMax`, or the
 * leader's queue): try again later. The command was not queued; only an earlier
 * attempt of the same request (a retry) could still be applied.
 */
export class OverloadedError extends SynodError {
  readonly limit: number;

  constructor(limit: number, where: 'node' | 'leader' | 'reads') {
    super(
      'OVERLOADED',
      where === 'node'
        ? `${limit} proposals are pending on this node already`
        : where === 'reads'
          ? `${limit} reads are pending on this node already`
          : `the leader's queue is full (${limit} commands)`,
    );
    this.limit = limit;
  }
}

/** A command is larger than `commandBytesMax` (the same on every node), so it is refused before it enters the log. */
export class CommandTooLargeError extends SynodError {
  readonly bytes: number;
  readonly limit: number;

  constructor(bytes: number, limit: number) {
    super('TOO_LARGE', `the command is ${bytes} bytes encoded; the limit is ${limit}`);
    this.bytes = bytes;
    this.limit = limit;
  }
}

/**
 * The request reached the log but was not applied: the deduplication table no longer
 * keeps its outcome. Either it was applied before and this is a late retry (the client
 * moved its `ackedBelow` past it, the table's per-client bound forgot it, or the client
 * was forgotten), or its client had given it up. Its effect is whatever the first
 * attempt had, if any. A client the table does not know whose request was made within
 * `dedup.clockSkewMaxMs` of a forgotten client's last activity is refused the same way
 * (it cannot be told from a late retry); it may simply try again.
 */
export class ResultExpiredError extends SynodError {
  /** The request's client. */
  readonly clientId: string;
  /** The request's sequence number. */
  readonly seq: number;

  constructor(clientId: string, seq: number) {
    super('RESULT_EXPIRED', `request ${seq} of client ${clientId} was not applied: its outcome is no longer kept, or its client gave it up`);
    this.clientId = clientId;
    this.seq = seq;
  }
}

/**
 * The request was applied (once: it is not applied again), but its result is not
 * kept: it was larger than the exactly-once table keeps for one client
 * (`dedup.resultBytesPerClientMax`), or it was dropped later to keep the table within
 * its byte bounds (`dedup.resultBytesPerClientMax`, `dedup.resultBytesMax`). Only a
 * retry gets this error; the first attempt got the result. Read what the request
 * changed instead, or make its result smaller.
 *
 * @example
 * ```ts
 * try { await node.propose(command, { request }); }
 * catch (e) { if (e instanceof ResultDroppedError) console.log(`${e.clientId}/${e.seq} took effect; its result is gone`); }
 * ```
 */
export class ResultDroppedError extends SynodError {
  /** The request's client. */
  readonly clientId: string;
  /** The request's sequence number. */
  readonly seq: number;

  constructor(clientId: string, seq: number) {
    super('RESULT_DROPPED', `request ${seq} of client ${clientId} was applied, but its result was too large to keep for a retry`);
    this.clientId = clientId;
    this.seq = seq;
  }
}

/** The state machine threw while applying the command (on every replica alike); `cause` is what it threw. */
export class ApplyError extends SynodError {
  /** The slot that carried the command. */
  readonly slot: number;

  constructor(slot: number, cause: unknown) {
    super('APPLY', `the state machine threw applying the command in slot ${slot}`, { cause });
    this.slot = slot;
  }
}

/**
 * A snapshot could not be read: damaged or of an unknown format, from the storage or
 * from a peer. One from a peer is refused (and asked for again); one from the storage
 * stops the node from starting.
 */
export class SnapshotError extends SynodError {
  constructor(why: string, options?: { cause?: unknown }) {
    super('SNAPSHOT', `snapshot unreadable: ${why}`, options);
  }
}

/** The Storage failed a write or a load; the node fails closed. `cause` is the storage's error. */
export class StorageError extends SynodError {
  constructor(operation: string, cause: unknown) {
    super(
      'STORAGE',
      `storage ${operation} failed (${cause instanceof Error ? cause.message : String(cause)}); the node stops rather than acknowledge what may not be durable`,
      { cause },
    );
  }
}

/** A leadership transfer did not complete: the target did not take over in time, or cannot lead. */
export class TransferError extends SynodError {
  readonly target: NodeId;

  constructor(target: NodeId, why: string) {
    super('TRANSFER', `leadership transfer to ${target} failed: ${why}`);
    this.target = target;
  }
}

/**
 * A membership change was refused, the cluster unchanged: `reason` says why (an
 * unknown or duplicate id, a bad address, removing the last voter, promoting an
 * observer that is behind, another change in progress), or a change this node queued
 * was superseded by another configuration.
 */
export class MembershipError extends SynodError {
  /** Why, as a stable word: `unknown-member`, `already-member`, `not-observer`, `not-voter`, `last-voter`, `bad-address`, `invalid`, `behind`, `in-progress`, `would-lose-quorum`, `superseded`. */
  readonly reason: string;

  constructor(reason: string, why: string) {
    super('MEMBERSHIP', `membership change refused (${reason}): ${why}`);
    this.reason = reason;
  }
}
