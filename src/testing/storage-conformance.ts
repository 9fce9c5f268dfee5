import {
  type AcceptedEntry,
  type Ballot,
  ballotEquals,
  type ChosenEntry,
  type DurableState,
  DurableStateBuilder,
  formatBallot,
  noop,
  type PersistBatch,
  persistNeedsSync,
  type Value,
  valueEquals,
} from '../core/index.js';
import { crc32 } from '../encoding/crc32.js';
import type { Snapshot, Storage } from '../runtime/index.js';
import { describe as describeValue } from './invariants.js';
import { Prng } from './prng.js';

/**
 * How the conformance suite gets storages: a fresh one per case, the same data again
 * after a clean close, and (optionally) after a power loss.
 */
export interface StorageFactory {
  /** A new storage with nothing persisted and no snapshot (a fresh directory, say). */
  create(): Promise<Storage>;
  /**
   * A new handle on the data of `previous`, as a restarted process would open it. The
   * suite has closed `previous` (and awaited its `close()`) before calling this.
   */
  reopen(previous: Storage): Promise<Storage>;
  /**
   * Simulates a power loss under `storage` and returns a handle reopened on what
   * survived: writes not yet durable (not yet fsynced, say) may be lost, durable ones
   * may not. The suite never uses `storage` again, nor awaits its pending calls. Left
   * out, the crash cases are not registered.
   */
  crash?(storage: Storage): Promise<Storage>;
}

/**
 * The two functions of a test runner the suite registers its cases with: `describe`
 * and `it` from vitest, or from `node:test`, fit as they are.
 */
export interface TestHarness {
  /** Groups cases under `name`; `fn` registers them synchronously. */
  describe(name: string, fn: () => void): unknown;
  /** One case; it fails if `fn` rejects. */
  it(name: string, fn: () => Promise<void>): unknown;
}

/**
 * Registers the Storage conformance suite for the storage that `factory` makes: the
 * contract written on {@link Storage}, checked against {@link DurableStateBuilder}'s
 * merge as the reference. Durability across reopen, call order, merge semantics,
 * snapshots, compaction, fail-after-close and, when `factory.crash` is given,
 * atomicity across a power loss at any point. Batches are drawn from a fixed seed, so
 * a failure replays; assertions throw plain `Error`s naming what differed.
 *
 * It imports no test runner: pass the runner's `describe` and `it`.
 *
 * @param name - the storage's name, the title of the registered `describe` block.
 * @param factory - makes, reopens and (optionally) crashes the storage under test.
 * @param harness - the test runner's `describe` and `it`.
 * @example
 * ```ts
 * import { describe, it } from 'vitest'; // or: from 'node:test'
 * import { MemoryStorage } from 'synod';
 * import { storageConformance } from 'synod/testing';
 *
 * storageConformance(
 *   'MemoryStorage',
 *   { create: async () => new MemoryStorage(), reopen: async (s) => (s as MemoryStorage).reopen() },
 *   { describe, it },
 * );
 * ```
 */
