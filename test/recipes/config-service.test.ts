/**
 * The configuration service recipe (src/recipes/config-service.ts) on a
 * three-node in-process KV cluster, against a seeded stream of puts, deletes and
 * transactions under and around its prefix: every change seen once and in order, each
 * update equal to the store at its revision (an MVCC read), services opened mid-stream
 * with no gap, compare-and-set, and the resync after compaction passes the watch.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Prng } from '../../src/testing/index.js';
import { CompactedError, type KvApi, type TxnOp, VersionConflictError, type Watch, type WatchEvent } from '../../src/kv/index.js';
import { type ConfigService, type ConfigUpdate, ConfigService as Service } from '../../src/recipes/index.js';
import { InProcessKvCluster } from '../../examples/kv-recipes/in-process-cluster.js';
import { CountingKv, type WatchRecord } from './counting-kv.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const prefix = 'config/';
const names = ['a', 'b', 'c', 'd', 'e'];

let cluster: InProcessKvCluster | undefined;
const services: ConfigService[] = [];

afterEach(async () => {
  for (const service of services.splice(0)) service.close();
  await cluster?.close();
  cluster = undefined;
});

async function startCluster(): Promise<InProcessKvCluster> {
  cluster = await InProcessKvCluster.start();
  return cluster;
}

/** What one revision did under the prefix, as the writer knows it. */
interface Written {
  readonly revision: number;
  readonly changes: readonly { readonly name: string; readonly type: 'put' | 'delete'; readonly value: string | undefined }[];
}

/** An update as a service reported it, with the service's whole copy right after. */
interface Seen {
  readonly update: ConfigUpdate;
  readonly copy: Record<string, string>;
}

/** A service that records every update from its initial read on. */
async function openRecorded(kv: KvApi): Promise<{ service: ConfigService; seen: Seen[] }> {
  const seen: Seen[] = [];
  let service: ConfigService | undefined;
  const record = (update: ConfigUpdate): void => {
    // The first call comes from inside open(), before `service` is assigned: rebuild from the update.
    const copy = service === undefined ? Object.fromEntries(update.changes.map((c) => [c.name, c.value!])) : copyOf(service);
    seen.push({ update, copy });
  };
  service = await Service.open(kv, { prefix, onChange: record });
  services.push(service);
  return { service, seen };
}

function copyOf(service: ConfigService): Record<string, string> {
  return Object.fromEntries([...service.snapshot().entries].map(([name, entry]) => [name, entry.value]).sort());
}

/** The prefix in the store at `revision`, by an MVCC read. */
async function storeAt(kv: KvApi, revision?: number): Promise<Record<string, string>> {
  const { kvs } = await kv.range({ prefix }, revision === undefined ? {} : { revision });
  return Object.fromEntries(kvs.map((kv) => [kv.key.slice(prefix.length), decoder.decode(kv.value)]).sort());
}

type Change = Written['changes'][number];
/** A revision's changes by name: the watch reports a transaction's changes in key order, not in the order of its operations. */
const byName = (changes: readonly Change[]): Change[] => [...changes].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));

/**
 * One seeded write: a put or delete under the prefix, a transaction of two or three
 * keys (some outside the prefix), or a write just outside the prefix. Returns what it
 * did under the prefix, or undefined if it changed nothing there.
 */
async function randomWrite(kv: KvApi, prng: Prng, i: number, lastRevision: number): Promise<Written | undefined> {
  const name = names[prng.int(names.length)]!;
  switch (prng.int(4)) {
    case 0: {
      const { revision } = await kv.put(prefix + name, `v${i}`);
      return { revision, changes: [{ name, type: 'put', value: `v${i}` }] };
    }
    case 1: {
      const { deleted, revision } = await kv.delete(prefix + name);
      return deleted ? { revision, changes: [{ name, type: 'delete', value: undefined }] } : undefined;
    }
    case 2: {
      const picked = [...names].sort(() => prng.next() - 0.5).slice(0, 2 + prng.int(2));
      const ops: TxnOp[] = picked.map((n, j) =>
        prng.chance(0.3) ? { op: 'delete', key: prefix + n } : { op: 'put', key: prefix + n, value: encoder.encode(`v${i}.${j}`) },
      );
      ops.push({ op: 'put', key: `other/${name}`, value: encoder.encode(`v${i}`) });
      const { results, revision } = await kv.txn({ compare: [], success: ops });
      const changes = results.flatMap((r, j): Change[] => {
        if (r.op === 'range' || !r.key.startsWith(prefix)) return [];
        if (r.op === 'delete') return r.deleted ? [{ name: r.key.slice(prefix.length), type: 'delete', value: undefined }] : [];
        return [{ name: r.key.slice(prefix.length), type: 'put', value: `v${i}.${j}` }];
      });
      expect(revision).toBeGreaterThan(lastRevision); // the outside put always writes
      return changes.length === 0 ? undefined : { revision, changes };
    }
    default:
      await kv.put(prng.chance(0.5) ? `configx/${name}` : 'config', `v${i}`); // next to the prefix, not under it
      return undefined;
  }
}

