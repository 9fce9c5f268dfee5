/**
 * Users, roles and quotas on a real KV server (docs/operations.md, "Users, roles and
 * quotas"), against one member on 127.0.0.1: a user proves its own secret (or its
 * certificate names it); a user without permission changes nothing and sees nothing,
 * whatever request it makes (transactions' compares and both branches, watches,
 * ranges, sessions, the administrator's requests); a user cannot send writes under
 * another's request identity; and one user exhausting its quotas leaves the others
 * theirs.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { KvClient } from '../../../src/kv/client/index.js';
import { KvRequestError, PermissionDeniedError, QuotaExceededError } from '../../../src/kv/index.js';
import type { ClientRequest, ServerFrame } from '../../../src/kv/protocol/client-frames.js';
import type { KvAuthOptions } from '../../../src/kv/server/access-control.js';
import { errorFromBody } from '../../../src/kv/protocol/client-errors.js';
import { ConfigError } from '../../../src/index.js';
import { KvServer, type KvServerOptions } from '../../../src/kv/server/index.js';
import { tlsOf } from '../../transport/tcp/helpers.js';
import { ServerCluster } from './cluster.js';
import { RawClient } from './raw-client.js';

const secrets = { alice: randomBytes(32), bob: randomBytes(32), mallory: randomBytes(32), admin: randomBytes(32) };

const auth: KvAuthOptions = {
  users: {
    alice: { secret: secrets.alice, roles: ['app'] },
    bob: { secret: secrets.bob, roles: ['app-reader'] },
    mallory: { secret: secrets.mallory, roles: ['mallory'], quotas: { watchesMax: 2 } },
    admin: { secret: secrets.admin, roles: ['root'] },
  },
  roles: {
    app: { permissions: [{ prefix: 'app/', access: 'readwrite' }] },
    'app-reader': { permissions: [{ prefix: 'app/', access: 'read' }] },
    // Two touching grants: a range across both is readable, one past them is not.
    mallory: {
      permissions: [
        { prefix: 'mallory/', access: 'readwrite' },
        { prefix: 'mallory0', access: 'read' },
        { key: 'notice', access: 'read' },
      ],
    },
  },
  quotas: { sessionsMax: 3, sessionTtlMsMax: 10_000 },
};

let cluster: ServerCluster | undefined;
const opened: RawClient[] = [];
afterEach(async () => {
  for (const o of opened.splice(0)) o.close();
  await cluster?.close();
  cluster = undefined;
});

/** A one-member cluster with the users above (and the shared client secret, as a deployment that adds users keeps it first). */
async function startOne(more: Partial<KvAuthOptions> = {}): Promise<ServerCluster> {
  cluster = await ServerCluster.start(['a'], { server: () => ({ auth: { ...auth, ...more } }) });
  return cluster;
}

function userClient(c: ServerCluster, user: keyof typeof secrets, clientId?: string): KvClient {
  return c.client({ user, secret: secrets[user], only: ['a'], requestTimeoutMs: 3_000, ...(clientId === undefined ? {} : { clientId }) });
}

/** A raw connection past the handshake as `user` (undefined: the shared secret). */
async function rawAs(c: ServerCluster, user: keyof typeof secrets | undefined, clientId = 'raw'): Promise<RawClient> {
  const r = await RawClient.connect(c.port('a'));
  opened.push(r);
  const outcome = await r.handshake(user === undefined ? { secret: c.clientSecret, clientId } : { secret: secrets[user], clientId, user });
  expect(outcome.result).toBe('open');
  return r;
}

/** The answer to request `id` on `r`. */
async function answer(r: RawClient, id: number): Promise<ServerFrame> {
  for (const f of r.serverFrames()) if (f.id === id) return f;
  for (;;) {
    const f = await r.nextFrame();
    if (f === 'closed') throw new Error(`closed before answering ${id}`);
    if (f.id === id) return f;
  }
}

/** The error a rejected promise gave. */
async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => new Error('resolved, expected a rejection'),
    (e: unknown) => e,
  );
}

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (v: Uint8Array | undefined) => (v === undefined ? undefined : new TextDecoder().decode(v));

