/**
 * A range of a sharded KV giving up its upper keys (`range-freeze`, `range-release`):
 * its bounds narrow at one slot of its log, writes past them are refused from then on,
 * the frozen keys stay readable for the copy until their release, and the narrowed
 * bounds are state: a snapshot carries them, a replay from slot 0 rebuilds them.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CodecError } from '../../src/index.js';
import { type KvCommand, type KvResult, KvStateMachine } from '../../src/kv/index.js';
import type { ApplyMeta } from '../../src/runtime/index.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const bounds = { start: 'a', end: 'm' };

/** A range `[a, m)` holding a few keys, one owned by a session, and the commands that made it. */
function range(): { machine: KvStateMachine; apply(command: KvCommand): KvResult; log: [KvCommand, ApplyMeta][] } {
  const machine = new KvStateMachine({ bounds, historyRevisionsMax: 1_000 });
  const log: [KvCommand, ApplyMeta][] = [];
  const apply = (command: KvCommand): KvResult => {
    const slot = log.length + 1;
    const meta = { slot, timestamp: 1_000 + slot, clientId: 'c', seq: slot, origin: 'a' };
    log.push([command, meta]);
    return machine.apply(command, meta);
  };
  apply({ type: 'session-create', ttlMs: 10_000 });
  for (const key of ['b', 'c', 'f', 'g', 'k']) apply({ type: 'put', key, value: bytes(key) });
  apply({ type: 'put', key: 'g', value: bytes('g2') });
  apply({ type: 'delete', key: 'k' });
  apply({ type: 'put', key: 'c/eph', value: bytes('e'), session: 1 });
  return { machine, apply, log };
}

type Seed = Extract<KvCommand, { type: 'range-seed' }>;

const live = (m: KvStateMachine) => m.view.range({ start: '', end: '\u{10FFFF}' }, 100).kvs.map((kv) => kv.key);

