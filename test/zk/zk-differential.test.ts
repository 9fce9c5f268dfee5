/**
 * Differential test: random operation sequences (fast-check) run through one client
 * (our wire client) against a real ZooKeeper 3.8 and against a 3-member synod cluster,
 * compared answer by answer: error codes, created paths, data, children, the Stat
 * fields that must agree (versions, lengths, counts, whether ephemeral), multi's
 * per-operation results, ACLs (setACL, getACL, digest auth, `auth` and `ip` ids),
 * getAllChildrenNumber, getEphemerals, addWatch, and the watch events each session
 * received, which a session may only get for nodes it may read (issue 16, section 3).
 * Each run works under a fresh path of its own, so no run sees another's.
 * `SYNOD_ZK_DIFF_RUNS` sets the number of runs (default 150).
 *
 * Needs the `zookeeper` package and java; skips, saying so, where they are missing.
 */
import fc from 'fast-check';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryNetwork, MemoryStorage } from '../../src/index.js';
import { type KvNode, createKvNode } from '../../src/kv/index.js';
import { type ZkAcl, type ZkStat, type ZkWriteOp, openAcl } from '../../src/zk/index.js';
import { digestAuthId } from '../../src/zk/zk-digest.js';
import { ZkExtension, ZkServer } from '../../src/zk/server/index.js';
import { JuteReader } from '../../src/zk/protocol/jute-reader.js';

import type { ZkRequest } from '../../src/zk/protocol/zk-request.js';
import { type RealZooKeeper, startZooKeeper, zookeeperMissing } from './real-zookeeper.js';
import { type Frame, WireClient, readStatLossy } from './server/zk-wire-client.js';

if (zookeeperMissing !== undefined) console.warn(`zk-differential.test.ts skipped: ${zookeeperMissing}`);

const bytes = (s: string) => new TextEncoder().encode(s);
const relative = ['', '/a', '/a/b', '/c', '/a/b/d'] as const;

type Op =
  | { kind: 'auth'; client: 0 | 1; user: 'alice' | 'bob' }
  | { kind: 'addWatch'; client: 0 | 1; path: string; mode: 0 | 1 }
  | { kind: 'meta'; client: 0 | 1; type: 'getACL' | 'getAllChildrenNumber'; path: string }
  | { kind: 'ephemerals'; client: 0 | 1 }
  | { kind: 'write'; client: 0 | 1; op: ZkWriteOp }
  | { kind: 'multi'; client: 0 | 1; ops: ZkWriteOp[] }
  | { kind: 'read'; client: 0 | 1; type: 'exists' | 'getData' | 'getChildren2'; path: string; watch: boolean };

const pathArb = fc.constantFrom(...relative);
const versionArb = fc.integer({ min: -1, max: 2 });
const alice = digestAuthId('alice', 'pw-a');
const acls: readonly (readonly ZkAcl[])[] = [
  openAcl,
  [{ perms: 31, id: alice }],
  [
    { perms: 1, id: { scheme: 'world', id: 'anyone' } },
    { perms: 31, id: alice },
  ],
  [{ perms: 31, id: { scheme: 'auth', id: '' } }],
  [{ perms: 4 | 8, id: { scheme: 'world', id: 'anyone' } }],
  [{ perms: 31, id: { scheme: 'ip', id: '127.0.0.0/8' } }],
];
const aclArb = fc.constantFrom(...acls);
/**
 * createContainer and createTTL in every mode, with TTLs in and out of ZooKeeper's
 * bounds (those in bounds an hour: no run outlives them). Left out: createTTL with a
 * non-TTL mode and a negative TTL, which ZooKeeper lets through its checks and then
 * cannot apply (EphemeralType refuses the TTL in DataTree); synod answers badArguments.
 */
