/**
 * Model-based property of a range of a sharded KV that freezes and releases its upper
 * keys: random commands applied to a range `[a, h)` and to an unranged machine (the
 * oracle, given only the commands the range's bounds of the moment let through). A
 * command naming a key outside the bounds is refused with those bounds and changes
 * nothing; every other command answers as the oracle does; the range holds exactly the
 * oracle's keys inside its bounds and its frozen keys, record for record; and a replica
 * restored from a snapshot taken at a random step answers the same from then on.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { type KeyRange, type KvCommand, type KvResult, KvStateMachine, type TxnOp } from '../../src/kv/index.js';
import type { ApplyMeta } from '../../src/runtime/index.js';

const runs = Number(process.env['SYNOD_KV_RUNS'] ?? 300);
const creation = { start: 'a', end: 'h' };
// '0' and 'z' are outside the range from the start; 'b/' is the sequential prefix (no split point falls among its keys;
// its first key is written and deleted by hand too, so its counter is more than what the keys show).
const keys = ['0', 'a', 'b', 'b/0000000000', 'c', 'c/1', 'd', 'e', 'f', 'g', 'z'] as const;
const points = ['a', 'b', 'c', 'c/', 'c/f', 'd', 'f', 'g', 'h', 'z'] as const;
const prefixes = ['', 'b', 'c', 'c/', 'e', 'g'] as const;
const bytes = (s: string) => new TextEncoder().encode(s);

type Bounds = { start: string; end?: string };
type Frozen = { start: string; end?: string; revision: number };

const holds = (b: Bounds, key: string) => key >= b.start && (b.end === undefined || key < b.end);
/** Whether every key starting with `prefix` lies in `b`: the smallest is the prefix itself; all are below `end` unless `end` starts with it. */
const coversPrefix = (b: Bounds, prefix: string) => prefix >= b.start && (b.end === undefined || (prefix < b.end && !b.end.startsWith(prefix)));

/** The keys and ranges `c` names outside `b`, as the range must refuse them. */
function outside(b: Bounds, c: KvCommand): string[] {
  const found: string[] = [];
  const key = (k: string) => !holds(b, k) && found.push(k);
  const range = (r: KeyRange) => {
    if ('prefix' in r && !coversPrefix(b, r.prefix)) found.push(r.prefix);
  };
  // A sequential put's key is made under its prefix: outside if any could be (no split point falls among them).
  if (c.type === 'put') c.sequential === true ? range({ prefix: c.key }) : key(c.key);
  if (c.type === 'delete') key(c.key);
  if (c.type === 'txn') {
    for (const compare of c.compare) key(compare.key);
    for (const op of [...c.success, ...c.failure]) op.op === 'range' ? range(op.range) : key(op.key);
  }
  return found;
}

const key = fc.constantFrom(...keys);
const value = fc.constantFrom('x', 'y').map(bytes);
const session = fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined, freq: 3 });
const txnOp: fc.Arbitrary<TxnOp> = fc.oneof(
  fc.record({ key, value }).map(({ key, value }): TxnOp => ({ op: 'put', key, value })),
  key.map((key): TxnOp => ({ op: 'delete', key })),
  fc.constantFrom(...prefixes).map((prefix): TxnOp => ({ op: 'range', range: { prefix } })),
);
const command: fc.Arbitrary<KvCommand> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record({ key, value, session })
      .map(({ key, value, session }): KvCommand => ({ type: 'put', key, value, ...(session === undefined ? {} : { session }) })),
  },
  { weight: 1, arbitrary: value.map((value): KvCommand => ({ type: 'put', key: 'b/', value, sequential: true })) },
  { weight: 2, arbitrary: key.map((key): KvCommand => ({ type: 'delete', key })) },
  {
    weight: 2,
    arbitrary: fc
      .record({
        compare: fc.array(fc.record({ key, target: fc.constant('version' as const), op: fc.constant('==' as const), value: fc.nat(2) }), { maxLength: 1 }),
        success: fc.array(txnOp, { maxLength: 2 }),
        failure: fc.array(txnOp, { maxLength: 2 }),
      })
      .map((t): KvCommand => ({ type: 'txn', ...t })),
  },
  { weight: 1, arbitrary: fc.constant<KvCommand>({ type: 'session-create', ttlMs: 10_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }).map((s): KvCommand => ({ type: 'session-close', session: s })) },
  { weight: 1, arbitrary: fc.nat(30).map((revision): KvCommand => ({ type: 'compact', revision })) },
  { weight: 2, arbitrary: fc.constantFrom(...points).map((at): KvCommand => ({ type: 'range-freeze', at })) },
  // A release of '=' is one of the keys frozen then (drive() sets it), else of a random point.
  { weight: 2, arbitrary: fc.oneof(fc.constant('='), fc.constantFrom(...points)).map((at): KvCommand => ({ type: 'range-release', at })) },
);