describe('range-freeze', () => {
  it('narrows the bounds at one slot: writes past them are refused, those before go on, the frozen keys stay as they were', () => {
    const { machine, apply } = range();
    const revision = machine.revision;
    expect(apply({ type: 'range-freeze', at: 'f' })).toEqual({ type: 'range-frozen', at: 'f', revision });
    expect(machine.keyBounds).toEqual({ start: 'a', end: 'f' });
    expect(machine.frozen).toEqual({ start: 'f', end: 'm', revision });
    const refused = { type: 'wrong-range', start: 'a', end: 'f' };
    expect(apply({ type: 'put', key: 'g', value: bytes('late') })).toEqual({ ...refused, key: 'g' });
    expect(apply({ type: 'delete', key: 'f' })).toEqual({ ...refused, key: 'f' });
    expect(apply({ type: 'txn', compare: [], success: [{ op: 'range', range: { prefix: 'g' } }], failure: [] })).toEqual({ ...refused, key: 'g' });
    expect(apply({ type: 'put', key: 'e', value: bytes('e') })).toMatchObject({ type: 'put', key: 'e', revision: revision + 1 });
    // The frozen keys, as of the freeze: what the new range copies.
    expect(machine.view.latest('g')?.value).toEqual(bytes('g2'));
    expect(machine.view.latest('g')?.revision).toBeLessThanOrEqual(revision);
    expect(live(machine)).toEqual(['b', 'c', 'c/eph', 'e', 'f', 'g']);
  });

  it('answers a repeat as the first time, and refuses a second freeze until the first is released', () => {
    const { machine, apply } = range();
    const first = apply({ type: 'range-freeze', at: 'f' });
    apply({ type: 'put', key: 'b', value: bytes('b2') });
    expect(apply({ type: 'range-freeze', at: 'f' })).toEqual(first);
    expect(apply({ type: 'range-freeze', at: 'd' })).toMatchObject({ type: 'invalid', reason: expect.stringMatching(/keys from f are frozen/) });
    expect(machine.keyBounds).toEqual({ start: 'a', end: 'f' });
  });

  it('refuses a point outside the bounds, a key a session owns past the point, and a KV that is no range; nothing changes', () => {
    const { machine, apply } = range();
    for (const at of ['a', 'A', 'm', 'z'])
      expect(apply({ type: 'range-freeze', at }), at).toMatchObject({ type: 'invalid', reason: expect.stringMatching(/not inside the range \[a, m\)/) });
    expect(apply({ type: 'range-freeze', at: 'c' })).toMatchObject({ type: 'invalid', reason: expect.stringMatching(/key c\/eph belongs to session 1/) });
    expect(apply({ type: 'range-freeze', at: '' })).toMatchObject({ type: 'invalid', reason: expect.stringMatching(/non-empty/) });
    expect(machine.keyBounds).toEqual(bounds);
    expect(machine.frozen).toBeUndefined();
    const whole = new KvStateMachine();
    const meta = { slot: 1, timestamp: 1, clientId: 'c', seq: 1, origin: 'a' };
    expect(whole.apply({ type: 'range-freeze', at: 'f' }, meta)).toMatchObject({ type: 'invalid', reason: expect.stringMatching(/not a range/) });
  });

  it('refuses a point among the keys of a sequential prefix in use, which would straddle two ranges', () => {
    const machine = new KvStateMachine({ bounds });
    const meta = (slot: number) => ({ slot, timestamp: slot, clientId: 'c', seq: slot, origin: 'a' });
    machine.apply({ type: 'put', key: 'd/q', value: bytes('1'), sequential: true }, meta(1));
    expect(machine.apply({ type: 'range-freeze', at: 'd/q0000000003' }, meta(2))).toMatchObject({
      type: 'invalid',
      reason: expect.stringMatching(/falls among the keys of sequential prefix d\/q/),
    });
    // At the prefix itself, every key it makes goes with it.
    expect(machine.apply({ type: 'range-freeze', at: 'd/q' }, meta(3))).toEqual({ type: 'range-frozen', at: 'd/q', revision: 1 });
  });

  it('freezes to the end of the keyspace from a range with no end', () => {
    const machine = new KvStateMachine({ bounds: { start: 'm' } });
    const meta = (slot: number) => ({ slot, timestamp: slot, clientId: 'c', seq: slot, origin: 'a' });
    machine.apply({ type: 'put', key: 'x', value: bytes('x') }, meta(1));
    expect(machine.apply({ type: 'range-freeze', at: 'p' }, meta(2))).toEqual({ type: 'range-frozen', at: 'p', revision: 1 });
    expect(machine.frozen).toEqual({ start: 'p', revision: 1 });
    expect(machine.apply({ type: 'put', key: 'zzz', value: bytes('z') }, meta(3))).toEqual({ type: 'wrong-range', key: 'zzz', start: 'm', end: 'p' });
    expect(machine.apply({ type: 'range-release', at: 'p' }, meta(4))).toEqual({ type: 'range-released', keys: 1 });
    expect(machine.size.keys).toBe(0);
  });
});

describe('range-release', () => {
  it('forgets the frozen keys and their history; a repeat forgets none, another point is refused', () => {
    const { machine, apply } = range();
    apply({ type: 'range-freeze', at: 'f' });
    const valueBytes = machine.size.valueBytes;
    expect(apply({ type: 'range-release', at: 'd' })).toMatchObject({ type: 'invalid', reason: expect.stringMatching(/frozen are from f, not d/) });
    // f, g (two versions) and k (a put and its delete): every key with history from f on.
    expect(apply({ type: 'range-release', at: 'f' })).toEqual({ type: 'range-released', keys: 3 });
    expect(machine.frozen).toBeUndefined();
    expect(live(machine)).toEqual(['b', 'c', 'c/eph']);
    expect([...machine.view.allHistories()].map(([key]) => key)).toEqual(['b', 'c', 'c/eph']);
    expect(machine.size.valueBytes).toBe(valueBytes - 'f'.length - 'g'.length - 'g2'.length - 'k'.length);
    // Watches see no change of a forgotten key, and no other change is lost.
    expect(machine.view.events(1, machine.revision, () => true, 100).events.map((e) => e.kv.key)).toEqual(['b', 'c', 'c/eph']);
    expect(apply({ type: 'range-release', at: 'f' })).toEqual({ type: 'range-released', keys: 0 });
    expect(apply({ type: 'range-release', at: 'c' })).toMatchObject({ type: 'invalid', reason: expect.stringMatching(/no keys from c were frozen/) });
    // Narrower again: a second split of what is left.
    expect(apply({ type: 'range-freeze', at: 'c/' })).toMatchObject({ type: 'invalid', reason: expect.stringMatching(/session 1/) });
    expect(apply({ type: 'range-freeze', at: 'c/f' })).toEqual({ type: 'range-frozen', at: 'c/f', revision: machine.revision });
    expect(machine.keyBounds).toEqual({ start: 'a', end: 'c/f' });
  });

  it('leaves a snapshot being written with the keys it captured', async () => {
    const { machine, apply } = range();
    apply({ type: 'range-freeze', at: 'f' });
    const capture = machine.snapshot();
    apply({ type: 'range-release', at: 'f' });
    const copy = new KvStateMachine({ bounds });
    copy.restore(await capture.write());
    expect(live(copy)).toEqual(['b', 'c', 'c/eph', 'f', 'g']);
    expect(copy.frozen).toEqual({ start: 'f', end: 'm', revision: copy.revision });
  });
});

