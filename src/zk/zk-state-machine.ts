/**
 * The ZooKeeper state machine: the znode tree and its sessions, changed only by
 * {@link ZkCommand}s applied in log order. Deterministic: the zxid is its own revision
 * (every write and session change takes the next), times are the commands' log time.
 */
import { assert, unreachable } from '../core/assert.js';
import type { ZkCommand, ZkResult } from './zk-command.js';
import { zkLimits } from './zk-limits.js';
import { ZkSessionTable } from './zk-session-table.js';
import { ZkTree } from './zk-tree.js';
import type { ZkChange } from './zk-types.js';

/** What the runtime says about the command being applied (a subset of its `ApplyMeta`). */
export interface ZkApplyMeta {
  readonly slot: number;
  /** Log time, ms since the epoch. */
  readonly timestamp: number;
}

/** Told after each applied command: the changes it made (for watches), the zxid after it, and the sessions it ended. */
export interface ZkApplied {
  readonly zxid: number;
  readonly changes: readonly ZkChange[];
  readonly endedSessions: readonly number[];
}

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/**
 * The tree and its sessions as a replicated state machine.
 *
 * @example
 * ```ts
 * const zk = new ZkStateMachine();
 * const opened = zk.apply({ type: 'session-create', password, ttlMs: 10_000 }, { slot: 1, timestamp: Date.now() });
 * ```
 */
export class ZkStateMachine {
  tree = new ZkTree();
  sessions = new ZkSessionTable();
  private zxidNow = 0;
  private time = 0;
  private readonly listeners = new Set<(applied: ZkApplied) => void>();

  /** The zxid of the last change: ZooKeeper's last zxid. */
  get zxid(): number {
    return this.zxidNow;
  }

  /** Log time of the last command applied, ms since the epoch. */
  get logTime(): number {
    return this.time;
  }

  /** Calls `listener` after every applied command that changed something; returns the unsubscribe function. */
  onApplied(listener: (applied: ZkApplied) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  apply(command: ZkCommand, meta: ZkApplyMeta): ZkResult {
    if (meta.timestamp > this.time) this.time = meta.timestamp;
    switch (command.type) {
      case 'session-create': {
        if (!isCount(command.ttlMs) || command.ttlMs === 0 || command.ttlMs > zkLimits.sessionTimeoutMsMax)
          return this.invalid(`a session timeout is 1 to ${zkLimits.sessionTimeoutMsMax} ms, not ${String(command.ttlMs)}`);
        if (command.password.byteLength !== 16) return this.invalid(`a session password is 16 bytes, not ${command.password.byteLength}`);
        if (this.sessions.size >= zkLimits.sessionsMax) return this.invalid(`at most ${zkLimits.sessionsMax} sessions at once`);
        const session = this.sessions.create(command.password.slice(), command.ttlMs, meta.slot);
        this.zxidNow++;
        return { type: 'session', session: session.id, password: session.password, ttlMs: session.ttlMs, zxid: this.zxidNow };
      }
      case 'session-touch':
        if (command.sessions.length > zkLimits.sessionsPerCommandMax) return this.invalid(`a touch names at most ${zkLimits.sessionsPerCommandMax} sessions`);
        for (const id of command.sessions) {
          const session = this.sessions.get(id);
          if (session !== undefined) session.renewedSlot = meta.slot;
        }
        return { type: 'done', zxid: this.zxidNow };
      case 'session-renew':
        for (const session of this.sessions.values()) session.renewedSlot = meta.slot;
        return { type: 'done', zxid: this.zxidNow };
      case 'session-expire': {
        // The leader decided on its state as of `decidedAtSlot`, which must be applied before this slot.
        if (!isCount(command.decidedAtSlot) || command.decidedAtSlot >= meta.slot)
          return this.invalid(`a session-expire in slot ${meta.slot} cannot be decided at slot ${String(command.decidedAtSlot)}`);
        if (command.sessions.length > zkLimits.sessionsPerCommandMax) return this.invalid(`an expire names at most ${zkLimits.sessionsPerCommandMax} sessions`);
        const due = command.sessions.filter((id) => {
          const session = this.sessions.get(id);
          return session !== undefined && session.renewedSlot <= command.decidedAtSlot;
        });
        this.endSessions([...new Set(due)].sort((a, b) => a - b));
        return { type: 'done', zxid: this.zxidNow };
      }
      case 'session-close':
        if (this.sessions.get(command.session) === undefined) return { type: 'no-session', zxid: this.zxidNow };
        this.endSessions([command.session]);
        return { type: 'done', zxid: this.zxidNow };
      case 'write': {
        const session = this.sessions.get(command.session);
        if (session === undefined) return { type: 'no-session', zxid: this.zxidNow };
        if (command.request.op === 'multi' && command.request.ops.length > zkLimits.multiOpsMax)
          return this.invalid(`a multi has at most ${zkLimits.multiOpsMax} operations`);
        session.renewedSlot = meta.slot;
        // Every write takes a zxid, a failed one too (ZooKeeper's error transactions).
        const zxid = this.zxidNow + 1;
        const { result, changes } = this.tree.write(command.request, { session: session.id, auth: command.auth, zxid, time: this.time });
        this.zxidNow = zxid;
        if (changes.length > 0) this.tell({ zxid, changes, endedSessions: [] });
        return { type: 'written', result, zxid };
      }
      case 'node-expire': {
        if (command.nodes.length > zkLimits.expiringNodesPerCommandMax)
          return this.invalid(`a node-expire names at most ${zkLimits.expiringNodesPerCommandMax} nodes`);
        // The leader decided on its clock and its state then; what is no longer eligible now stays.
        const zxid = this.zxidNow + 1;
        const changes = this.tree.expire(command.nodes, zxid);
        if (changes.length > 0) {
          this.zxidNow = zxid;
          this.tell({ zxid, changes, endedSessions: [] });
        }
        return { type: 'done', zxid: this.zxidNow };
      }
      default:
        return unreachable(command);
    }
  }

  /** Ends `ids` (sorted, each live) and deletes their ephemeral nodes, at one new zxid. */
  private endSessions(ids: readonly number[]): void {
    if (ids.length === 0) return;
    const zxid = this.zxidNow + 1;
    const changes: ZkChange[] = [];
    for (const id of ids) {
      changes.push(...this.tree.endSession(id, zxid));
      assert(this.sessions.end(id), () => `session ${id} ended twice`);
    }
    this.zxidNow = zxid;
    this.tell({ zxid, changes, endedSessions: ids });
  }

  private invalid(reason: string): ZkResult {
    return { type: 'invalid', reason, zxid: this.zxidNow };
  }

  private tell(applied: ZkApplied): void {
    for (const listener of this.listeners) listener(applied);
  }

  /** Replaces the state with a snapshot's (see zk-snapshot.ts). @internal */
  replace(state: { tree: ZkTree; sessions: ZkSessionTable; zxid: number; time: number }): void {
    this.tree = state.tree;
    this.sessions = state.sessions;
    this.zxidNow = state.zxid;
    this.time = state.time;
  }
}