describe('users authenticate with their own secrets', () => {
  it('a user proves its own secret; a wrong secret, an unknown user, or a user proving the shared secret is refused; the shared secret still opens as before', async () => {
    const c = await startOne();
    expect(await userClient(c, 'alice').put('app/x', '1')).toMatchObject({ version: 1 });
    for (const h of [
      { user: 'alice', secret: secrets.bob },
      { user: 'carol', secret: secrets.alice },
      { user: 'alice', secret: c.clientSecret },
    ]) {
      const r = await RawClient.connect(c.port('a'));
      opened.push(r);
      expect(await r.handshake({ ...h, then: [{ kind: 'range', id: 1, range: { prefix: '' }, limit: 0, revision: 0, linearizable: false }] })).toEqual({
        result: 'refused',
        reason: 'authentication failed',
      });
    }
    // The shared secret's clients keep every right they had.
    const shared = c.client({ only: ['a'] });
    expect(await shared.put('anything', 'v')).toMatchObject({ version: 1 });
    expect((await shared.range({ prefix: '' })).kvs.map((kv) => kv.key)).toEqual(['anything', 'app/x']);
  });

  it('a server with users needs no shared client secret; then a client without a user is refused', async () => {
    cluster = await ServerCluster.start(['a'], { server: () => ({ auth, clientSecret: undefined }) as unknown as Partial<KvServerOptions> });
    expect(await userClient(cluster, 'alice').put('app/x', '1')).toMatchObject({ version: 1 });
    const r = await RawClient.connect(cluster.port('a'));
    opened.push(r);
    expect(await r.handshake({ secret: randomBytes(32) })).toEqual({ result: 'refused', reason: 'authentication failed' });
  });

  it('under client TLS, the certificate names the user; a certificate naming no user is refused', async () => {
    const serverTls = (users: NonNullable<KvAuthOptions['users']>) => (id: string) => ({
      tls: tlsOf(id),
      clientTls: tlsOf('client-port', 'client-ca'),
      auth: { ...auth, users },
    });
    cluster = await ServerCluster.start(['a'], { server: serverTls({ carol: { certificateNames: ['client-1'], roles: ['app'] } }) });
    const carol = cluster.client({ tls: tlsOf('client-1', 'client-ca'), requestTimeoutMs: 3_000 });
    expect(await carol.put('app/x', '1')).toMatchObject({ version: 1 });
    expect(await failure(carol.put('other', '1'))).toBeInstanceOf(PermissionDeniedError);
    await cluster.close();
    cluster = await ServerCluster.start(['a'], { server: serverTls({ carol: { certificateNames: ['someone-else'], roles: ['app'] } }) });
    const nobody = cluster.client({ tls: tlsOf('client-1', 'client-ca'), requestTimeoutMs: 600 });
    expect(String(await failure(nobody.put('app/x', '1')))).toMatch(/certificate \(client-1\) names no user/);
  });

  it('bad users and roles are refused when the server is made, naming the field', () => {
    const made = (a: KvAuthOptions) => () =>
      new KvServer({
        id: 'a',
        clusterId: 'c',
        dataDir: '/nonexistent',
        members: { a: { peer: { host: '127.0.0.1', port: 1 }, client: { host: '127.0.0.1', port: 2 } } },
        secret: randomBytes(32),
        auth: a,
      });
    const user = { secret: randomBytes(32), roles: ['r'] };
    expect(made({ users: { alice: user } })).toThrow(/auth.users.alice.roles.*names role r/);
    expect(made({ users: { 'no spaces': { ...user, roles: [] } } })).toThrow(ConfigError);
    expect(made({ users: { alice: { roles: ['root'] } } })).toThrow(/needs a secret or certificateNames/);
    expect(made({ users: {}, roles: { root: { permissions: [] } } })).toThrow(/root is built in/);
    expect(made({ users: {}, roles: { r: { permissions: [{ prefix: 'a', key: 'b', access: 'read' } as never] } } })).toThrow(/exactly one of key and prefix/);
    expect(made({ users: {}, roles: { r: { permissions: [{ prefix: 'a', access: 'all' as never }] } } })).toThrow(/read, write or readwrite/);
    expect(made({ users: { alice: user }, roles: { r: { permissions: [] } }, quotas: { sessionsMax: 0 } })).toThrow(/auth.quotas.sessionsMax/);
    // Under client TLS a user is known by its certificate only.
    expect(
      () =>
        new KvServer({
          id: 'a',
          clusterId: 'c',
          dataDir: '/nonexistent',
          members: { a: { peer: { host: '127.0.0.1', port: 1 }, client: { host: '127.0.0.1', port: 2 } } },
          tls: tlsOf('a'),
          clientTls: tlsOf('client-port', 'client-ca'),
          auth: { users: { alice: user }, roles: { r: { permissions: [] } } },
        }),
    ).toThrow(/auth.users.alice.certificateNames.*under clientTls/);
  });
});