describe('a range narrowed by a freeze', () => {
  it('is the same after a replay from slot 0 and after a restore from a snapshot, at every step', async () => {
    const { machine, apply, log } = range();
    apply({ type: 'range-freeze', at: 'f' });
    apply({ type: 'put', key: 'd', value: bytes('d') });
    apply({ type: 'range-release', at: 'f' });
    apply({ type: 'range-freeze', at: 'c/' }); // refused: c/eph is a session's
    apply({ type: 'range-freeze', at: 'c/f' });
    apply({ type: 'put', key: 'a', value: bytes('a') });
    // Every prefix of the log, replayed and snapshotted, then the rest applied: the same answers and state.
    for (let cut = 0; cut <= log.length; cut++) {
      const replayed = new KvStateMachine({ bounds, historyRevisionsMax: 1_000 });
      for (const [command, meta] of log.slice(0, cut)) replayed.apply(command, meta);
      const restored = new KvStateMachine({ bounds, historyRevisionsMax: 1_000 });
      restored.restore(await replayed.snapshot().write());
      expect(restored.keyBounds, `cut ${cut}`).toEqual(replayed.keyBounds);
      for (const [command, meta] of log.slice(cut))
        expect(restored.apply(command, meta), `cut ${cut}: ${JSON.stringify(command)}`).toEqual(replayed.apply(command, meta));
      for (const m of [replayed, restored]) {
        expect(m.keyBounds, `cut ${cut}`).toEqual(machine.keyBounds);
        expect(m.frozen, `cut ${cut}`).toEqual(machine.frozen);
        expect([...m.view.allHistories()], `cut ${cut}`).toEqual([...machine.view.allHistories()]);
      }
    }
  });

  it('takes the bounds it was made with from a snapshot that has none (written before ranges narrowed)', async () => {
    const { machine, apply } = range();
    const unranged = new KvStateMachine();
    unranged.apply({ type: 'put', key: 'b', value: bytes('b') }, { slot: 1, timestamp: 1, clientId: 'c', seq: 1, origin: 'a' });
    apply({ type: 'range-freeze', at: 'f' });
    machine.restore(await unranged.snapshot().write());
    expect(machine.keyBounds).toEqual(bounds);
    expect(machine.frozen).toBeUndefined();
  });
});