export function storageConformance(name: string, factory: StorageFactory, harness: TestHarness): void {
  const { describe, it } = harness;
  const withStorage = async (body: (storage: Storage, handle: Handle) => Promise<void>): Promise<void> => {
    const handle = new Handle(factory, await factory.create());
    try {
      await body(handle.storage, handle);
    } finally {
      await handle.release();
    }
  };

  describe(`${name} conforms to the Storage contract`, () => {
    it('a new storage loads the empty state and has no snapshot', () =>
      withStorage(async (storage) => {
        assertState(await storage.load(), new DurableStateBuilder().build(), 'load() of a new storage');
        const snapshot = await storage.loadSnapshot();
        check(snapshot === undefined, `loadSnapshot() of a new storage: expected undefined, got ${formatSnapshot(snapshot)}`);
      }));

    it('what was persisted survives close and reopen', () =>
      withStorage(async (storage, handle) => {
        const reference = new DurableStateBuilder();
        const batches: PersistBatch[] = [
          {
            promised: { round: 3, node: 'n1' },
            accepted: [accepted(1, 3, 'n1', 'a'), accepted(2, 3, 'n1', 'b'), accepted(3, 3, 'n1', noop)],
            chosen: [chosen(1, 'a'), chosen(2, 'b')],
            commitIndex: 2,
          },
          {
            promised: { round: 4, node: 'n2' },
            accepted: [accepted(3, 4, 'n2', 'c'), accepted(7, 4, 'n2', 'g')],
            chosen: [chosen(3, 'c')],
            commitIndex: 3,
          },
          { accepted: [], chosen: [chosen(5, 'e')] },
        ];
        for (const batch of batches) {
          await storage.persist(batch);
          reference.merge(batch);
        }
        assertState(await storage.load(), reference.build(), 'load() before close');
        const again = await handle.reopen();
        assertState(await again.load(), reference.build(), 'load() after close and reopen');
        const third = await handle.reopen();
        assertState(await third.load(), reference.build(), 'load() after a second close and reopen');
      }));

    it('sequential persists merge in order: later entries replace those of the same slot', () =>
      withStorage(async (storage, handle) => {
        const draw = new BatchDraw(new Prng(0x5eed0001), 12);
        const reference = new DurableStateBuilder();
        for (let i = 1; i <= 200; i++) {
          const batch = draw.next();
          await storage.persist(batch);
          reference.merge(batch);
          if (i % 25 === 0) assertState(await storage.load(), reference.build(), `load() after ${i} sequential persists (seed 0x5eed0001)`);
        }
        const again = await handle.reopen();
        assertState(await again.load(), reference.build(), 'load() after 200 sequential persists and a reopen (seed 0x5eed0001)');
      }));

    it('concurrent persists apply and resolve in call order', () =>
      withStorage(async (storage, handle) => {
        const draw = new BatchDraw(new Prng(0x5eed0002), 8);
        const reference = new DurableStateBuilder();
        const resolved: number[] = [];
        const pending: Promise<void>[] = [];
        for (let i = 0; i < 100; i++) {
          const batch = draw.next();
          reference.merge(batch);
          pending.push(storage.persist(batch).then(() => void resolved.push(i)));
        }
        await Promise.all(pending);
        const outOfOrder = resolved.findIndex((call, at) => call !== at);
        check(
          outOfOrder === -1,
          `100 persists issued without awaiting resolved out of call order: position ${outOfOrder} was call ${resolved[outOfOrder]} ` +
            `(order: ${resolved.slice(Math.max(0, outOfOrder - 2), outOfOrder + 3).join(', ')}, ...)`,
        );
        assertState(await storage.load(), reference.build(), 'load() after 100 concurrent persists (seed 0x5eed0002)');
        const again = await handle.reopen();
        assertState(await again.load(), reference.build(), 'load() after 100 concurrent persists and a reopen');
      }));

    it('load returns a snapshot: later persists do not change a returned state', () =>
      withStorage(async (storage) => {
        const draw = new BatchDraw(new Prng(0x5eed0003), 6);
        const reference = new DurableStateBuilder();
        for (let i = 0; i < 10; i++) {
          const batch = draw.next();
          await storage.persist(batch);
          reference.merge(batch);
        }
        const earlier = await storage.load();
        const expected = reference.build();
        for (let i = 0; i < 20; i++) {
          const batch = draw.next();
          await storage.persist(batch);
          reference.merge(batch);
        }
        assertState(earlier, expected, 'a state load() returned before 20 more persists');
        assertState(await storage.load(), reference.build(), 'load() after the 20 more persists');
      }));

    it('snapshots: saved apart from the log, replaced by the next save, copied in, kept across reopen', () =>
      withStorage(async (storage, handle) => {
        const reference = new DurableStateBuilder();
        const batch: PersistBatch = {
          promised: { round: 2, node: 'n1' },
          accepted: [accepted(1, 2, 'n1', 'a'), accepted(2, 2, 'n1', 'b')],
          chosen: [chosen(1, 'a')],
          commitIndex: 1,
        };
        await storage.persist(batch);
        reference.merge(batch);

        const firstData = Uint8Array.of(1, 2, 3);
        await storage.saveSnapshot({ slot: 5, data: firstData });
        firstData.fill(9); // the storage must have copied the bytes
        assertSnapshot(await storage.loadSnapshot(), { slot: 5, data: Uint8Array.of(1, 2, 3) }, 'loadSnapshot() after one save');
        assertState(await storage.load(), reference.build(), 'load() after saveSnapshot (the log is apart)');

        const prng = new Prng(0x5eed0004);
        const large = Uint8Array.from({ length: 100_000 }, () => prng.int(256));
        await storage.saveSnapshot({ slot: 9, data: large.slice() });
        assertSnapshot(await storage.loadSnapshot(), { slot: 9, data: large }, 'loadSnapshot() after a second save (100,000 bytes)');

        const again = await handle.reopen();
        assertSnapshot(await again.loadSnapshot(), { slot: 9, data: large }, 'loadSnapshot() after close and reopen');
        assertState(await again.load(), reference.build(), 'load() after saving snapshots and reopening');

        await again.saveSnapshot({ slot: 12, data: new Uint8Array(0) });
        const third = await handle.reopen();
        assertSnapshot(await third.loadSnapshot(), { slot: 12, data: new Uint8Array(0) }, 'loadSnapshot() of an empty snapshot after reopen');
      }));

    it('snapshots by pieces (openSnapshot, createSnapshot, where the storage has them): read back in any pieces, committed atomically, an abort leaves the old one', () =>
      withStorage(async (storage, handle) => {
        if (typeof storage.openSnapshot !== 'function' && typeof storage.createSnapshot !== 'function') return;
        const prng = new Prng(0x5eed0005);
        const data = Uint8Array.from({ length: 300_000 }, () => prng.int(256));
        if (typeof storage.createSnapshot === 'function') {
          const writer = storage.createSnapshot(7, data.byteLength);
          for (let at = 0; at < data.byteLength; at += 70_000) await writer.write(data.slice(at, Math.min(data.byteLength, at + 70_000)));
          await writer.commit();
          assertSnapshot(await storage.loadSnapshot(), { slot: 7, data }, 'loadSnapshot() after createSnapshot(7) and commit');
          const dropped = storage.createSnapshot(8, 3);
          await dropped.write(Uint8Array.of(1, 2, 3));
          await dropped.abort();
          assertSnapshot(await storage.loadSnapshot(), { slot: 7, data }, 'loadSnapshot() after an aborted createSnapshot(8)');
          let refused = false;
          const short = storage.createSnapshot(9, 10);
          await short.write(Uint8Array.of(1));
          await short.commit().catch(() => {
            refused = true;
          });
          check(refused, 'commit() of a snapshot given 1 of its 10 bytes: expected a rejection');
          // The next writer created while a commit has not finished: that commit still saves its snapshot whole.
          const next = storage.createSnapshot(7, data.byteLength);
          await next.write(data);
          const committing = next.commit();
          const after = storage.createSnapshot(10, 3);
          const partly = after.write(Uint8Array.of(1));
          await committing;
          await partly;
          assertSnapshot(await storage.loadSnapshot(), { slot: 7, data }, 'loadSnapshot() after a commit that a new createSnapshot(10) overtook');
          await after.abort();
          const again = await handle.reopen();
          assertSnapshot(await again.loadSnapshot(), { slot: 7, data }, 'loadSnapshot() after createSnapshot, commit and reopen');
          storage = again;
        } else {
          await storage.saveSnapshot({ slot: 7, data: data.slice() });
        }
        if (typeof storage.openSnapshot !== 'function') return;
        const reader = await storage.openSnapshot();
        check(
          reader !== undefined && reader.slot === 7 && reader.byteLength === data.byteLength,
          `openSnapshot(): expected slot 7 of ${data.byteLength} bytes, got ${reader === undefined ? 'none' : `slot ${reader.slot} of ${reader.byteLength} bytes`}`,
        );
        // Replaced meanwhile: the reader goes on reading the snapshot it opened.
        await storage.saveSnapshot({ slot: 11, data: Uint8Array.of(11) });
        const pieces: Uint8Array[] = [];
        for (let at = 0; at < data.byteLength; at += 65_536) pieces.push((await reader!.read(at, Math.min(65_536, data.byteLength - at))).slice());
        const back = new Uint8Array(data.byteLength);
        let at = 0;
        for (const piece of pieces) {
          back.set(piece, at);
          at += piece.byteLength;
        }
        assertSnapshot({ slot: reader!.slot, data: back }, { slot: 7, data }, 'the pieces an open reader read after a later save');
        assertSnapshot({ slot: 7, data: (await reader!.read(1_000, 10)).slice() }, { slot: 7, data: data.subarray(1_000, 1_010) }, 'read(1000, 10) going back');
        await reader!.close();
      }));

    it("snapshots by pieces with the CRC-32 left to the caller (checkedByCaller, dataCrc32ByCaller), where the storage has them: the same bytes, and the CRC it offers is the data's", () =>
      withStorage(async (storage) => {
        const prng = new Prng(0x5eed0006);
        const data = Uint8Array.from({ length: 200_000 }, () => prng.int(256));
        const crc = crc32(data);
        if (typeof storage.createSnapshot === 'function') {
          const writer = storage.createSnapshot(7, data.byteLength, { dataCrc32ByCaller: true });
          for (let at = 0; at < data.byteLength; at += 70_000) await writer.write(data.slice(at, Math.min(data.byteLength, at + 70_000)));
          await writer.commit(crc);
          assertSnapshot(
            await storage.loadSnapshot(),
            { slot: 7, data },
            'loadSnapshot() after createSnapshot(7, { dataCrc32ByCaller }) and commit(its CRC-32)',
          );
        } else {
          await storage.saveSnapshot({ slot: 7, data: data.slice() });
        }
        if (typeof storage.openSnapshot !== 'function') return;
        const reader = await storage.openSnapshot({ checkedByCaller: true });
        check(reader !== undefined && reader.slot === 7 && reader.byteLength === data.byteLength, 'openSnapshot({ checkedByCaller }): expected slot 7');
        check(
          reader!.dataCrc32 === undefined || reader!.dataCrc32 === crc,
          `openSnapshot({ checkedByCaller }).dataCrc32: expected the data's CRC-32 ${crc} (or none), got ${reader!.dataCrc32}`,
        );
        const back = new Uint8Array(data.byteLength);
        for (let at = 0; at < data.byteLength; at += 65_536) back.set(await reader!.read(at, Math.min(65_536, data.byteLength - at)), at);
        assertSnapshot({ slot: reader!.slot, data: back }, { slot: 7, data }, 'the pieces read from openSnapshot({ checkedByCaller })');
        await reader!.close();
      }));

    it('compact(slot) forgets entries below slot once a snapshot covers them, and keeps the rest', () =>
      withStorage(async (storage, handle) => {
        const reference = new DurableStateBuilder();
        const batch = tenSlots();
        await storage.persist(batch);
        reference.merge(batch);
        await storage.saveSnapshot({ slot: 5, data: Uint8Array.of(5) });
        await storage.compact(6);
        forgetBelow(reference, 6);
        assertState(await storage.load(), reference.build(), 'load() after saveSnapshot(slot 5) and compact(6)');

        const later: PersistBatch = { accepted: [accepted(11, 2, 'n1', 'k')], chosen: [chosen(9, 'i')], commitIndex: 9 };
        await storage.persist(later);
        reference.merge(later);
        const again = await handle.reopen();
        assertState(await again.load(), reference.build(), 'load() after compact(6), one more persist and a reopen');
        assertSnapshot(await again.loadSnapshot(), { slot: 5, data: Uint8Array.of(5) }, 'loadSnapshot() after compact and reopen');
      }));

    it('compact(slot) rejects, and forgets nothing, unless a snapshot covers slot - 1', async () => {
      await withStorage(async (storage) => {
        const reference = new DurableStateBuilder();
        const batch = tenSlots();
        await storage.persist(batch);
        reference.merge(batch);
        await assertRejects(() => storage.compact(5), 'compact(5) with no snapshot');
        assertState(await storage.load(), reference.build(), 'load() after compact(5) with no snapshot was refused');
      });
      await withStorage(async (storage) => {
        const reference = new DurableStateBuilder();
        const batch = tenSlots();
        await storage.persist(batch);
        reference.merge(batch);
        await storage.saveSnapshot({ slot: 3, data: Uint8Array.of(3) });
        await assertRejects(() => storage.compact(5), 'compact(5) with a snapshot covering slots up to 3 only');
        assertState(await storage.load(), reference.build(), 'load() after compact(5) past the snapshot was refused');
      });
    });

    it('after close every call rejects, and nothing it was asked is applied', () =>
      withStorage(async (storage, handle) => {
        const reference = new DurableStateBuilder();
        const batch = tenSlots();
        await storage.persist(batch);
        reference.merge(batch);
        await storage.close();
        handle.closed = true;
        const late: PersistBatch = { promised: { round: 9, node: 'n9' }, accepted: [accepted(20, 9, 'n9', 't')], chosen: [], commitIndex: 10 };
        await assertRejects(() => storage.load(), 'load() after close()');
        await assertRejects(() => storage.persist(late), 'persist() after close()');
        await assertRejects(() => storage.saveSnapshot({ slot: 4, data: Uint8Array.of(4) }), 'saveSnapshot() after close()');
        await assertRejects(() => storage.loadSnapshot(), 'loadSnapshot() after close()');
        await assertRejects(() => storage.compact(1), 'compact() after close()');
        await assertRejects(() => storage.close(), 'a second close()');
        const again = await handle.reopen();
        assertState(await again.load(), reference.build(), 'load() after reopen (persist after close must not be applied)');
        const snapshot = await again.loadSnapshot();
        check(snapshot === undefined, `loadSnapshot() after reopen: saveSnapshot after close must not be applied, got ${formatSnapshot(snapshot)}`);
      }));

    const crash = factory.crash?.bind(factory);
    if (crash === undefined) return;

    it('a crash at any point keeps a prefix of whole batches, at least those that resolved up to the last that needed a sync', async () => {
      const batchesCount = 24;
      // Concurrent persists may share one write; sequential ones each need their own.
      const cases = [false, true].flatMap((sequential) => [0, 1, 2, 3, 5, 8, 13, 20, 24].map((resolvedBeforeCrash) => ({ sequential, resolvedBeforeCrash })));
      for (const { sequential, resolvedBeforeCrash } of cases) {
        for (const turnsBeforeCrash of [0, 1, 2, 4]) {
          const seed = 0x5eed0100 + resolvedBeforeCrash * 16 + turnsBeforeCrash + (sequential ? 0x1000 : 0);
          const draw = new BatchDraw(new Prng(seed), 10);
          const batches = Array.from({ length: batchesCount }, () => draw.next());
          const prefixes = prefixStates(batches);
          await withStorage(async (storage, handle) => {
            if (sequential) for (const batch of batches.slice(0, resolvedBeforeCrash)) await storage.persist(batch);
            const pending = (sequential ? batches.slice(resolvedBeforeCrash) : batches).map((batch) => storage.persist(batch));
            for (const p of pending) p.catch(() => undefined); // a crashed storage may reject them
            if (!sequential && resolvedBeforeCrash > 0) await pending[resolvedBeforeCrash - 1];
            for (let turn = 0; turn < turnsBeforeCrash; turn++) await macrotask(); // crash amid the later writes
            const after = await handle.crash(crash);
            const state = await after.load();
            // Learner-only batches (persistNeedsSync false) may resolve before they are durable.
            let mustKeep = resolvedBeforeCrash;
            while (mustKeep > 0 && !persistNeedsSync(batches[mustKeep - 1]!)) mustKeep--;
            const context =
              `after ${resolvedBeforeCrash} of ${batchesCount} ${sequential ? 'sequential' : 'concurrent'} persists resolved, ${turnsBeforeCrash} event-loop turns ` +
              `and a crash (seed ${hex(seed)})`;
            const kept = prefixes.findIndex((expected, j) => j >= mustKeep && stateDifference(state, expected) === undefined);
            if (kept === -1) {
              const closest = closestPrefix(state, prefixes, mustKeep);
              throw new Error(
                `Storage conformance: ${context}, load() is not the merge of the first j batches for any j >= ${mustKeep} ` +
                  `(a resolved batch was lost, or a batch survived in part). Against the closest, the first ${closest}: ` +
                  `${stateDifference(state, prefixes[closest]!)}`,
              );
            }
            // The storage works on after the crash: one more batch, a clean reopen.
            const reference = DurableStateBuilder.from(prefixes[kept]!);
            const next = draw.next();
            await after.persist(next);
            reference.merge(next);
            const clean = await handle.reopen();
            assertState(await clean.load(), reference.build(), `${context}, load() after one more persist and a reopen`);
          });
        }
      }
    });

    it('a crash during saveSnapshot keeps the old snapshot or the new one, whole', async () => {
      for (const when of ['at once', 'after one event-loop turn', 'after saveSnapshot resolved'] as const) {
        await withStorage(async (storage, handle) => {
          const old: Snapshot = { slot: 4, data: Uint8Array.from({ length: 5000 }, (_, i) => i % 251) };
          const next: Snapshot = { slot: 8, data: Uint8Array.from({ length: 7000 }, (_, i) => (i * 7) % 253) };
          await storage.saveSnapshot(old);
          const saving = storage.saveSnapshot(next);
          saving.catch(() => undefined);
          if (when === 'after one event-loop turn') await macrotask();
          if (when === 'after saveSnapshot resolved') await saving;
          const after = await handle.crash(crash);
          const snapshot = await after.loadSnapshot();
          const context = `loadSnapshot() after a second saveSnapshot and a crash ${when}`;
          if (when === 'after saveSnapshot resolved') {
            assertSnapshot(snapshot, next, context);
          } else if (snapshotDifference(snapshot, old) !== undefined) {
            assertSnapshot(snapshot, next, `${context} (neither the old snapshot nor the new one)`);
          }
        });
      }
    });
  });
}

