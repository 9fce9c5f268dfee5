import { describe, expect, it } from 'vitest';
import {
  type AcceptedEntry,
  type Ballot,
  type ChosenEntry,
  ConfigError,
  InvariantError,
  type PersistBatch,
  SynodError,
  batch,
  emptyDurableState,
  noop,
} from '../../src/core/index.js';
import { ClosedError } from '../../src/runtime/errors.js';
import { MemoryStorage } from '../../src/storage/memory-storage.js';

const ballot = (round: number, node = 'a'): Ballot => ({ round, node });
const command = (text: string): Uint8Array => new TextEncoder().encode(text);
const accepted = (slot: number, round: number, text = `v${slot}.${round}`): AcceptedEntry => ({
  slot,
  ballot: ballot(round),
  value: batch([command(text)]),
});
const chosen = (slot: number): ChosenEntry => ({ slot, value: noop });
const write = (parts: Partial<PersistBatch>): PersistBatch => ({ accepted: [], chosen: [], ...parts });
const slotsOf = (entries: readonly { readonly slot: number }[]): number[] => entries.map((e) => e.slot);

describe('MemoryStorage: persist and load', () => {
  it('a new storage loads the empty state and no snapshot', async () => {
    const storage = new MemoryStorage();
    expect(await storage.load()).toEqual(emptyDurableState);
    expect(await storage.loadSnapshot()).toBeUndefined();
  });

  it('loads what was persisted: promise, accepted, chosen, commit index', async () => {
    const storage = new MemoryStorage();
    const entry = accepted(1, 2);
    await storage.persist(write({ promised: ballot(2, 'b'), accepted: [entry], chosen: [chosen(3)], commitIndex: 1 }));
    const state = await storage.load();
    expect(state.promised).toEqual(ballot(2, 'b'));
    expect(state.accepted).toEqual([entry]);
    expect(state.chosen).toEqual([chosen(3)]);
    expect(state.commitIndex).toBe(1);
  });

  it('merges batches: a later entry of the same slot replaces the earlier, absent fields stay', async () => {
    const storage = new MemoryStorage();
    await storage.persist(write({ promised: ballot(1), accepted: [accepted(1, 1, 'old'), accepted(2, 1)], commitIndex: 1 }));
    await storage.persist(write({ accepted: [accepted(1, 3, 'new'), accepted(4, 3)], chosen: [chosen(2)] }));
    const state = await storage.load();
    expect(state.promised).toEqual(ballot(1));
    expect(state.commitIndex).toBe(1);
    expect(slotsOf(state.accepted)).toEqual([1, 2, 4]);
    expect(state.accepted[0]).toEqual(accepted(1, 3, 'new'));
    expect(slotsOf(state.chosen)).toEqual([2]);
  });

  it('applies persists in call order and resolves them in that order, never synchronously', async () => {
    const storage = new MemoryStorage();
    const resolved: number[] = [];
    const first = storage.persist(write({ promised: ballot(1), accepted: [accepted(5, 1, 'first')] })).then(() => resolved.push(1));
    const second = storage.persist(write({ promised: ballot(2), accepted: [accepted(5, 2, 'second')] })).then(() => resolved.push(2));
    expect(resolved).toEqual([]);
    expect(storage.stats.persists).toBe(0);
    await Promise.all([first, second]);
    expect(resolved).toEqual([1, 2]);
    expect(storage.stats.persists).toBe(2);
    const state = await storage.load();
    expect(state.promised).toEqual(ballot(2));
    expect(state.accepted).toEqual([accepted(5, 2, 'second')]);
  });

  it('load returns a copy that later persists leave alone', async () => {
    const storage = new MemoryStorage();
    await storage.persist(write({ accepted: [accepted(1, 1)], commitIndex: 0 }));
    const before = await storage.load();
    await storage.persist(write({ promised: ballot(9), accepted: [accepted(1, 9), accepted(2, 9)], chosen: [chosen(1)], commitIndex: 1 }));
    expect(before.promised).toEqual(emptyDurableState.promised);
    expect(before.accepted).toEqual([accepted(1, 1)]);
    expect(before.chosen).toEqual([]);
    expect(before.commitIndex).toBe(0);
    expect(slotsOf((await storage.load()).accepted)).toEqual([1, 2]);
  });

  const malformed: ReadonlyArray<readonly [string, PersistBatch, RegExp]> = [
    ['accepted missing', { chosen: [] } as unknown as PersistBatch, /accepted must be an array/],
    ['chosen missing', { accepted: [] } as unknown as PersistBatch, /chosen must be an array/],
    ['slot 0', write({ accepted: [accepted(0, 1)] }), /accepted slot 0 is not a positive integer/],
    ['fractional slot', write({ chosen: [chosen(1.5)] }), /chosen slot 1.5 is not a positive integer/],
    ['slots out of order', write({ accepted: [accepted(7, 1), accepted(3, 1)] }), /accepted slot 3 follows slot 7/],
    ['a slot twice', write({ chosen: [chosen(4), chosen(4)] }), /chosen slot 4 follows slot 4/],
    ['commit index going back', write({ commitIndex: 2 }), /commitIndex 2 is below the stored 5/],
  ];

  it.each(malformed)('rejects a malformed batch (%s) with InvariantError, writing nothing', async (_, bad, message) => {
    const storage = new MemoryStorage();
    await storage.persist(write({ accepted: [accepted(1, 1)], commitIndex: 5 }));
    const before = await storage.load();
    const error = await storage.persist(bad).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvariantError);
    expect((error as Error).message).toMatch(message);
    expect(await storage.load()).toEqual(before);
    expect(storage.stats.persists).toBe(1);
  });

  it('fails closed after a malformed batch: a later valid write is refused too', async () => {
    const storage = new MemoryStorage();
    await expect(storage.persist(write({ accepted: [accepted(2, 1), accepted(1, 1)] }))).rejects.toBeInstanceOf(InvariantError);
    await expect(storage.persist(write({ accepted: [accepted(1, 1)] }))).rejects.toBeInstanceOf(InvariantError);
    expect((await storage.load()).accepted).toEqual([]);
  });
});