describe('a ranged snapshot', () => {
  it('is format version 5 only once a freeze narrowed the range: before, it is what a build from before splits reads', async () => {
    const { machine, apply } = range();
    expect((await machine.snapshot().write())[3]).toBe(3);
    apply({ type: 'range-freeze', at: 'f' });
    expect((await machine.snapshot().write())[3]).toBe(5);
    apply({ type: 'range-release', at: 'f' });
    expect((await machine.snapshot().write())[3]).toBe(5);
    expect((await new KvStateMachine().snapshot().write())[3]).toBe(3);
  });

  it('keeps the extension after the range', async () => {
    const extension = { apply: () => new Uint8Array(), snapshot: () => bytes('ext state'), restore: (data: Uint8Array | undefined) => restored.push(data) };
    const restored: (Uint8Array | undefined)[] = [];
    const machine = new KvStateMachine({ bounds, extension });
    machine.apply({ type: 'range-freeze', at: 'f' }, { slot: 1, timestamp: 1, clientId: 'c', seq: 1, origin: 'a' });
    const copy = new KvStateMachine({ bounds, extension });
    copy.restore(await machine.snapshot().write());
    expect(restored).toEqual([bytes('ext state')]);
    expect(copy.frozen).toEqual({ start: 'f', end: 'm', revision: 0 });
  });

  it('refuses damaged bytes with CodecError only', async () => {
    const { machine, apply } = range();
    apply({ type: 'range-freeze', at: 'f' });
    const data = await machine.snapshot().write();
    fc.assert(
      fc.property(fc.nat(data.length - 1), fc.integer({ min: 1, max: 255 }), fc.boolean(), (at, xor, cut) => {
        const damaged = cut ? data.slice(0, at) : data.slice();
        if (!cut) damaged[at] = damaged[at]! ^ xor;
        try {
          new KvStateMachine({ bounds }).restore(damaged);
        } catch (e) {
          expect(e).toBeInstanceOf(CodecError);
        }
      }),
      { numRuns: 3_000 },
    );
  });
});