describe('a user without permission changes nothing and sees nothing', () => {
  it('reads, writes, transactions (compares and both branches), sequential puts, compaction and snapshots outside its roles are refused whole', async () => {
    const c = await startOne();
    const admin = userClient(c, 'admin');
    await admin.put('app/a', 'secret');
    await admin.put('notice', 'hello');
    const before = await admin.range({ prefix: '' });
    const mallory = userClient(c, 'mallory');
    // Each failure is caught as it is made: none is left unhandled while another is awaited.
    const refused: [string, Promise<unknown>][] = (
      [
        ['get', mallory.get('app/a')],
        ['range over a forbidden prefix', mallory.range({ prefix: 'app/' })],
        ['range over every key', mallory.range({ prefix: '' })],
        ['range that runs past its grants', mallory.range({ start: 'mallory/', end: 'mallory1\u0000' })],
        ['put', mallory.put('app/a', 'evil')],
        ['put to a read-only key', mallory.put('notice', 'evil')],
        ['sequential put under a prefix wider than its grant', mallory.put('mallory', 'evil', { sequential: true })],
        ['delete', mallory.delete('app/a')],
        [
          'txn compare',
          mallory.txn({
            compare: [{ key: 'app/a', target: 'value', op: '==', value: bytes('secret') }],
            success: [{ op: 'put', key: 'mallory/leak', value: bytes('yes') }],
            failure: [{ op: 'put', key: 'mallory/leak', value: bytes('no') }],
          }),
        ],
        [
          'txn failure branch',
          mallory.txn({ compare: [], success: [{ op: 'put', key: 'mallory/ok', value: bytes('1') }], failure: [{ op: 'delete', key: 'app/a' }] }),
        ],
        ['txn success range', mallory.txn({ compare: [], success: [{ op: 'range', range: { prefix: 'app/' } }] })],
        ['compact', mallory.compact(1)],
        ['snapshot', mallory.snapshot()],
        ['member change', mallory.changeMembers({ type: 'remove', id: 'a' })],
        ['leadership transfer', mallory.transferLeadership('a')],
      ] as [string, Promise<unknown>][]
    ).map(([what, p]) => [what, failure(p)]);
    for (const [what, p] of refused) {
      const error = await p;
      expect(error, what).toBeInstanceOf(PermissionDeniedError);
      expect((error as PermissionDeniedError).principal, what).toBe('mallory');
    }
    // A watch over a forbidden prefix is refused before it sends a thing.
    const events: unknown[] = [];
    const watching = (async () => {
      for await (const e of mallory.watch({ prefix: 'app/' })) events.push(e);
    })();
    expect(await failure(watching)).toBeInstanceOf(PermissionDeniedError);
    await admin.put('app/a', 'changed');
    expect(events).toEqual([]);
    // Nothing changed: not even the key the refused transaction's success branch would have written.
    const after = await admin.range({ prefix: '' });
    expect(after.kvs.filter((kv) => kv.key !== 'app/a')).toEqual(before.kvs.filter((kv) => kv.key !== 'app/a'));
    expect(after.revision).toBe(before.revision + 1);
    // What its roles grant works, a range across two touching grants included.
    expect(await mallory.put('mallory/x', '1')).toMatchObject({ version: 1 });
    expect(text((await mallory.get('notice'))?.value)).toBe('hello');
    expect((await mallory.range({ start: 'mallory/', end: 'mallory0zzz' })).kvs.map((kv) => kv.key)).toEqual(['mallory/x']);
    expect(c.server('a').metrics().trips.permissionDenied).toBeGreaterThanOrEqual(refused.length + 1);
  });

  it('a read-only user reads and watches its prefix, and writes nothing', async () => {
    const c = await startOne();
    const alice = userClient(c, 'alice');
    const bob = userClient(c, 'bob');
    const seen: string[] = [];
    const watch = bob.watch({ prefix: 'app/' });
    const watching = (async () => {
      for await (const e of watch) {
        seen.push(e.kv.key);
        if (seen.length === 1) break;
      }
    })();
    await alice.put('app/x', '1');
    await watching;
    expect(seen).toEqual(['app/x']);
    expect(text((await bob.get('app/x'))?.value)).toBe('1');
    expect(await failure(bob.put('app/x', '2'))).toBeInstanceOf(PermissionDeniedError);
    expect(await failure(bob.createSession({ ttlMs: 1_000 }).then((s) => bob.put('app/e', '1', { session: s.id })))).toBeInstanceOf(PermissionDeniedError);
    expect(text((await alice.get('app/x'))?.value)).toBe('1');
    // The ranges' bounds are keys: listed only to a user that may read every key.
    expect(await failure(bob.ranges())).toBeInstanceOf(PermissionDeniedError);
    expect(await c.client().ranges()).toHaveLength(1);
  });

  it("a user cannot keep alive, close, or hang keys on another user's session", async () => {
    const c = await startOne();
    const alice = userClient(c, 'alice');
    const session = await alice.createSession({ ttlMs: 5_000 });
    await alice.put('app/eph', '1', { session: session.id });
    const mallory = await rawAs(c, 'mallory');
    const commands: ClientRequest[] = [
      { kind: 'command', id: 1, command: { type: 'session-close', session: session.id }, request: undefined, timeoutMs: 0 },
      { kind: 'command', id: 2, command: { type: 'session-keepalive', session: session.id }, request: undefined, timeoutMs: 0 },
      { kind: 'command', id: 3, command: { type: 'put', key: 'mallory/x', value: bytes('1'), session: session.id }, request: undefined, timeoutMs: 0 },
      {
        kind: 'command',
        id: 4,
        command: { type: 'txn', compare: [], success: [{ op: 'put', key: 'mallory/y', value: bytes('1'), session: session.id }], failure: [] },
        request: undefined,
        timeoutMs: 0,
      },
    ];
    mallory.send(...commands);
    for (const q of commands) {
      const a = await answer(mallory, q.id);
      expect(a.kind === 'error' ? errorFromBody(a.error) : a, `request ${q.id}`).toBeInstanceOf(PermissionDeniedError);
    }
    // A session not created yet is nobody's: answered as absent, never held for whoever creates it next.
    mallory.send({ kind: 'command', id: 5, command: { type: 'session-close', session: session.id + 1 }, request: undefined, timeoutMs: 0 });
    expect(await answer(mallory, 5)).toMatchObject({ kind: 'result', result: { type: 'no-session', session: session.id + 1 } });
    expect(session.isOver).toBe(false);
    expect(text((await alice.get('app/eph'))?.value)).toBe('1');
    expect(c.server('a').kv.machine.sessionTable.get(session.id)?.owner).toBe('alice');
    // The owner (and root) still may.
    await session.close();
    expect(await alice.get('app/eph')).toBeUndefined();
  });
});