describe('MemoryStorage: snapshots and compaction', () => {
  it('saves and loads snapshots as copies; a new one replaces the old', async () => {
    const storage = new MemoryStorage();
    const data = new Uint8Array([1, 2, 3]);
    await storage.saveSnapshot({ slot: 4, data });
    data[0] = 99; // the caller reuses its buffer
    const loaded = await storage.loadSnapshot();
    expect(loaded).toEqual({ slot: 4, data: new Uint8Array([1, 2, 3]) });
    loaded!.data[1] = 99; // the reader scribbles on its copy
    expect((await storage.loadSnapshot())?.data).toEqual(new Uint8Array([1, 2, 3]));
    await storage.saveSnapshot({ slot: 9, data: new Uint8Array([7]) });
    expect(await storage.loadSnapshot()).toEqual({ slot: 9, data: new Uint8Array([7]) });
  });

  it('refuses to compact what no snapshot covers, naming both slots', async () => {
    const storage = new MemoryStorage();
    await storage.persist(write({ accepted: [accepted(1, 1), accepted(2, 1)], commitIndex: 2 }));
    await expect(storage.compact(3)).rejects.toThrow(/below slot 3: the snapshot covers slots up to 0 only/);
    await storage.saveSnapshot({ slot: 1, data: new Uint8Array() });
    const error = await storage.compact(3).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvariantError);
    expect((error as Error).message).toMatch(/below slot 3: the snapshot covers slots up to 1 only/);
    expect(slotsOf((await storage.load()).accepted)).toEqual([1, 2]);
  });

  it('forgets accepted and chosen entries below the slot once a snapshot covers them', async () => {
    const storage = new MemoryStorage();
    await storage.persist(
      write({ accepted: [accepted(1, 1), accepted(2, 1), accepted(3, 1), accepted(4, 1)], chosen: [chosen(1), chosen(3)], commitIndex: 3 }),
    );
    await storage.saveSnapshot({ slot: 2, data: new Uint8Array([1]) });
    await storage.compact(3); // the snapshot covers slot 2 = 3 - 1: just enough
    const state = await storage.load();
    expect(slotsOf(state.accepted)).toEqual([3, 4]);
    expect(slotsOf(state.chosen)).toEqual([3]);
    expect(state.commitIndex).toBe(3);
  });

  it('compact(1) forgets nothing and needs no snapshot', async () => {
    const storage = new MemoryStorage();
    await storage.persist(write({ accepted: [accepted(1, 1)] }));
    await storage.compact(1);
    expect(slotsOf((await storage.load()).accepted)).toEqual([1]);
    await expect(storage.compact(0)).rejects.toBeInstanceOf(InvariantError);
  });
});

