/**
 * Users and roles kept in the replicated state, on real KV servers: `root` adds them
 * through the log, every server enforces them, a change holds on open connections from
 * their next request (an open watch whose range is no longer readable ends), a deleted
 * user is cut off, only `root` may change them, and they survive a restart and a
 * snapshot.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { KvRequestError, PermissionDeniedError } from '../../../src/kv/index.js';
import { errorFromBody } from '../../../src/kv/protocol/client-errors.js';
import { RawClient } from './raw-client.js';
import { ServerCluster } from './cluster.js';

let cluster: ServerCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => new Error('resolved, expected a rejection'),
    (e: unknown) => e,
  );
}

const text = (v: Uint8Array | undefined) => (v === undefined ? undefined : new TextDecoder().decode(v));
const secret = randomBytes(32);

describe('users and roles in the replicated state', () => {
  it('root adds a role and a user through one server; every server authenticates and enforces them', async () => {
    const logged: Record<string, unknown>[] = [];
    const logger = {
      debug: () => {},
      warn: () => {},
      error: () => {},
      info: (fields: Record<string, unknown>, message: string) => void (message.includes('users and roles') && logged.push(fields)),
    };
    const c = (cluster = await ServerCluster.start(['a', 'b', 'c'], { server: (id) => (id === 'a' ? { logger } : {}) }));
    const root = c.client({ only: ['a'] });
    expect(await root.putRole('app', [{ prefix: 'app/', access: 'readwrite' }])).toEqual({ revision: 1, existed: false });
    expect(await root.putUser('alice', { secret, roles: ['app'] })).toEqual({ revision: 2, existed: false });
    await root.put('secret/x', 'hidden');
    for (const id of ['a', 'b', 'c']) {
      const alice = c.client({ user: 'alice', secret, only: [id], requestTimeoutMs: 5_000 });
      expect(await alice.put(`app/${id}`, id)).toMatchObject({ version: 1 });
      expect(await failure(alice.get('secret/x')), id).toBeInstanceOf(PermissionDeniedError);
      expect(await failure(alice.putUser('alice', { secret, roles: ['root'] })), id).toBeInstanceOf(PermissionDeniedError);
    }
    expect((await root.range({ prefix: 'app/' })).count).toBe(3);
    expect(await c.client({ only: ['c'] }).listAuth()).toEqual({
      revision: 2,
      users: [{ name: 'alice', hasSecret: true, certificateNames: [], roles: ['app'] }],
      roles: [{ name: 'app', permissions: [{ prefix: 'app/', access: 'readwrite' }] }],
    });
    expect(await failure(c.client({ user: 'alice', secret, only: ['a'] }).listAuth())).toBeInstanceOf(PermissionDeniedError);
    expect(c.server('b').kv.machine.auth.user('alice')?.roles).toEqual(['app']);
    // The server that took each change logs who made it, never the secret.
    expect(logged).toEqual([
      { node: 'a', by: ':shared', change: 'auth-role-put', name: 'app', authRevision: 1 },
      { node: 'a', by: ':shared', change: 'auth-user-put', name: 'alice', authRevision: 2 },
    ]);
  });

  it('a role changed holds on an open connection from its next request; a watch no longer readable ends; a deleted user is cut off', async () => {
    const c = (cluster = await ServerCluster.start(['a']));
    const root = c.client({ only: ['a'] });
    await root.putRole('app', [{ prefix: 'app/', access: 'readwrite' }]);
    await root.putUser('alice', { secret, roles: ['app'] });
    const alice = c.client({ user: 'alice', secret, only: ['a'], requestTimeoutMs: 1_000 });
    expect(await alice.put('app/1', 'a')).toMatchObject({ version: 1 });
    const seen: string[] = [];
    const watching = (async () => {
      for await (const e of alice.watch({ prefix: 'app/' })) seen.push(e.kv.key);
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    await root.put('app/2', 'b');
    await until(() => seen.length === 1);
    // Read only now: writes refused on the same connection, and the watch ends before the next event.
    await root.putRole('app', [{ prefix: 'app/', access: 'read' }]);
    expect(await failure(alice.put('app/1', 'again'))).toBeInstanceOf(PermissionDeniedError);
    expect(text((await alice.get('app/1'))?.value)).toBe('a');
    await root.putRole('app', [{ prefix: 'other/', access: 'read' }]);
    await root.put('app/3', 'c');
    expect(await watching).toBeInstanceOf(PermissionDeniedError);
    expect(seen).toEqual(['app/2']);
    // Deleted: its connection is closed at its next request, and it cannot come back.
    await root.deleteUser('alice');
    expect(await failure(alice.get('other/x'))).toBeInstanceOf(Error);
    expect(String(await failure(c.client({ user: 'alice', secret, only: ['a'], requestTimeoutMs: 600 }).get('other/x')))).toMatch(/authentication failed/);
    expect((await root.range({ prefix: 'app/' })).kvs.map((kv) => text(kv.value))).toEqual(['a', 'b', 'c']);
  });

  it("a replicated user's writes enter the log under its name and U+0001 (the state machine checks them again by it), and must carry an identity", async () => {
    const c = (cluster = await ServerCluster.start(['a']));
    const root = c.client({ only: ['a'] });
    await root.putRole('app', [{ prefix: 'app/', access: 'readwrite' }]);
    await root.putUser('alice', { secret, roles: ['app'] });
    const machine = c.server('a').kv.machine;
    const applied: string[] = [];
    const apply = machine.apply.bind(machine);
    machine.apply = (command, meta) => {
      if (command.type === 'put') applied.push(meta.clientId);
      return apply(command, meta);
    };
    await c.client({ user: 'alice', secret, only: ['a'], clientId: 'app-1' }).put('app/x', '1');
    expect(applied).toEqual(['alice\u0001app-1']);
    const raw = await RawClient.connect(c.port('a'));
    try {
      expect((await raw.handshake({ user: 'alice', secret })).result).toBe('open');
      raw.send({ kind: 'command', id: 1, command: { type: 'put', key: 'app/y', value: new Uint8Array(1) }, request: undefined, timeoutMs: 0 });
      const answer = await raw.nextFrame();
      expect(answer !== 'closed' && answer.kind === 'error' ? errorFromBody(answer.error) : answer).toBeInstanceOf(KvRequestError);
    } finally {
      raw.close();
    }
    expect(await root.get('app/y')).toBeUndefined();
  });

  it('survive a restart (replayed from the log) and a snapshot (the log compacted behind it)', async () => {
    const c = (cluster = await ServerCluster.start(['a'], {
      server: () => ({ node: { tickMs: 10, electionTicks: { min: 10, max: 20 }, sessionCheckMs: 20, snapshot: { everySlots: 5 } } }),
    }));
    const root = c.client({ only: ['a'] });
    await root.putRole('app', [{ prefix: 'app/', access: 'readwrite' }]);
    await root.putUser('alice', { secret, roles: ['app'] });
    for (let i = 0; i < 12; i++) await root.put(`filler/${i}`, 'x');
    await until(() => c.server('a').kv.node.metrics().snapshots.saved > 0);
    await c.stopServer('a');
    await c.startServer('a');
    const alice = c.client({ user: 'alice', secret, only: ['a'], requestTimeoutMs: 5_000 });
    expect(await alice.put('app/1', 'a')).toMatchObject({ version: 1 });
    expect(await failure(alice.get('filler/1'))).toBeInstanceOf(PermissionDeniedError);
  });
});

async function until(ready: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