describe('request identities are bound to the user', () => {
  /** The attack of issue 22 (6): seq = ackedBelow = 2^53 - 2 under the victim's client id. */
  const poison = (id: number, key: string): ClientRequest => ({
    kind: 'command',
    id,
    command: { type: 'put', key, value: bytes('x') },
    request: { clientId: 'victim', seq: 2 ** 53 - 2, ackedBelow: 2 ** 53 - 2 },
    timeoutMs: 0,
  });

  it("another user's writes under the victim's client id do not expire the victim's, even after a restart", async () => {
    const c = await startOne();
    const victim = userClient(c, 'alice', 'victim');
    await victim.put('app/1', 'a');
    const mallory = await rawAs(c, 'mallory');
    mallory.send(poison(1, 'mallory/p'));
    expect(await answer(mallory, 1)).toMatchObject({ kind: 'result', result: { type: 'put' } });
    expect(await victim.put('app/2', 'b')).toMatchObject({ version: 1 });
    // Mallory's own namespace took the poison: her next write under that id is refused, naming the id she sent.
    mallory.send({ ...poison(2, 'mallory/q'), request: { clientId: 'victim', seq: 5, ackedBelow: 5 } } as ClientRequest);
    const refused = await answer(mallory, 2);
    expect(refused.kind === 'error' ? errorFromBody(refused.error) : refused).toMatchObject({ code: 'RESULT_EXPIRED', clientId: 'victim', seq: 5 });
    await c.stopServer('a');
    await c.startServer('a');
    expect(await victim.put('app/3', 'c')).toMatchObject({ version: 1 });
  });

  it('a client id holding U+0000 (the namespace separator) is refused, so the shared secret cannot reach into a user', async () => {
    const c = await startOne();
    const shared = await rawAs(c, undefined);
    shared.send({ ...poison(1, 'k'), request: { clientId: 'alice\u0000victim', seq: 2 ** 53 - 2, ackedBelow: 2 ** 53 - 2 } } as ClientRequest);
    const a = await answer(shared, 1);
    expect(a.kind === 'error' ? errorFromBody(a.error) : a).toBeInstanceOf(KvRequestError);
    expect(await userClient(c, 'alice', 'victim').put('app/1', 'a')).toMatchObject({ version: 1 });
  });
});