/** Runs `count` seeded writes on `kv`; calls `at(i)` before write i. */
async function writeStream(kv: KvApi, seed: number, count: number, at: (i: number) => void = () => undefined): Promise<Written[]> {
  const prng = new Prng(seed);
  const written: Written[] = [];
  let last = 0;
  for (let i = 0; i < count; i++) {
    at(i);
    const w = await randomWrite(kv, prng, i, last);
    if (w !== undefined) {
      written.push(w);
      last = w.revision;
    }
  }
  return written;
}

/** Checks a service's record against the writes and the store's history. */
async function checkRecord(kv: KvApi, seen: readonly Seen[], written: readonly Written[], label: string): Promise<void> {
  const [initial, ...later] = seen;
  expect(initial?.update.kind, `${label}: the first update is the initial read`).toBe('initial');
  const from = initial!.update.revision;
  expect(initial!.copy, `${label}: the initial copy is the store at revision ${from}`).toEqual(await storeAt(kv, from));
  // Every revision that changed the prefix after the initial read, once, in order, whole.
  const expected = written.filter((w) => w.revision > from);
  expect(
    later.map((s) => ({
      revision: s.update.revision,
      kind: s.update.kind,
      changes: byName(s.update.changes.map(({ name, type, value }) => ({ name, type, value }))),
    })),
    label,
  ).toEqual(expected.map((w) => ({ revision: w.revision, kind: 'changes', changes: byName(w.changes) })));
  // After each update, the copy is the store at that revision.
  for (const s of later) expect(s.copy, `${label}: the copy at revision ${s.update.revision}`).toEqual(await storeAt(kv, s.update.revision));
}