const extendedCreateArb: fc.Arbitrary<ZkWriteOp> = fc
  .record({
    path: pathArb,
    data: fc.constantFrom('', 'x').map(bytes),
    acl: fc.oneof({ weight: 4, arbitrary: fc.constant(openAcl) }, aclArb),
    flags: fc.integer({ min: 0, max: 7 }),
    kind: fc.constantFrom('container' as const, 'ttl' as const),
    ttlMs: fc.constantFrom(-1, 0, 3_600_000, 2 ** 40 - 1, 2 ** 40),
  })
  .map(({ kind, ttlMs, ...c }) =>
    kind === 'container'
      ? { op: 'create' as const, ...c, withStat: true, kind }
      : { op: 'create' as const, ...c, withStat: true, kind, ttlMs: c.flags === 5 || c.flags === 6 || ttlMs >= 0 ? ttlMs : 0 },
  );
/** A TTL mode in a multi's create that is no createTTL fails ZooKeeper's whole multi with marshallingError (synod: badArguments for it): left out. */
const withoutTtlModeOutsideCreateTtl = (op: ZkWriteOp): boolean => !(op.op === 'create' && op.kind !== 'ttl' && (op.flags === 5 || op.flags === 6));
const writeArb = (withStat: boolean): fc.Arbitrary<ZkWriteOp> =>
  fc.oneof(
    { weight: 2, arbitrary: extendedCreateArb },
    {
      weight: 3,
      arbitrary: fc.record({
        op: fc.constant('create' as const),
        path: pathArb,
        data: fc.constantFrom('', 'x', 'yz').map(bytes),
        acl: fc.oneof({ weight: 4, arbitrary: fc.constant(openAcl) }, aclArb),
        flags: fc.integer({ min: 0, max: 6 }),
        withStat: fc.constant(withStat),
      }),
    },
    fc.record({ op: fc.constant('delete' as const), path: pathArb, version: versionArb }),
    fc.record({ op: fc.constant('setData' as const), path: pathArb, data: fc.constantFrom('p', 'qq').map(bytes), version: versionArb }),
  );
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('write' as const), client: fc.constantFrom(0 as const, 1 as const), op: writeArb(true) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('multi' as const),
      client: fc.constantFrom(0 as const, 1 as const),
      ops: fc.array(
        fc.oneof(writeArb(false).filter(withoutTtlModeOutsideCreateTtl), fc.record({ op: fc.constant('check' as const), path: pathArb, version: versionArb })),
        { minLength: 1, maxLength: 3 },
      ),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('read' as const),
      client: fc.constantFrom(0 as const, 1 as const),
      type: fc.constantFrom('exists' as const, 'getData' as const, 'getChildren2' as const),
      path: pathArb,
      watch: fc.boolean(),
    }),
  },
  fc.record({
    kind: fc.constant('write' as const),
    client: fc.constantFrom(0 as const, 1 as const),
    op: fc.record({ op: fc.constant('setACL' as const), path: pathArb, acl: aclArb, version: versionArb }),
  }),
  fc.record({ kind: fc.constant('auth' as const), client: fc.constantFrom(0 as const, 1 as const), user: fc.constantFrom('alice' as const, 'bob' as const) }),
  fc.record({
    kind: fc.constant('addWatch' as const),
    client: fc.constantFrom(0 as const, 1 as const),
    path: pathArb,
    mode: fc.constantFrom(0 as const, 1 as const),
  }),
  fc.record({
    kind: fc.constant('meta' as const),
    client: fc.constantFrom(0 as const, 1 as const),
    type: fc.constantFrom('getACL' as const, 'getAllChildrenNumber' as const),
    path: pathArb,
  }),
  fc.record({ kind: fc.constant('ephemerals' as const), client: fc.constantFrom(0 as const, 1 as const) }),
);

/** The Stat fields both must agree on (zxids and times differ by design; owners by session). */
function statShape(stat: ZkStat & { ownerHex: string }, sessions: readonly string[]) {
  return {
    version: stat.version,
    cversion: stat.cversion,
    aversion: stat.aversion,
    dataLength: stat.dataLength,
    numChildren: stat.numChildren,
    owner: stat.ephemeralOwner === 0 ? 'none' : `client ${sessions.indexOf(stat.ownerHex)}`,
  };
}