function meta(slot: number): ApplyMeta {
  return { slot, timestamp: 1_000 + slot, clientId: 'c', seq: slot, origin: 'a' };
}

/** The oracle's histories of the keys `keep` says the range holds. */
function historiesIn(machine: KvStateMachine, keep: (key: string) => boolean) {
  return [...machine.view.allHistories()].filter(([k]) => keep(k));
}

/** What the range must answer to a freeze or a release, and the bounds and frozen keys after it. */
function expectedSplitStep(
  c: Extract<KvCommand, { type: 'range-freeze' | 'range-release' }>,
  bounds: Bounds,
  frozen: Frozen | undefined,
  oracle: KvStateMachine,
): { result: KvResult['type'] | KvResult; bounds: Bounds; frozen: Frozen | undefined } {
  const same = { bounds, frozen };
  if (c.type === 'range-freeze') {
    if (frozen?.start === c.at) return { result: { type: 'range-frozen', at: c.at, revision: frozen.revision }, ...same };
    if (frozen !== undefined || c.at <= bounds.start || (bounds.end !== undefined && c.at >= bounds.end)) return { result: 'invalid', ...same };
    const cut = { start: c.at, ...(bounds.end === undefined ? {} : { end: bounds.end }) };
    if (oracle.view.range({ prefix: '' }, 1_000).kvs.some((kv) => holds(cut, kv.key) && kv.session !== undefined)) return { result: 'invalid', ...same };
    return {
      result: { type: 'range-frozen', at: c.at, revision: oracle.revision },
      bounds: { start: bounds.start, end: c.at },
      frozen: { ...cut, revision: oracle.revision },
    };
  }
  if (frozen === undefined) return { result: bounds.end === c.at ? { type: 'range-released', keys: 0 } : 'invalid', ...same };
  if (frozen.start !== c.at) return { result: 'invalid', ...same };
  return { result: { type: 'range-released', keys: historiesIn(oracle, (k) => holds(frozen, k)).length }, bounds, frozen: undefined };
}