describe('ConfigService', () => {
  it('sees every change under its prefix once, in order, a transaction whole; after each update its copy is the store at that revision', async () => {
    const c = await startCluster();
    const watchers = await Promise.all(['a', 'b'].map((id) => openRecorded(c.kv(id))));
    const written = await writeStream(c.kv('c'), 7, 80);
    const final = (await c.kv('c').range({ prefix })).revision;
    for (const { service } of watchers) await c.waitFor(() => service.revision >= written[written.length - 1]!.revision, 'the services to catch up');
    expect(
      written.some((w) => w.changes.length > 1),
      'the stream has multi-key transactions',
    ).toBe(true);
    for (const [i, { service, seen }] of watchers.entries()) {
      await checkRecord(c.kv('c'), seen, written, `service ${i}`);
      expect(copyOf(service)).toEqual(await storeAt(c.kv('c'), final));
    }
  });

  it('a service opened while writes go on starts from a consistent read and misses nothing after it', async () => {
    const c = await startCluster();
    const opening: Promise<{ service: ConfigService; seen: Seen[] }>[] = [];
    const written = await writeStream(c.kv('a'), 11, 60, (i) => {
      if (i % 12 === 5) opening.push(openRecorded(c.kv(c.ids[i % 3]!))); // not awaited: its read races the writes
    });
    const opened = await Promise.all(opening);
    const last = written[written.length - 1]!.revision;
    for (const [i, { service, seen }] of opened.entries()) {
      await c.waitFor(() => service.revision >= last, 'the services to catch up');
      await checkRecord(c.kv('a'), seen, written, `service ${i} (opened at revision ${seen[0]!.update.revision})`);
    }
    const starts = new Set(opened.map((o) => o.seen[0]!.update.revision));
    expect(starts.size, 'the services opened at different revisions').toBeGreaterThan(1);
  });

  it('compare-and-set: concurrent updates from three nodes lose no increment; a stale version is refused and changes nothing', async () => {
    const c = await startCluster();
    const instances = await Promise.all(c.ids.map((id) => Service.open(c.kv(id), { prefix })));
    services.push(...instances);
    const increments = 10;
    let calls = 0;
    const increment = (current: string | undefined): string => {
      calls++;
      return String(Number(current ?? '0') + 1);
    };
    await Promise.all(
      instances.map(async (service) => {
        for (let i = 0; i < increments; i++) await service.update('counter', increment);
      }),
    );
    const total = String(instances.length * increments);
    for (const service of instances) await c.waitFor(() => service.get('counter') === total, `every copy to read ${total}`);
    expect(calls, 'a conflict makes update() read again and retry').toBeGreaterThanOrEqual(instances.length * increments);

    const entry = instances[0]!.entry('counter')!;
    expect(entry.version).toBe(instances.length * increments);
    const stale = await instances[1]!.set('counter', '0', { expectedVersion: entry.version - 1 }).catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(VersionConflictError);
    expect(stale).toMatchObject({ currentVersion: entry.version });
    expect(await instances[2]!.set('counter', '0', { expectedVersion: 0 }).catch((e: unknown) => e), 'create-only over an existing key').toBeInstanceOf(
      VersionConflictError,
    );
    expect(decoder.decode((await c.kv('a').get(`${prefix}counter`))!.value)).toBe(total);

    // A set resolves once the local copy holds it (read-your-writes).
    await instances[1]!.set('fresh', 'yes', { expectedVersion: 0 });
    expect(instances[1]!.get('fresh')).toBe('yes');
    expect(await instances[1]!.update('fresh', () => undefined)).toBeUndefined();
    expect(instances[1]!.entry('fresh')).toBeUndefined();
  });

  it('when compaction passes its watch, it reads afresh and reports the difference as one resync update', async () => {
    const c = await startCluster();
    const kv = c.kv('a');
    await kv.put(`${prefix}keep`, '1');
    await kv.put(`${prefix}drop`, '1');
    await kv.put(`${prefix}change`, '1');
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const compacting = new CompactedOnce(kv, gate);
    const { service, seen } = await openRecorded(compacting);

    await kv.delete(`${prefix}drop`);
    await kv.put(`${prefix}change`, '2');
    await kv.put(`${prefix}new`, '1');
    const { revision } = await kv.put(`${prefix}change`, '3');
    await kv.compact(revision);
    release();
    await c.waitFor(() => seen.length === 2, 'the resync');
    expect(seen[1]!.update).toMatchObject({ kind: 'resync', revision });
    expect([...seen[1]!.update.changes].sort((x, y) => (x.name < y.name ? -1 : 1))).toEqual([
      { name: 'change', type: 'put', value: '3', previous: '1' },
      { name: 'drop', type: 'delete', value: undefined, previous: '1' },
      { name: 'new', type: 'put', value: '1', previous: undefined },
    ]);
    expect(seen[1]!.copy).toEqual(await storeAt(kv));

    // Then it follows changes one by one again.
    await service.set('keep', '2');
    expect(seen.map((s) => s.update.kind)).toEqual(['initial', 'resync', 'changes']);
    expect(compacting.watches.map((w) => w.fromRevision)).toEqual([4, revision + 1]);
  });
});

/** A KvApi whose first watch waits for `gate`, then fails as if compaction had passed it. */
class CompactedOnce extends CountingKv {
  constructor(
    inner: KvApi,
    private readonly gate: Promise<void>,
  ) {
    super(inner);
  }

  protected override wrap(inner: Watch, record: WatchRecord): Watch {
    if (this.watches.length > 1) return super.wrap(inner, record);
    const gate = this.gate;
    inner.close();
    return {
      deliveredThrough: 0,
      async next(): Promise<IteratorResult<WatchEvent>> {
        await gate;
        record.closed = true;
        throw new CompactedError(record.fromRevision ?? 0, 0);
      },
      async return(): Promise<IteratorResult<WatchEvent>> {
        record.closed = true;
        return { done: true, value: undefined };
      },
      close: () => (record.closed = true),
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }
}