/** An answer reduced to what must agree, paths made relative to the run's root. */
function answerShape(op: Op, frame: Frame, root: string, sessions: readonly string[]): unknown {
  const rel = (p: string) => (p.startsWith(root) ? p.slice(root.length) : p);
  if (frame.err !== 0) return { err: frame.err };
  const r = new JuteReader(frame.body);
  const stat = () => readStatLossy(r, frame.body, frame.body.byteLength - r.left);
  if (op.kind === 'auth' || op.kind === 'addWatch') return { ok: true };
  if (op.kind === 'ephemerals') {
    const n = r.int('ephemerals');
    const paths: string[] = [];
    for (let i = 0; i < n; i++) paths.push(rel(r.string('path', 4096)));
    return { ephemerals: paths.sort() };
  }
  if (op.kind === 'meta') {
    if (op.type === 'getAllChildrenNumber') return { descendants: r.int('number') };
    const n = r.int('acl');
    const acl: string[] = [];
    for (let i = 0; i < n; i++) acl.push(`${r.int('perms')} ${r.string('scheme', 64)}:${r.string('id', 4096)}`);
    return { acl, stat: statShape(stat(), sessions) };
  }
  if (op.kind === 'read') {
    if (op.type === 'exists') return { stat: statShape(stat(), sessions) };
    if (op.type === 'getData') {
      const data = new TextDecoder().decode(r.buffer('data', 1 << 20));
      return { data, stat: statShape(stat(), sessions) };
    }
    const n = r.int('children');
    const children: string[] = [];
    for (let i = 0; i < n; i++) children.push(r.string('child', 4096));
    return { children: children.sort(), stat: statShape(stat(), sessions) };
  }
  if (op.kind === 'write') {
    switch (op.op.op) {
      case 'create':
        return { path: rel(r.string('path', 4096)), stat: statShape(stat(), sessions) };
      case 'setData':
      case 'setACL':
        return { stat: statShape(stat(), sessions) };
      default:
        return { ok: true };
    }
  }
  const results: unknown[] = [];
  for (;;) {
    const type = r.int('type');
    const done = r.bool('done');
    const err = r.int('err');
    if (done) break;
    if (type === -1) results.push({ err: r.int('err body') });
    else if (type === 1) results.push({ path: rel(r.string('path', 4096)) });
    else if (type === 15) results.push({ path: rel(r.string('path', 4096)), stat: statShape(stat(), sessions) });
    else if (type === 5) results.push({ stat: statShape(stat(), sessions) });
    else results.push({ type, err });
  }
  return { results };
}

/**
 * Left out: a one-shot watch where the same client holds a persistent one. ZooKeeper 3.8
 * keeps one watch mode per client and path (ZOOKEEPER-4466, fixed in 3.9), so an
 * exists, getData or getChildren watch set there turns the persistent watch into a
 * one-shot one (seen here: a recursive watch on the root stopped firing after an exists
 * watch on the root). synod keeps both, as 3.9 does; we do not copy the bug.
 */
function withoutMixedWatchModes(ops: readonly Op[]): Op[] {
  const persistent = new Set(ops.flatMap((o) => (o.kind === 'addWatch' ? [`${o.client} ${o.path}`] : [])));
  // The same holds for two persistent modes on one path: 3.8 keeps the last, 3.9 and
  // synod both (seen: a persistent and then a recursive watch on the root, and 3.8 sent
  // no child event). Only a client's first addWatch on a path is kept.
  const modeOf = new Map<string, number>();
  return ops.flatMap((o): Op[] => {
    if (o.kind === 'read' && o.watch && persistent.has(`${o.client} ${o.path}`)) return [{ ...o, watch: false }];
    if (o.kind !== 'addWatch') return [o];
    const key = `${o.client} ${o.path}`;
    const mode = modeOf.get(key);
    if (mode !== undefined && mode !== o.mode) return [];
    modeOf.set(key, o.mode);
    return [o];
  });
}

function requestOf(op: Op, root: string): ZkRequest {
  const abs = (p: string) => root + p;
  if (op.kind === 'auth') return { type: 'auth', scheme: 'digest', auth: bytes(op.user === 'alice' ? 'alice:pw-a' : 'bob:pw-b') };
  if (op.kind === 'addWatch') return { type: 'addWatch', path: abs(op.path), mode: op.mode };
  if (op.kind === 'meta') return { type: op.type, path: abs(op.path) };
  if (op.kind === 'ephemerals') return { type: 'getEphemerals', prefix: root };
  const fix = (o: ZkWriteOp): ZkWriteOp => ({ ...o, path: abs(o.path) });
  if (op.kind === 'read') return { type: op.type, path: abs(op.path), watch: op.watch };
  if (op.kind === 'write') return { type: 'write', request: fix(op.op) };
  return { type: 'write', request: { op: 'multi', ops: op.ops.map(fix) } };
}