/** The storage a case works on, through reopens and crashes, and closed at the end. */
class Handle {
  /** True once the case closed the storage, or it crashed (a crashed handle is never closed). */
  closed = false;

  constructor(
    private readonly factory: StorageFactory,
    public storage: Storage,
  ) {}

  /** Closes the storage (unless the case did) and reopens it. */
  async reopen(): Promise<Storage> {
    if (!this.closed) await this.storage.close();
    this.closed = true;
    this.storage = await this.factory.reopen(this.storage);
    this.closed = false;
    return this.storage;
  }

  async crash(crash: (storage: Storage) => Promise<Storage>): Promise<Storage> {
    this.closed = true;
    this.storage = await crash(this.storage);
    this.closed = false;
    return this.storage;
  }

  /** Closes the storage at the end of a case, unless it is closed. */
  async release(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.storage.close();
  }
}

/**
 * Draws realistic batches from a seed: promised rounds and the commit index only move
 * on, slots (from 1 to `slotsMax`) are few so later batches overwrite earlier entries.
 */
class BatchDraw {
  private round = 0;
  private commitIndex = 0;
  private counter = 0;

  constructor(
    private readonly prng: Prng,
    private readonly slotsMax: number,
  ) {}

  next(): PersistBatch {
    const { prng } = this;
    let promised: Ballot | undefined;
    if (this.round === 0 || prng.chance(0.3)) {
      this.round += 1 + prng.int(2);
      promised = { round: this.round, node: `n${1 + prng.int(3)}` };
    }
    const ballot: Ballot = { round: Math.max(1, this.round), node: `n${1 + prng.int(3)}` };
    const accepted = this.slots(prng.int(4)).map((slot): AcceptedEntry => ({ slot, ballot, value: this.value() }));
    const chosen = this.slots(prng.int(3)).map((slot): ChosenEntry => ({ slot, value: this.value() }));
    let commitIndex: number | undefined;
    if (prng.chance(0.4)) {
      this.commitIndex += prng.int(3);
      commitIndex = this.commitIndex;
    }
    return {
      ...(promised !== undefined ? { promised } : {}),
      accepted,
      chosen,
      ...(commitIndex !== undefined ? { commitIndex } : {}),
    };
  }