it('a range refuses what its bounds of the moment exclude, answers the rest as an unranged store, and holds exactly its keys', async () => {
  const seen = { frozen: 0, released: 0, refused: 0, refusedSinceFreeze: 0, answered: 0, restoredFrozen: 0 };
  await fc.assert(
    fc.asyncProperty(fc.array(command, { minLength: 10, maxLength: 50, size: 'max' }), fc.nat(40), async (commands, snapshotAt) => {
      const machine = new KvStateMachine({ bounds: creation, historyRevisionsMax: 12 });
      const oracle = new KvStateMachine({ historyRevisionsMax: 12 });
      let bounds: Bounds = creation;
      let frozen: Frozen | undefined;
      let replica: KvStateMachine | undefined;
      for (const [i, planned] of commands.entries()) {
        const c: KvCommand = planned.type === 'range-release' && planned.at === '=' ? { ...planned, at: frozen?.start ?? 'c' } : planned;
        if (i === snapshotAt) {
          replica = new KvStateMachine({ bounds: creation, historyRevisionsMax: 12 });
          replica.restore(await machine.snapshot().write());
        }
        const m = meta(i + 1);
        const got = machine.apply(c, m);
        const what = `command ${i}: ${JSON.stringify(c)}`;
        if (c.type === 'range-freeze' || c.type === 'range-release') {
          const expected = expectedSplitStep(c, bounds, frozen, oracle);
          if (typeof expected.result === 'string') expect(got.type, what).toBe(expected.result);
          else expect(got, what).toEqual(expected.result);
          if (got.type === 'range-frozen') seen.frozen++;
          if (got.type === 'range-released' && got.keys > 0) seen.released++;
          ({ bounds, frozen } = expected);
        } else {
          const excluded = outside(bounds, c);
          if (excluded.length > 0) {
            expect(got.type, what).toBe('wrong-range');
            const refusal = got as Extract<KvResult, { type: 'wrong-range' }>;
            expect({ start: refusal.start, end: refusal.end }, what).toEqual({ start: bounds.start, end: bounds.end });
            const sequential = c.type === 'put' && c.sequential === true;
            expect(
              excluded.some((k) => refusal.key === k || (sequential && refusal.key.startsWith(k))),
              `${what}: ${refusal.key}`,
            ).toBe(true);
            seen.refused++;
            if (holds(creation, refusal.key)) seen.refusedSinceFreeze++;
          } else {
            expect(got, what).toEqual(oracle.apply(c, m));
            seen.answered++;
          }
        }
        if (replica !== undefined) expect(replica.apply(c, m), `replica, ${what}`).toEqual(got);
        expect(machine.keyBounds, what).toEqual(bounds);
        expect(machine.frozen, what).toEqual(frozen);
        expect(machine.revision, what).toBe(oracle.revision);
        const keeps = (k: string) => holds(bounds, k) || (frozen !== undefined && holds(frozen, k));
        const held = historiesIn(oracle, keeps);
        const histories = [...machine.view.allHistories()];
        expect(histories, what).toEqual(held);
        // The changes watches read: the oracle's, but for keys the range no longer holds.
        if (machine.revision > machine.compactRevision)
          expect(machine.view.events(machine.compactRevision + 1, machine.revision, () => true, 1_000).events, what).toEqual(
            oracle.view.events(oracle.compactRevision + 1, oracle.revision, keeps, 1_000).events,
          );
        expect(machine.size.keys, what).toBe(histories.length);
        expect(machine.size.valueBytes, what).toBe(histories.flatMap(([, h]) => h).reduce((n, r) => n + (r.value?.byteLength ?? 0), 0));
      }
      if (replica !== undefined) {
        if (replica.keyBounds?.end !== creation.end) seen.restoredFrozen++;
        expect(replica.keyBounds).toEqual(machine.keyBounds);
        expect(replica.frozen).toEqual(machine.frozen);
        expect([...replica.view.allHistories()]).toEqual([...machine.view.allHistories()]);
      }
    }),
    { numRuns: runs },
  );
  // Each case is common: a property that never froze, released or refused would prove little.
  const enough = runs / 10;
  for (const [name, count] of Object.entries(seen)) expect(count, name).toBeGreaterThan(enough);
});