describe.skipIf(zookeeperMissing !== undefined)('differential: real ZooKeeper and synod through the same client', () => {
  let dir = '';
  let zookeeper: RealZooKeeper | undefined;
  // Kept so afterAll stops a ZooKeeper whose start outlived a failed beforeAll.
  let starting: Promise<RealZooKeeper> | undefined;
  const nodes: KvNode[] = [];
  const servers: ZkServer[] = [];
  let synodPort = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'synod-zkdiff-'));
    // Containers and TTL nodes are compared as created; no check deletes one during the runs.
    const real = (starting = startZooKeeper(dir, 1, { containerCheckMs: 3_600_000 }));
    const network = new MemoryNetwork();
    const ids = ['a', 'b', 'c'];
    for (const id of ids) {
      const extension = new ZkExtension();
      const kv = createKvNode({
        id,
        members: ids,
        transport: network.transport(id),
        storage: new MemoryStorage(),
        tickMs: 10,
        electionTicks: { min: 20, max: 40 },
        kv: { extension },
      });
      nodes.push(kv);
      servers.push(new ZkServer({ kv, extension, address: { host: '127.0.0.1', port: 0 }, nodeCheckMs: 3_600_000 }));
    }
    await Promise.all(nodes.map((n) => n.start()));
    const ports = await Promise.all(servers.map((s) => s.start()));
    synodPort = ports[1]!.port;
    zookeeper = await real;
  }, 40_000);

  afterAll(async () => {
    await (zookeeper ?? (await starting?.catch(() => undefined)))?.stop();
    await Promise.all(servers.map((s) => s.close()));
    await Promise.all(nodes.map((n) => n.close()));
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs `ops` under `root` with two sessions on one system: every answer's shape, then each session's events. */
  async function run(port: number, root: string, ops: readonly Op[]): Promise<unknown[]> {
    const clients = [await WireClient.open(port), await WireClient.open(port)];
    try {
      for (const c of clients) await c.handshake({ timeoutMs: 30_000 });
      const sessions = clients.map((c) => c.sessionHex);
      const seen: unknown[] = [];
      expect(
        (await clients[0]!.call({ type: 'write', request: { op: 'create', path: root, data: new Uint8Array(0), acl: openAcl, flags: 0, withStat: false } }))
          .err,
      ).toBe(0);
      for (const op of ops)
        seen.push(answerShape(op, await clients[op.client]!.call(requestOf(op, root), op.kind === 'auth' ? -4 : undefined), root, sessions));
      // A sync on each session: every event of the changes above reaches it first.
      for (const c of clients) await c.call({ type: 'sync', path: root });
      seen.push(clients.map((c) => c.events.map(([type, path]) => [type, path.slice(root.length)])));
      // Closed, not dropped: their ephemerals go now, not at a timeout that differs between the two.
      for (const c of clients) await c.call({ type: 'closeSession' });
      const after = await WireClient.open(port);
      try {
        await after.handshake({ timeoutMs: 30_000 });
        const root = await after.call({ type: 'exists', path: '/', watch: false });
        seen.push({ rootAfterClose: statShape(readStatLossy(new JuteReader(root.body), root.body, 0), []) });
        await after.call({ type: 'closeSession' });
      } finally {
        after.close();
      }
      return seen;
    } finally {
      for (const c of clients) c.close();
    }
  }

  it('answers every random sequence as ZooKeeper does', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }).map(withoutMixedWatchModes), async (ops) => {
        const root = `/run${n++}`;
        const [expected, actual] = await Promise.all([run(zookeeper!.ports[0]!, root, ops), run(synodPort, root, ops)]);
        expect(actual).toEqual(expected);
      }),
      { numRuns: Number(process.env['SYNOD_ZK_DIFF_RUNS'] ?? 150), endOnFailure: true },
    );
  }, 60_000);
});