  /** `count` distinct slots, increasing. */
  private slots(count: number): number[] {
    const picked = new Set<number>();
    while (picked.size < Math.min(count, this.slotsMax)) picked.add(1 + this.prng.int(this.slotsMax));
    return [...picked].sort((a, b) => a - b);
  }

  private value(): Value {
    if (this.prng.chance(0.15)) return noop;
    const commands = Array.from({ length: 1 + this.prng.int(3) }, () => {
      const bytes = Uint8Array.from({ length: this.prng.int(12) }, () => this.prng.int(256));
      if (bytes.length > 0) bytes[0] = this.counter++ & 0xff; // values differ from draw to draw
      return bytes;
    });
    return { kind: 'batch', commands };
  }
}

/** The state after each prefix of `batches`: index j is the merge of the first j. */
function prefixStates(batches: readonly PersistBatch[]): DurableState[] {
  const builder = new DurableStateBuilder();
  const states = [builder.build()];
  for (const batch of batches) {
    builder.merge(batch);
    states.push(builder.build());
  }
  return states;
}

/** The j >= `from` whose prefix state differs from `state` in the fewest fields and entries. */
function closestPrefix(state: DurableState, prefixes: readonly DurableState[], from: number): number {
  const distance = (expected: DurableState): number => {
    let count = (ballotEquals(state.promised, expected.promised) ? 0 : 1) + (state.commitIndex === expected.commitIndex ? 0 : 1);
    const acceptedBySlot = new Map(state.accepted.map((e) => [e.slot, e]));
    const chosenBySlot = new Map(state.chosen.map((e) => [e.slot, e]));
    for (const e of expected.accepted) {
      const a = acceptedBySlot.get(e.slot);
      if (a === undefined || !ballotEquals(a.ballot, e.ballot) || !valueEquals(a.value, e.value)) count++;
    }
    for (const e of expected.chosen) {
      const a = chosenBySlot.get(e.slot);
      if (a === undefined || !valueEquals(a.value, e.value)) count++;
    }
    return count + Math.abs(state.accepted.length - expected.accepted.length) + Math.abs(state.chosen.length - expected.chosen.length);
  };
  let best = from;
  for (let j = from + 1; j < prefixes.length; j++) if (distance(prefixes[j]!) < distance(prefixes[best]!)) best = j;
  return best;
}