it('a new range seeded from the frozen keys, in chunks repeated and resumed, holds them as the old range did', async () => {
  const plain = command.filter((c) => !c.type.startsWith('range-'));
  const copies = { keys: 0, repeats: 0, restored: 0, sequences: 0 };
  await fc.assert(
    fc.asyncProperty(
      fc.array(plain, { minLength: 10, maxLength: 50, size: 'max' }),
      fc.constantFrom('b', 'c/f', 'd', 'f'),
      fc.array(fc.record({ keys: fc.integer({ min: 0, max: 3 }), repeat: fc.boolean(), restore: fc.boolean() }), { minLength: 30, maxLength: 30 }),
      async (commands, at, steps) => {
        const from = new KvStateMachine({ bounds: creation, historyRevisionsMax: 12 });
        let slot = 0;
        const meta = () => ({ slot: ++slot, timestamp: 1_000 + slot, clientId: 'c', seq: slot, origin: 'a' });
        const unsplit = new KvStateMachine({ bounds: creation, historyRevisionsMax: 12 });
        for (const c of commands) {
          const m = meta();
          from.apply(c, m);
          unsplit.apply(c, m);
        }
        // Sessions do not move: end them first, as a split must.
        for (const id of [1, 2, 3]) {
          const m = meta();
          from.apply({ type: 'session-close', session: id }, m);
          unsplit.apply({ type: 'session-close', session: id }, m);
        }
        expect(from.apply({ type: 'range-freeze', at }, meta())).toMatchObject({ type: 'range-frozen' });
        const revision = from.frozen!.revision;
        const newRange = () => new KvStateMachine({ bounds: { start: at, end: creation.end }, awaitsSeed: true, historyRevisionsMax: 12 });
        let to = newRange();
        let after = '';
        let sent: Extract<KvCommand, { type: 'range-seed' }> | undefined;
        for (const step of steps) {
          if (step.repeat && sent !== undefined) {
            // A chunk entered twice (a retry after a lost answer) answers where the seeding is, or that it is over, and changes nothing.
            if (to.awaitingSeed) expect(to.apply(sent, meta())).toEqual({ type: 'range-seeded', cursor: after, done: false });
            else expect(to.apply(sent, meta())).toMatchObject({ type: 'invalid', reason: expect.stringMatching(/awaits no keys/) });
            copies.repeats++;
          }
          if (step.restore) {
            const copy = newRange();
            copy.restore(await to.snapshot().write());
            to = copy;
            copies.restored++;
          }
          if (!to.awaitingSeed) break;
          // Chunks of 0 to 3 keys; 0 keys is how an empty frozen range is seeded, or a pause.
          const chunk = from.frozenChunk(after, step.keys);
          sent = { type: 'range-seed', revision, after, records: chunk.records, last: chunk.last, sequences: chunk.sequences };
          const answer = to.apply(sent, meta());
          after = chunk.records.at(-1)?.key ?? after;
          expect(answer).toEqual({ type: 'range-seeded', cursor: after, done: chunk.last });
        }
        if (to.awaitingSeed) return; // 30 chunks of up to 3 keys did not cover it: rare, and nothing to compare
        const frozenKeys = from.view.range({ start: at, end: creation.end }, 1_000).kvs;
        copies.keys += frozenKeys.length;
        expect(to.view.range({ start: at, end: creation.end }, 1_000).kvs).toEqual(frozenKeys);
        expect([...to.view.allHistories()].map(([key, history]) => [key, history.length])).toEqual(frozenKeys.map((kv) => [kv.key, 1]));
        expect({ revision: to.revision, compactRevision: to.compactRevision }).toEqual({ revision, compactRevision: revision });
        expect(to.size).toEqual({ keys: frozenKeys.length, versions: 0, valueBytes: frozenKeys.reduce((n, kv) => n + kv.value.byteLength, 0), sessions: 0 });
        // The sequence counters go with their prefixes: the next sequential key is the one the range would have made unsplit.
        if (holds({ start: at, end: creation.end }, 'b/')) {
          const next = (m: KvStateMachine) => m.apply({ type: 'put', key: 'b/', value: new Uint8Array([1]), sequential: true }, meta());
          expect(next(from).type).toBe('wrong-range');
          expect(next(to)).toMatchObject({ type: 'put', key: (next(unsplit) as { key: string }).key });
          copies.sequences++;
        }
      },
    ),
    { numRuns: runs },
  );
  // Each case is common (a split at b moves the sequential prefix b/: about a quarter of the runs).
  for (const [name, count] of Object.entries(copies)) expect(count, name).toBeGreaterThan(runs / 10);
});