describe('range-seed', () => {
  /** A new range `[f, m)` awaiting its keys. */
  const newRange = () => new KvStateMachine({ bounds: { start: 'f', end: 'm' }, awaitsSeed: true });
  let slot = 0;
  const meta = () => ({ slot: ++slot, timestamp: slot, clientId: 'c', seq: slot, origin: 'a' });
  const seed = (after: string, records: Seed['records'], last: boolean, revision = 9): Seed => ({
    type: 'range-seed',
    revision,
    after,
    records,
    last,
    sequences: [],
  });

  it('copies the frozen keys chunk by chunk, each with its versions and revisions, so a compare-and-set read before the split still holds', () => {
    const { machine, apply } = range();
    apply({ type: 'range-freeze', at: 'f' });
    const to = newRange();
    let after = '';
    for (;;) {
      const chunk = machine.frozenChunk(after, 1);
      const answer = to.apply(
        { type: 'range-seed', revision: machine.frozen!.revision, after, records: chunk.records, last: chunk.last, sequences: [] },
        meta(),
      );
      expect(answer).toEqual({ type: 'range-seeded', cursor: chunk.records.at(-1)?.key ?? after, done: chunk.last });
      if (chunk.last) break;
      after = chunk.records.at(-1)!.key;
    }
    expect(to.awaitingSeed).toBe(false);
    expect(to.revision).toBe(machine.frozen!.revision);
    expect(to.compactRevision).toBe(machine.frozen!.revision);
    // f and g (k is deleted): their latest records, as the old range holds them.
    expect(to.view.range({ start: 'f', end: 'm' }, 10).kvs).toEqual(machine.view.range({ start: 'f', end: 'm' }, 10).kvs);
    const g = machine.view.latest('g')!;
    expect(to.apply({ type: 'put', key: 'g', value: bytes('g3'), expectedVersion: g.version }, meta())).toEqual({
      type: 'put',
      key: 'g',
      version: g.version + 1,
      revision: machine.frozen!.revision + 1,
    });
  });

  it('changes nothing on a repeat or a chunk from elsewhere, and answers where the seeding is', () => {
    const to = newRange();
    const one = [{ key: 'g', value: bytes('g'), version: 2, createRevision: 3, modRevision: 5 }];
    expect(to.apply(seed('', one, false), meta())).toEqual({ type: 'range-seeded', cursor: 'g', done: false });
    expect(to.apply(seed('', one, false), meta())).toEqual({ type: 'range-seeded', cursor: 'g', done: false });
    expect(to.apply(seed('h', [], true), meta())).toEqual({ type: 'range-seeded', cursor: 'g', done: false });
    expect(to.size.keys).toBe(1);
    expect(to.apply(seed('g', [], true), meta())).toEqual({ type: 'range-seeded', cursor: 'g', done: true });
    expect(to.apply(seed('g', [], true), meta())).toMatchObject({ type: 'invalid', reason: expect.stringMatching(/awaits no keys/) });
  });

  it('refuses every other command touching keys, sessions or compaction until the last chunk', () => {
    const to = newRange();
    for (const command of [
      { type: 'put', key: 'g', value: bytes('x') },
      { type: 'delete', key: 'g' },
      { type: 'txn', compare: [], success: [], failure: [] },
      { type: 'session-create', ttlMs: 1_000 },
      { type: 'compact', revision: 0 },
      { type: 'range-freeze', at: 'h' },
    ] as const satisfies readonly KvCommand[])
      expect(to.apply(command, meta()), command.type).toMatchObject({ type: 'invalid', reason: expect.stringMatching(/awaits the keys a split moves to it/) });
    expect(to.apply({ type: 'session-renew' }, meta())).toEqual({ type: 'renewed', sessions: 0 });
    expect(to.size.keys).toBe(0);
  });

  it('refuses a chunk out of order, outside the range, from a session, with versions that cannot be, or at another revision; nothing changes', () => {
    const to = newRange();
    const kv = { key: 'g', value: bytes('g'), version: 1, createRevision: 3, modRevision: 3 };
    const refusals: [Seed, RegExp][] = [
      [seed('', [kv, { ...kv, key: 'f' }], false), /key f is not after g/],
      [seed('', [{ ...kv, key: 'x' }], false), /key x is outside the range/],
      [seed('', [{ ...kv, session: 1 }], false), /belongs to a session/],
      [seed('', [{ ...kv, version: 0 }], false), /version 0/],
      [seed('', [{ ...kv, modRevision: 2 }], false), /changed at revision 2/],
      [seed('', [{ ...kv, modRevision: 10 }], false), /changed at revision 10/],
      [{ ...seed('', [kv], false), sequences: [['g/', 4]] }, /sequence counters come with the last chunk/],
      [{ ...seed('', [kv], true), sequences: [['a/', 4]] }, /sequence a\/ at 4/],
    ];
    for (const [command, reason] of refusals)
      expect(to.apply(command, meta()), String(reason)).toMatchObject({ type: 'invalid', reason: expect.stringMatching(reason) });
    expect(to.revision).toBe(0);
    expect(to.apply(seed('', [kv], false), meta())).toEqual({ type: 'range-seeded', cursor: 'g', done: false });
    expect(to.apply(seed('g', [], true, 10), meta())).toMatchObject({ type: 'invalid', reason: expect.stringMatching(/revision 10, not the seeding's 9/) });
    expect({ keys: to.size.keys, revision: to.revision }).toEqual({ keys: 1, revision: 9 });
  });

  it('hands over the sequence counters with the last chunk', () => {
    const to = newRange();
    expect(to.apply({ ...seed('', [], true), sequences: [['g/', 4]] }, meta())).toEqual({ type: 'range-seeded', cursor: '', done: true });
    expect(to.apply({ type: 'put', key: 'g/', value: bytes('s'), sequential: true }, meta())).toMatchObject({ key: 'g/0000000004' });
  });

  it('is in the snapshots of a range awaiting its keys, and only there', async () => {
    const to = newRange();
    to.apply(seed('', [{ key: 'g', value: bytes('g'), version: 1, createRevision: 3, modRevision: 3 }], false), meta());
    const data = await to.snapshot().write();
    expect(data[3]).toBe(5);
    const copy = new KvStateMachine({ bounds: { start: 'f', end: 'm' }, awaitsSeed: true });
    copy.restore(data);
    expect(copy.apply(seed('', [], true), meta())).toEqual({ type: 'range-seeded', cursor: 'g', done: false });
    expect(copy.apply(seed('g', [], true), meta())).toEqual({ type: 'range-seeded', cursor: 'g', done: true });
    const done = await copy.snapshot().write();
    expect(done[3]).toBe(3);
    const later = new KvStateMachine({ bounds: { start: 'f', end: 'm' }, awaitsSeed: true });
    later.restore(done);
    expect(later.awaitingSeed).toBe(false);
    expect(later.view.latest('g')?.version).toBe(1);
  });
});