/** Slots 1 to 10 accepted, 1 to 8 chosen, commit index 8. */
function tenSlots(): PersistBatch {
  const slots = Array.from({ length: 10 }, (_, i) => i + 1);
  return {
    promised: { round: 2, node: 'n1' },
    accepted: slots.map((slot) => accepted(slot, 2, 'n1', `v${slot}`)),
    chosen: slots.filter((slot) => slot <= 8).map((slot) => chosen(slot, `v${slot}`)),
    commitIndex: 8,
  };
}

function forgetBelow(reference: DurableStateBuilder, slot: number): void {
  for (const s of [...reference.accepted.keys()]) if (s < slot) reference.accepted.delete(s);
  for (const s of [...reference.chosen.keys()]) if (s < slot) reference.chosen.delete(s);
}

function accepted(slot: number, round: number, node: string, value: string | Value): AcceptedEntry {
  return { slot, ballot: { round, node }, value: typeof value === 'string' ? command(value) : value };
}

function chosen(slot: number, value: string | Value): ChosenEntry {
  return { slot, value: typeof value === 'string' ? command(value) : value };
}

function command(text: string): Value {
  return { kind: 'batch', commands: [new TextEncoder().encode(text)] };
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`Storage conformance: ${message}`);
}

/** Rejects unless `call` returns a promise that rejects (a synchronous throw fails too). */
async function assertRejects(call: () => Promise<unknown>, what: string): Promise<void> {
  let promise: Promise<unknown>;
  try {
    promise = call();
  } catch (error) {
    throw new Error(`Storage conformance: ${what} threw synchronously instead of returning a rejected promise: ${String(error)}`);
  }
  let resolved = false;
  try {
    await promise;
    resolved = true;
  } catch {
    // The expected outcome.
  }
  check(!resolved, `${what} resolved; expected it to reject`);
}