describe('MemoryStorage: close and reopen', () => {
  it('after close every call rejects with ClosedError', async () => {
    const storage = new MemoryStorage();
    await storage.close();
    const calls: ReadonlyArray<() => Promise<unknown>> = [
      () => storage.load(),
      () => storage.persist(write({})),
      () => storage.saveSnapshot({ slot: 1, data: new Uint8Array() }),
      () => storage.loadSnapshot(),
      () => storage.compact(1),
      () => storage.close(),
    ];
    for (const call of calls) {
      const error = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ClosedError);
      expect(error).toBeInstanceOf(SynodError);
      expect((error as SynodError).code).toBe('CLOSED');
    }
  });

  it('reopen gives a new handle on everything persisted, and the snapshot', async () => {
    const storage = new MemoryStorage();
    await storage.persist(write({ promised: ballot(3), accepted: [accepted(1, 3)], commitIndex: 1 }));
    await storage.saveSnapshot({ slot: 1, data: new Uint8Array([5]) });
    await storage.close();
    const restarted = storage.reopen();
    expect(restarted).not.toBe(storage);
    const state = await restarted.load();
    expect(state.promised).toEqual(ballot(3));
    expect(state.accepted).toEqual([accepted(1, 3)]);
    expect(state.commitIndex).toBe(1);
    expect(await restarted.loadSnapshot()).toEqual({ slot: 1, data: new Uint8Array([5]) });
    await restarted.persist(write({ promised: ballot(4) }));
    expect(restarted.stats.persists).toBe(2);
    await expect(storage.load()).rejects.toBeInstanceOf(ClosedError); // the old handle stays closed
  });

  it('refuses to reopen while a handle of the same data is open', async () => {
    const storage = new MemoryStorage();
    expect(() => storage.reopen()).toThrow(InvariantError);
    await storage.close();
    const second = storage.reopen();
    expect(() => storage.reopen()).toThrow(/still open/); // the old handle cannot open a second one
    await second.close();
    expect(() => second.reopen()).not.toThrow();
  });
});

describe('MemoryStorage: injected write failures', () => {
  it('fails the next persist with EIO, then fails closed until reopen', async () => {
    const storage = new MemoryStorage();
    await storage.persist(write({ accepted: [accepted(1, 1)] }));
    storage.failNextPersists(1);
    const error = await storage.persist(write({ accepted: [accepted(2, 1)] })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as { code?: unknown }).code).toBe('EIO');
    // The fault was used up, yet the handle keeps refusing: no write may look durable after a failed one.
    await expect(storage.persist(write({ accepted: [accepted(3, 1)] }))).rejects.toBe(error);
    await expect(storage.saveSnapshot({ slot: 1, data: new Uint8Array() })).rejects.toBe(error);
    expect(slotsOf((await storage.load()).accepted)).toEqual([1]); // reads still work; nothing failed was applied
    expect(storage.stats.persists).toBe(1);
    await storage.close();
    const restarted = storage.reopen();
    await restarted.persist(write({ accepted: [accepted(2, 2)] }));
    expect(slotsOf((await restarted.load()).accepted)).toEqual([1, 2]);
  });

  it('counts faults on the data: with count 2 the first write after a restart fails as well', async () => {
    const storage = new MemoryStorage();
    const broken = new Error('disk on fire');
    storage.failNextPersists(2, broken);
    await expect(storage.persist(write({}))).rejects.toBe(broken);
    await storage.close();
    const second = storage.reopen();
    await expect(second.persist(write({}))).rejects.toBe(broken);
    await second.close();
    const third = second.reopen();
    await expect(third.persist(write({ commitIndex: 0 }))).resolves.toBeUndefined();
    expect(third.stats.persists).toBe(1);
  });

  it('validates the fault count', () => {
    const storage = new MemoryStorage();
    for (const count of [-1, 1.5, Number.NaN]) {
      let error: unknown;
      try {
        storage.failNextPersists(count);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).field).toBe('count');
    }
  });
});
