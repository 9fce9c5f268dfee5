/**
 * ZooKeeper sessions as the replicated state keeps them: id, password, negotiated
 * timeout, and the slot that last renewed them. Expiry is decided by the leader on its
 * monotonic clock and entered in the log; nothing here reads a clock.
 */
import { assert } from '../core/assert.js';

/** One session. @internal */
export interface ZkSession {
  readonly id: number;
  /** 16 bytes chosen by the member that opened it; a reconnect must present them. */
  readonly password: Uint8Array;
  /** Negotiated timeout, ms: the silence after which the leader expires it. */
  readonly ttlMs: number;
  /** The slot of the command that last renewed it (its create, a touch, a write, a new leader's renew). */
  renewedSlot: number;
}

/** The sessions of the tree. @internal */
export class ZkSessionTable {
  private readonly sessions = new Map<number, ZkSession>();
  /** The id the next session gets. */
  nextId = 1;

  get size(): number {
    return this.sessions.size;
  }

  get(id: number): ZkSession | undefined {
    return this.sessions.get(id);
  }

  /** Every session, by id. */
  values(): IterableIterator<ZkSession> {
    return this.sessions.values();
  }

  create(password: Uint8Array, ttlMs: number, slot: number): ZkSession {
    const session: ZkSession = { id: this.nextId++, password, ttlMs, renewedSlot: slot };
    assert(!this.sessions.has(session.id), () => `session id ${session.id} handed out twice`);
    this.sessions.set(session.id, session);
    return session;
  }

  /** Puts a session as a snapshot recorded it. */
  load(session: ZkSession): void {
    this.sessions.set(session.id, session);
  }

  end(id: number): boolean {
    return this.sessions.delete(id);
  }

  clear(): void {
    this.sessions.clear();
    this.nextId = 1;
  }
}