describe("one user's quotas leave the others theirs", () => {
  it('sessions are counted in the replicated state: a user at sessionsMax through one server is refused through another, and followers enforce the same roles', async () => {
    cluster = await ServerCluster.start(['a', 'b', 'c'], { server: () => ({ auth }) });
    const c = cluster;
    const via = (id: string) => c.client({ user: 'alice', secret: secrets.alice, only: [id], requestTimeoutMs: 5_000 });
    await via('a').createSession({ ttlMs: 5_000 });
    await via('b').createSession({ ttlMs: 5_000 });
    await via('c').createSession({ ttlMs: 5_000 });
    for (const id of ['a', 'b', 'c']) expect(await failure(via(id).createSession({ ttlMs: 5_000 })), id).toMatchObject({ quota: 'sessionsMax', limit: 3 });
    for (const id of ['a', 'b', 'c']) {
      const mallory = c.client({ user: 'mallory', secret: secrets.mallory, only: [id], requestTimeoutMs: 5_000 });
      expect(await failure(mallory.put('app/x', 'evil')), id).toBeInstanceOf(PermissionDeniedError);
    }
    expect(await c.client({ only: ['a'] }).get('app/x')).toBeUndefined();
  });

  it('sessions: a user at sessionsMax is refused with QuotaExceededError; another user still creates sessions; the TTL is capped', async () => {
    const c = await startOne();
    const alice = userClient(c, 'alice');
    const sessions = [];
    for (let i = 0; i < 3; i++) sessions.push(await alice.createSession({ ttlMs: 5_000 }));
    const over = await failure(alice.createSession({ ttlMs: 5_000 }));
    expect(over).toBeInstanceOf(QuotaExceededError);
    expect(over).toMatchObject({ quota: 'sessionsMax', limit: 3 });
    expect(await userClient(c, 'mallory').createSession({ ttlMs: 5_000 })).toMatchObject({ ttlMs: 5_000 });
    expect(await failure(alice.createSession({ ttlMs: 20_000 }))).toMatchObject({ quota: 'sessionTtlMsMax', limit: 10_000 });
    // The shared secret's clients have no per-user quota, as before users.
    expect(await c.client({ only: ['a'] }).createSession({ ttlMs: 20_000 })).toMatchObject({ ttlMs: 20_000 });
    await sessions[0]!.close();
    expect(await alice.createSession({ ttlMs: 5_000 })).toMatchObject({ ttlMs: 5_000 });
    const { quotas } = c.server('a').metrics();
    expect(quotas.sessionsMax).toBe(1);
    expect(quotas.sessionTtlMsMax).toBe(1);
  });

  it("sharedQuotas bound the shared secret's clients together, and leave the users theirs", async () => {
    const c = await startOne({ sharedQuotas: { sessionsMax: 1 } });
    const shared = c.client({ only: ['a'] });
    await shared.createSession({ ttlMs: 20_000 }); // no TTL cap: only the quotas given apply
    expect(await failure(c.client({ only: ['a'] }).createSession({ ttlMs: 1_000 }))).toMatchObject({ quota: 'sessionsMax', limit: 1 });
    expect(await userClient(c, 'alice').createSession({ ttlMs: 1_000 })).toMatchObject({ ttlMs: 1_000 });
    // Still root's rights otherwise.
    expect(await shared.put('anything', 'v')).toMatchObject({ version: 1 });
  });

  it('watches: a user at watchesMax over all its connections is refused; another user still watches', async () => {
    const c = await startOne();
    const first = await rawAs(c, 'mallory', 'm1');
    const second = await rawAs(c, 'mallory', 'm2');
    first.send(
      { kind: 'watch', id: 1, range: { prefix: 'mallory/' }, fromRevision: 0 },
      { kind: 'watch', id: 2, range: { prefix: 'mallory/' }, fromRevision: 0 },
    );
    expect(await answer(first, 1)).toMatchObject({ kind: 'watching' });
    expect(await answer(first, 2)).toMatchObject({ kind: 'watching' });
    second.send({ kind: 'watch', id: 1, range: { prefix: 'mallory/' }, fromRevision: 0 });
    const a = await answer(second, 1);
    expect(a.kind === 'error' ? errorFromBody(a.error) : a).toMatchObject({ quota: 'watchesMax', limit: 2 });
    const alice = await rawAs(c, 'alice');
    alice.send({ kind: 'watch', id: 1, range: { prefix: 'app/' }, fromRevision: 0 });
    expect(await answer(alice, 1)).toMatchObject({ kind: 'watching' });
    // Closing a connection gives its watches back.
    first.close();
    await waitFor(() => c.server('a').metrics().clients.watches === 1);
    second.send({ kind: 'watch', id: 2, range: { prefix: 'mallory/' }, fromRevision: 0 });
    expect(await answer(second, 2)).toMatchObject({ kind: 'watching' });
    expect(c.server('a').metrics().quotas.watchesMax).toBe(1);
  });

  it('requests and bytes in flight: what one user pipelines past its quota is refused, and the rest is served', async () => {
    const c = await startOne({
      users: { ...auth.users, mallory: { ...auth.users!['mallory']!, quotas: { requestsInFlightMax: 2, requestBytesInFlightMax: 1_000 } } },
    });
    const mallory = await rawAs(c, 'mallory');
    const put = (id: number, size: number): ClientRequest => ({
      kind: 'command',
      id,
      command: { type: 'put', key: `mallory/${id}`, value: new Uint8Array(size) },
      request: undefined,
      timeoutMs: 0,
    });
    // One write: all are read before any is answered.
    mallory.send(put(1, 10), put(2, 10), put(3, 10));
    expect(await answer(mallory, 1)).toMatchObject({ kind: 'result' });
    expect(await answer(mallory, 2)).toMatchObject({ kind: 'result' });
    const third = await answer(mallory, 3);
    expect(third.kind === 'error' ? errorFromBody(third.error) : third).toMatchObject({ quota: 'requestsInFlightMax', limit: 2 });
    mallory.send(put(4, 600), put(5, 600));
    expect(await answer(mallory, 4)).toMatchObject({ kind: 'result' });
    const fifth = await answer(mallory, 5);
    expect(fifth.kind === 'error' ? errorFromBody(fifth.error) : fifth).toMatchObject({ quota: 'requestBytesInFlightMax', limit: 1_000 });
    // Once answered, its requests are given back: it is served again, and others all along.
    mallory.send(put(6, 10));
    expect(await answer(mallory, 6)).toMatchObject({ kind: 'result' });
    expect(await userClient(c, 'alice').put('app/x', '1')).toMatchObject({ version: 1 });
    const { quotas } = c.server('a').metrics();
    expect(quotas.requestsInFlightMax).toBe(1);
    expect(quotas.requestBytesInFlightMax).toBe(1);
  });
});

async function waitFor(ready: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
