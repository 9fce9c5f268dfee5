/**
 * Model-based property of the ZooKeeper state machine: random writes (creates of
 * every mode, containers and TTL nodes too, deletes, setData, check, multi), session
 * closes and the leader's node-expire (some of it decided before a later write, so
 * stale) applied to the real
 * machine and to a naive model (a Map of paths, every rule spelled out again; a
 * node's `cversion` there is the count of children ever created, which names
 * sequential nodes),
 * comparing every answer and the final tree; and a replica restored from a snapshot
 * taken midway must answer exactly as the original from then on (DESIGN rule 4).
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { ZkErrorCode, ZkStateMachine, type ZkCommand, type ZkOpResult, type ZkWriteOp, type ZkWriteResult, openAcl } from '../../src/zk/index.js';
import { encodeZkSnapshot, restoreZkSnapshot } from '../../src/zk/zk-snapshot.js';

const paths = ['/a', '/a/b', '/a/b/c', '/d', '/a/e'] as const;
const password = new Uint8Array(16).fill(1);

interface ModelNode {
  data: string;
  version: number;
  cversion: number;
  owner: number;
  kind: '' | 'container' | 'ttl';
}

/** The naive model. */
class Model {
  nodes = new Map<string, ModelNode>([
    ['/', { data: '', version: 0, cversion: 0, owner: 0, kind: '' }],
    ['/zookeeper', { data: '', version: 0, cversion: 0, owner: 0, kind: '' }],
  ]);
  live = new Set<number>([1, 2]);

  private parent(path: string): string {
    return path.lastIndexOf('/') === 0 ? '/' : path.slice(0, path.lastIndexOf('/'));
  }
  private children(path: string): string[] {
    return [...this.nodes.keys()].filter((p) => p !== '/' && this.parent(p) === path);
  }
  /** One operation on `nodes`: an answer, or an error code (the caller rolls back). */
  op(o: ZkWriteOp, session: number): ZkOpResult {
    const e = (err: number): ZkOpResult => ({ op: 'error', err });
    switch (o.op) {
      case 'create': {
        const seq = o.flags === 2 || o.flags === 3 || o.flags === 6;
        const parent = this.nodes.get(this.parent(o.path));
        if (parent === undefined) return e(ZkErrorCode.noNode);
        const path = seq ? o.path + String(parent.cversion).padStart(10, '0') : o.path;
        if (this.nodes.has(path)) return e(ZkErrorCode.nodeExists);
        if (parent.owner !== 0) return e(ZkErrorCode.noChildrenForEphemerals);
        parent.cversion++;
        this.nodes.set(path, {
          data: new TextDecoder().decode(o.data),
          version: 0,
          cversion: 0,
          owner: o.kind === undefined && (o.flags === 1 || o.flags === 3) ? session : 0,
          kind: o.kind ?? '',
        });
        return { op: 'create', path, stat: undefined };
      }
      case 'delete': {
        if (!this.nodes.has(this.parent(o.path))) return e(ZkErrorCode.noNode);
        const node = this.nodes.get(o.path);
        if (node === undefined) return e(ZkErrorCode.noNode);
        if (o.version !== -1 && o.version !== node.version) return e(ZkErrorCode.badVersion);
        if (this.children(o.path).length > 0) return e(ZkErrorCode.notEmpty);
        this.nodes.delete(o.path);
        return { op: 'delete' };
      }
      case 'setData': {
        const node = this.nodes.get(o.path);
        if (node === undefined) return e(ZkErrorCode.noNode);
        if (o.version !== -1 && o.version !== node.version) return e(ZkErrorCode.badVersion);
        node.data = new TextDecoder().decode(o.data);
        node.version++;
        return { op: 'setData', stat: undefined as never };
      }
      case 'check': {
        const node = this.nodes.get(o.path);
        if (node === undefined) return e(ZkErrorCode.noNode);
        if (o.version !== -1 && o.version !== node.version) return e(ZkErrorCode.badVersion);
        return { op: 'check' };
      }
      case 'setACL':
        throw new Error('not generated');
    }
  }
  write(ops: readonly ZkWriteOp[], multi: boolean, session: number): ZkWriteResult | 'no-session' {
    if (!this.live.has(session)) return 'no-session';
    const saved = new Map([...this.nodes].map(([p, n]) => [p, { ...n }]));
    const results: ZkOpResult[] = [];
    for (const o of ops) {
      const r = this.op(o, session);
      if (r.op === 'error') {
        this.nodes = saved;
        if (!multi) return r;
        return {
          op: 'multi',
          results: ops.map((_x, i) => ({ op: 'error', err: i < results.length ? 0 : i === results.length ? r.err : ZkErrorCode.runtimeInconsistency })),
        };
      }
      results.push(r);
    }
    return multi ? { op: 'multi', results } : results[0]!;
  }
  /** The leader's node-expire: each entry not stale deletes its node if a container or TTL node, childless. */
  expire(entries: readonly { path: string; stale: boolean }[]): void {
    for (const { path, stale } of entries) {
      const node = this.nodes.get(path);
      if (!stale && node !== undefined && node.kind !== '' && this.children(path).length === 0) this.nodes.delete(path);
    }
  }
  close(session: number): void {
    if (!this.live.delete(session)) return;
    for (const [path, node] of [...this.nodes]) if (node.owner === session) this.nodes.delete(path);
  }
}