function assertState(actual: DurableState, expected: DurableState, what: string): void {
  const difference = stateDifference(actual, expected);
  check(difference === undefined, `${what}: ${difference}`);
}

/** The first difference between two durable states, in words, or undefined if equal. */
function stateDifference(actual: DurableState, expected: DurableState): string | undefined {
  if (!ballotEquals(actual.promised, expected.promised)) {
    return `promised is ${formatBallot(actual.promised)}, expected ${formatBallot(expected.promised)}`;
  }
  if (actual.commitIndex !== expected.commitIndex) return `commitIndex is ${actual.commitIndex}, expected ${expected.commitIndex}`;
  const acceptedDifference = entriesDifference(
    'accepted',
    actual.accepted,
    expected.accepted,
    (a, b) => ballotEquals(a.ballot, b.ballot) && valueEquals(a.value, b.value),
  );
  if (acceptedDifference !== undefined) return acceptedDifference;
  return entriesDifference('chosen', actual.chosen, expected.chosen, (a, b) => valueEquals(a.value, b.value));
}

function entriesDifference<E extends AcceptedEntry | ChosenEntry>(
  list: 'accepted' | 'chosen',
  actual: readonly E[],
  expected: readonly E[],
  equal: (a: E, b: E) => boolean,
): string | undefined {
  const slots = (entries: readonly E[]): string => `[${entries.map((e) => e.slot).join(', ')}]`;
  if (actual.length !== expected.length || actual.some((e, i) => e.slot !== expected[i]!.slot)) {
    return `${list} holds slots ${slots(actual)}, expected ${slots(expected)} (in slot order)`;
  }
  const at = actual.findIndex((e, i) => !equal(e, expected[i]!));
  if (at === -1) return undefined;
  return `${list} slot ${actual[at]!.slot} is ${formatEntry(actual[at]!)}, expected ${formatEntry(expected[at]!)}`;
}

