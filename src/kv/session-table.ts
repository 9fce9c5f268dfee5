/**
 * The sessions of the KV state machine and the ephemeral keys each owns. Expiry is
 * judged in log time only (apply is deterministic): a session ends when a `session-expire`
 * command's timestamp passes its expiry, or when it is closed.
 */
import { assert } from '../core/assert.js';
import type { SessionInfo } from './kv-types.js';

/** @internal */
export interface Session {
  readonly id: number;
  readonly ttlMs: number;
  expiresAt: number;
  /** The keys it owns (whose latest put named it). */
  readonly keys: Set<string>;
}

/** @internal */
export class SessionTable {
  private readonly sessions = new Map<number, Session>();
  /** The id the next session gets. */
  nextId = 1;

  get size(): number {
    return this.sessions.size;
  }

  get(id: number): Session | undefined {
    return this.sessions.get(id);
  }

  create(ttlMs: number, now: number): Session {
    const session: Session = { id: this.nextId++, ttlMs, expiresAt: now + ttlMs, keys: new Set() };
    this.sessions.set(session.id, session);
    return session;
  }

  /** Ends a session; returns the keys it owned, sorted. */
  end(id: number): string[] {
    const session = this.sessions.get(id);
    assert(session !== undefined, () => `ending unknown session ${id}`);
    this.sessions.delete(id);
    return [...session.keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** The sessions whose expiry is at or before `now`, by id. */
  expiredAt(now: number): number[] {
    const out: number[] = [];
    for (const session of this.sessions.values()) if (session.expiresAt <= now) out.push(session.id);
    return out.sort((a, b) => a - b);
  }

  /** The earliest expiry of any session, or undefined with none. */
  earliestExpiry(): number | undefined {
    let earliest: number | undefined;
    for (const session of this.sessions.values()) if (earliest === undefined || session.expiresAt < earliest) earliest = session.expiresAt;
    return earliest;
  }

  /** Moves `key` from the session that owned it (if any) to `owner` (if any). */
  own(key: string, from: number | undefined, owner: number | undefined): void {
    if (from === owner) return;
    if (from !== undefined) this.sessions.get(from)?.keys.delete(key);
    if (owner !== undefined) {
      const session = this.sessions.get(owner);
      assert(session !== undefined, () => `key ${key} given to unknown session ${owner}`);
      session.keys.add(key);
    }
  }

  /** Every session, by id. */
  all(): Session[] {
    return [...this.sessions.values()].sort((a, b) => a.id - b.id);
  }

  info(session: Session): SessionInfo {
    return { id: session.id, ttlMs: session.ttlMs, expiresAt: session.expiresAt };
  }

  /** A deep copy, for a snapshot. */
  clone(): SessionTable {
    const copy = new SessionTable();
    copy.nextId = this.nextId;
    for (const s of this.sessions.values()) copy.sessions.set(s.id, { id: s.id, ttlMs: s.ttlMs, expiresAt: s.expiresAt, keys: new Set(s.keys) });
    return copy;
  }

  /** Puts back a session read from a snapshot. */
  restore(session: Session): void {
    assert(!this.sessions.has(session.id) && session.id < this.nextId, () => `restored session ${session.id} is a duplicate or beyond next id ${this.nextId}`);
    this.sessions.set(session.id, session);
  }
}