const opArb: fc.Arbitrary<ZkWriteOp> = fc.oneof(
  fc.record({
    op: fc.constant('create' as const),
    path: fc.constantFrom(...paths),
    data: fc.constantFrom('', 'x', 'yy').map((s) => new TextEncoder().encode(s)),
    acl: fc.constant(openAcl),
    flags: fc.integer({ min: 0, max: 3 }),
    withStat: fc.constant(false),
  }),
  fc.record({
    op: fc.constant('create' as const),
    path: fc.constantFrom(...paths),
    data: fc.constant(new Uint8Array(0)),
    acl: fc.constant(openAcl),
    flags: fc.constantFrom(0, 2),
    withStat: fc.constant(true),
    kind: fc.constant('container' as const),
  }),
  fc.record({
    op: fc.constant('create' as const),
    path: fc.constantFrom(...paths),
    data: fc.constant(new Uint8Array(0)),
    acl: fc.constant(openAcl),
    flags: fc.constantFrom(5, 6),
    withStat: fc.constant(true),
    kind: fc.constant('ttl' as const),
    ttlMs: fc.constant(1000),
  }),
  fc.record({ op: fc.constant('delete' as const), path: fc.constantFrom(...paths), version: fc.integer({ min: -1, max: 2 }) }),
  fc.record({
    op: fc.constant('setData' as const),
    path: fc.constantFrom(...paths),
    data: fc.constantFrom('p', 'qq').map((s) => new TextEncoder().encode(s)),
    version: fc.integer({ min: -1, max: 2 }),
  }),
  fc.record({ op: fc.constant('check' as const), path: fc.constantFrom(...paths), version: fc.integer({ min: -1, max: 2 }) }),
);

type Step = { kind: 'write'; session: number; ops: ZkWriteOp[]; multi: boolean } | { kind: 'close'; session: number } | { kind: 'expire'; stale: boolean[] };
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .record({
        kind: fc.constant('write' as const),
        session: fc.constantFrom(1, 2),
        ops: fc.array(opArb, { minLength: 1, maxLength: 4 }),
        multi: fc.boolean(),
      })
      .map((s) => (s.multi ? s : { ...s, ops: s.ops.slice(0, 1) })),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('close' as const), session: fc.constantFrom(1, 2) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('expire' as const), stale: fc.array(fc.boolean(), { maxLength: 8 }) }) },
);

/** Strips what the model does not compute (stats) from an answer. */
function shape(r: ZkWriteResult): unknown {
  if (r.op === 'multi') return { op: 'multi', results: r.results.map(shape) };
  if (r.op === 'create') return { op: 'create', path: r.path };
  if (r.op === 'setData') return { op: 'setData' };
  return r;
}

function treeOf(zk: ZkStateMachine): Map<string, ModelNode> {
  const out = new Map<string, ModelNode>();
  for (const [path, node] of zk.tree.entries())
    if (!path.startsWith('/zookeeper/'))
      out.set(path, {
        data: new TextDecoder().decode(node.data),
        version: node.version,
        cversion: path === '/zookeeper' ? 0 : node.cversion,
        owner: node.ephemeralOwner,
        kind: node.container ? 'container' : node.ttlMs > 0 ? 'ttl' : '',
      });
  return out;
}

it('the state machine answers as the naive model, and a restored snapshot as the original', () => {
  fc.assert(
    fc.property(fc.array(stepArb, { maxLength: 40 }), fc.nat(40), (steps, cut) => {
      const zk = new ZkStateMachine();
      const model = new Model();
      // The root's cversion counts /zookeeper's creation in the real tree: keep the model alike.
      model.nodes.get('/')!.cversion = zk.tree.get('/')!.cversion;
      model.nodes.get('/zookeeper')!.cversion = zk.tree.get('/zookeeper')!.cversion;
      let slot = 0;
      let replica: ZkStateMachine | undefined;
      const apply = (c: ZkCommand) => {
        const meta = { slot: ++slot, timestamp: 5000 + slot };
        const r = zk.apply(c, meta);
        if (replica !== undefined) expect(replica.apply(c, meta)).toEqual(r);
        return r;
      };
      apply({ type: 'session-create', password, ttlMs: 1000 });
      apply({ type: 'session-create', password, ttlMs: 1000 });
      steps.forEach((step, i) => {
        if (i === cut) {
          replica = new ZkStateMachine();
          restoreZkSnapshot(replica, encodeZkSnapshot(zk));
        }
        if (step.kind === 'expire') {
          // The leader names every container and TTL node; a stale entry carries an mzxid a later write replaced.
          const entries = [...zk.tree.expirable()]
            .sort()
            .reverse()
            .map((path, j) => ({ path, stale: step.stale[j] ?? false }));
          apply({ type: 'node-expire', nodes: entries.map(({ path, stale }) => ({ path, mzxid: zk.tree.get(path)!.mzxid - (stale ? 1 : 0) })) });
          model.expire(entries);
          return;
        }
        if (step.kind === 'close') {
          apply({ type: 'session-close', session: step.session });
          model.close(step.session);
          return;
        }
        const request = step.multi ? { op: 'multi' as const, ops: step.ops } : step.ops[0]!;
        const r = apply({ type: 'write', session: step.session, auth: [], request });
        const expected = model.write(step.ops, step.multi, step.session);
        expect(r.type === 'written' ? shape(r.result) : r.type).toEqual(expected === 'no-session' ? 'no-session' : shape(expected));
      });
      const modelTree = new Map([...model.nodes]);
      expect(treeOf(zk)).toEqual(modelTree);
      if (replica !== undefined) expect(encodeZkSnapshot(replica)).toEqual(encodeZkSnapshot(zk));
    }),
    { numRuns: Number(process.env['SYNOD_ZK_RUNS'] ?? 300) },
  );
});
