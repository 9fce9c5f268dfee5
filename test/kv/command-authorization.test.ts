/**
 * A replicated user's commands are checked again as they apply, against the users and
 * roles as of then: a role revoked, or the user deleted, after its server checked a
 * command (on the way through the log, or on a server that had not applied the change
 * yet) refuses it on every replica alike, and changes nothing. Commands of the shared
 * secret, of configured users and of the leader itself are their server's to check.
 */
import { describe, expect, it } from 'vitest';
import type { KvCommand, KvResult } from '../../src/kv/index.js';
import { KvStateMachine } from '../../src/kv/index.js';

const bytes = (s: string) => new TextEncoder().encode(s);

/** Two replicas fed the same log. */
function replicas() {
  const machines = [new KvStateMachine(), new KvStateMachine()];
  let slot = 0;
  return {
    machines,
    /** Applies `c` as client `clientId` on both; both must answer the same. */
    apply(c: KvCommand, clientId = 'root-client'): KvResult {
      slot++;
      const [a, b] = machines.map((m) => m.apply(c, { slot, timestamp: 1_000 + slot, clientId, seq: slot, origin: 'a' }));
      expect(a).toEqual(b);
      return a!;
    },
  };
}

const alice = 'alice\u0001c1';

describe('a replicated user command, checked as it applies', () => {
  it('runs while the roles allow it; is refused, changing nothing, once they do not; and once the user is gone', () => {
    const r = replicas();
    r.apply({ type: 'auth-role-put', role: { name: 'app', permissions: [{ prefix: 'app/', access: 'readwrite' }] } });
    r.apply({ type: 'auth-user-put', user: { name: 'alice', secret: new Uint8Array(32), certificateNames: [], roles: ['app'] } });
    expect(r.apply({ type: 'put', key: 'app/x', value: bytes('1') }, alice)).toMatchObject({ type: 'put' });
    expect(r.apply({ type: 'put', key: 'other', value: bytes('1') }, alice)).toEqual({
      type: 'permission-denied',
      user: 'alice',
      access: 'write',
      resource: 'key "other"',
    });
    expect(
      r.apply({ type: 'txn', compare: [], success: [{ op: 'put', key: 'app/y', value: bytes('1') }], failure: [{ op: 'delete', key: 'other' }] }, alice),
    ).toMatchObject({ type: 'permission-denied', access: 'write' });
    expect(r.apply({ type: 'compact', revision: 1 }, alice)).toMatchObject({ type: 'permission-denied', access: 'admin' });
    expect(r.apply({ type: 'auth-user-put', user: { name: 'alice', secret: new Uint8Array(32), certificateNames: [], roles: ['root'] } }, alice)).toMatchObject(
      { type: 'permission-denied', access: 'admin' },
    );
    // Revoked on the way: the next write is refused on every replica.
    r.apply({ type: 'auth-role-put', role: { name: 'app', permissions: [{ prefix: 'app/', access: 'read' }] } });
    expect(r.apply({ type: 'put', key: 'app/x', value: bytes('2') }, alice)).toMatchObject({ type: 'permission-denied', access: 'write' });
    r.apply({ type: 'auth-user-delete', name: 'alice' });
    expect(r.apply({ type: 'txn', compare: [], success: [{ op: 'range', range: { prefix: 'app/' } }], failure: [] }, alice)).toEqual({
      type: 'permission-denied',
      user: 'alice',
      access: 'user',
      resource: 'user alice no longer exists',
    });
    for (const m of r.machines) {
      expect(m.revision).toBe(1);
      expect(new TextDecoder().decode(m.view.latest('app/x')?.value ?? new Uint8Array())).toBe('1');
    }
  });

  it("refuses another user's session, and lets root use any", () => {
    const r = replicas();
    r.apply({ type: 'auth-user-put', user: { name: 'alice', secret: new Uint8Array(32), certificateNames: [], roles: ['root'] } });
    r.apply({ type: 'auth-role-put', role: { name: 'any', permissions: [{ prefix: '', access: 'readwrite' }] } });
    r.apply({ type: 'auth-user-put', user: { name: 'bob', secret: new Uint8Array(32), certificateNames: [], roles: ['any'] } });
    const session = r.apply({ type: 'session-create', ttlMs: 1_000, owner: { user: 'bob', sessionsMax: 5 } });
    expect(session).toMatchObject({ type: 'session', session: { id: 1 } });
    r.apply({ type: 'auth-user-put', user: { name: 'carol', secret: new Uint8Array(32), certificateNames: [], roles: ['any'] } });
    expect(r.apply({ type: 'session-close', session: 1 }, 'carol\u0001c')).toEqual({
      type: 'permission-denied',
      user: 'carol',
      access: 'session',
      resource: 'session 1',
    });
    expect(r.apply({ type: 'put', key: 'k', value: bytes('1'), session: 1 }, 'bob\u0001c')).toMatchObject({ type: 'put' });
    expect(r.apply({ type: 'session-keepalive', session: 1 }, alice)).toMatchObject({ type: 'session' });
  });

  it('leaves the shared secret, configured users and the leader to their server', () => {
    const r = replicas();
    // No replicated users at all: nothing is refused at apply.
    expect(r.apply({ type: 'put', key: 'k', value: bytes('1') }, 'client-1')).toMatchObject({ type: 'put' });
    expect(r.apply({ type: 'put', key: 'k', value: bytes('2') }, 'alice\u0000c1')).toMatchObject({ type: 'put' });
    expect(r.apply({ type: 'compact', revision: 1 }, 'a/0f3c')).toMatchObject({ type: 'compacted' });
  });
});
