/**
 * The users and roles of the replicated state: changed only by `auth-*` commands,
 * each checked as it applies (every replica refuses alike, and a refusal changes
 * nothing), and carried by snapshots.
 */
import { describe, expect, it } from 'vitest';
import type { KvCommand, KvResult } from '../../src/kv/index.js';
import { KvStateMachine } from '../../src/kv/index.js';
import { CodecError } from '../../src/encoding/codec-error.js';

let slot = 0;
function apply(m: KvStateMachine, c: KvCommand): KvResult {
  slot++;
  return m.apply(c, { slot, timestamp: 1_000 + slot, clientId: 'c', seq: slot, origin: 'a' });
}

const secret = new Uint8Array(32).fill(1);
const appRole: KvCommand = { type: 'auth-role-put', role: { name: 'app', permissions: [{ prefix: 'app/', access: 'readwrite' }] } };
const alice: KvCommand = { type: 'auth-user-put', user: { name: 'alice', secret, certificateNames: ['alice.example.com'], roles: ['app'] } };

describe('users and roles in the replicated state', () => {
  it('puts and deletes users and roles, moving the revision on; deleting a role takes it from its users', () => {
    const m = new KvStateMachine();
    expect(apply(m, appRole)).toEqual({ type: 'auth', revision: 1, existed: false });
    expect(apply(m, alice)).toEqual({ type: 'auth', revision: 2, existed: false });
    expect(m.auth.user('alice')).toMatchObject({ name: 'alice', roles: ['app'], certificateNames: ['alice.example.com'] });
    expect(m.auth.userOfCertificateName('alice.example.com')?.name).toBe('alice');
    expect(apply(m, { type: 'auth-role-delete', name: 'app' })).toEqual({ type: 'auth', revision: 3, existed: true });
    expect(m.auth.user('alice')?.roles).toEqual([]);
    expect(apply(m, { type: 'auth-user-delete', name: 'alice' })).toEqual({ type: 'auth', revision: 4, existed: true });
    expect(apply(m, { type: 'auth-user-delete', name: 'alice' })).toEqual({ type: 'auth', revision: 5, existed: false });
    expect(m.auth.user('alice')).toBeUndefined();
    // No key was written: users and roles are not in the keyspace.
    expect(m.revision).toBe(0);
  });

  it('lists users without their secrets, and roles; a listing is read-only (no exactly-once entry kept)', () => {
    const m = new KvStateMachine();
    apply(m, appRole);
    apply(m, alice);
    const listing = apply(m, { type: 'auth-list' });
    expect(listing).toEqual({
      type: 'auth-list',
      revision: 2,
      users: [{ name: 'alice', hasSecret: true, certificateNames: ['alice.example.com'], roles: ['app'] }],
      roles: [{ name: 'app', permissions: [{ prefix: 'app/', access: 'readwrite' }] }],
    });
    expect(JSON.stringify(listing)).not.toContain('"secret"');
    expect(m.readOnly({ type: 'auth-list' })).toBe(true);
    expect(m.readOnly(alice)).toBe(false);
  });

  it('refuses a malformed record, a role that does not exist, a certificate name of another user, changing nothing', () => {
    const m = new KvStateMachine();
    apply(m, appRole);
    apply(m, alice);
    const refusals: [KvCommand, RegExp][] = [
      [{ type: 'auth-user-put', user: { name: 'bob', secret, certificateNames: [], roles: ['nope'] } }, /role nope does not exist/],
      [{ type: 'auth-user-put', user: { name: 'bob', certificateNames: ['alice.example.com'], roles: [] } }, /alice's/],
      [{ type: 'auth-user-put', user: { name: 'bob', certificateNames: [], roles: [] } }, /needs a secret or certificate names/],
      [{ type: 'auth-user-put', user: { name: 'bob', secret: new Uint8Array(8), certificateNames: [], roles: [] } }, /16 to 1024 bytes/],
      [{ type: 'auth-user-put', user: { name: 'no spaces', secret, certificateNames: [], roles: [] } }, /user name/],
      [{ type: 'auth-role-put', role: { name: 'root', permissions: [] } }, /built in/],
      [{ type: 'auth-role-put', role: { name: 'r', permissions: [{ key: '', access: 'read' }] } }, /must not be empty/],
    ];
    for (const [command, why] of refusals) {
      const result = apply(m, command);
      expect(result.type, JSON.stringify(command)).toBe('invalid');
      expect(result.type === 'invalid' ? result.reason : '').toMatch(why);
    }
    expect(m.auth.revision).toBe(2);
    expect(m.auth.allUsers().map((u) => u.name)).toEqual(['alice']);
  });

  it('survive a snapshot, and a damaged snapshot is refused with CodecError', async () => {
    const m = new KvStateMachine();
    apply(m, appRole);
    apply(m, alice);
    apply(m, { type: 'auth-user-put', user: { name: 'ops', certificateNames: ['ops'], roles: ['root'] } });
    const data = await m.snapshot().write();
    expect(data[3], 'format version').toBe(3);
    const copy = new KvStateMachine();
    copy.restore(data);
    expect(copy.auth.revision).toBe(3);
    expect(copy.auth.allUsers()).toEqual(m.auth.allUsers());
    expect(copy.auth.allRoles()).toEqual(m.auth.allRoles());
    // The copy goes on as the original: the same next change, the same answer.
    for (const machine of [m, copy]) expect(apply(machine, { type: 'auth-role-delete', name: 'app' })).toEqual({ type: 'auth', revision: 4, existed: true });
    for (let at = 0; at < data.byteLength; at++) {
      try {
        new KvStateMachine().restore(data.subarray(0, at));
        throw new Error(`a snapshot cut at ${at} restored`);
      } catch (error) {
        expect(error).toBeInstanceOf(CodecError);
      }
    }
  });
});
