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