function formatEntry(entry: AcceptedEntry | ChosenEntry): string {
  const value = describeValue(entry.value);
  return 'ballot' in entry ? `${value} at ballot ${formatBallot(entry.ballot)}` : value;
}

function assertSnapshot(actual: Snapshot | undefined, expected: Snapshot, what: string): void {
  const difference = snapshotDifference(actual, expected);
  check(difference === undefined, `${what}: ${difference}`);
}

function snapshotDifference(actual: Snapshot | undefined, expected: Snapshot): string | undefined {
  if (actual === undefined) return `no snapshot, expected ${formatSnapshot(expected)}`;
  if (actual.slot !== expected.slot) return `snapshot slot ${actual.slot}, expected ${expected.slot}`;
  if (!(actual.data instanceof Uint8Array)) return 'snapshot data is not a Uint8Array';
  if (actual.data.length !== expected.data.length) return `snapshot of ${actual.data.length} bytes, expected ${expected.data.length}`;
  const at = actual.data.findIndex((byte, i) => byte !== expected.data[i]);
  return at === -1 ? undefined : `snapshot byte ${at} is ${actual.data[at]}, expected ${expected.data[at]}`;
}

function formatSnapshot(snapshot: Snapshot | undefined): string {
  return snapshot === undefined ? 'no snapshot' : `a snapshot of slot ${snapshot.slot} (${snapshot.data.length} bytes)`;
}

/** One turn of the event loop, so that I/O and timers of a storage may progress. */
function macrotask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}
