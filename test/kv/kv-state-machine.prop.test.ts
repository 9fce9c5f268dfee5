/**
 * Model-based property of the KV state machine: random command sequences applied to
 * the real state machine and to a naive model (a Map copied whole at every revision),
 * comparing every result, every historical range read, and the watch history; then
 * the same with a snapshot taken and restored into a fresh replica midway, which must
 * answer exactly as the original from then on (DESIGN rule 4: every replica alike).
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { type KeyValue, type KvCommand, type KvResult, KvStateMachine, type TxnOp, type TxnOpResult, sequentialKey } from '../../src/kv/index.js';
import type { ApplyMeta } from '../../src/runtime/index.js';

const runs = Number(process.env['SYNOD_KV_RUNS'] ?? 300);
const keys = ['a', 'a/1', 'a/2', 'b', 'b/1', 'q/0000000001'] as const; // the last where a sequence will land
const prefixes = ['', 'a', 'a/', 'b/', 'q/'] as const;
const bytes = (s: string) => new TextEncoder().encode(s);

type Entry = { value: Uint8Array; version: number; createRevision: number; modRevision: number; session: number | undefined };
type Session = { ttlMs: number; expiresAt: number; renewedSlot: number };

/** The naive model: the whole map copied at every revision, sessions in a Map, every rule spelled out again. */
class Model {
  revision = 0;
  compactRevision = 0;
  time = 0;
  nextSession = 1;
  map = new Map<string, Entry>();
  readonly byRevision: Map<string, Entry>[] = [new Map()];
  readonly changes: { revision: number; key: string; type: 'put' | 'delete' }[] = [];
  readonly sessions = new Map<number, Session>();
  readonly sequences = new Map<string, number>();

  private pending: { key: string; type: 'put' | 'delete' }[] = [];

  private put(key: string, value: Uint8Array, session: number | undefined): number {
    const old = this.map.get(key);
    const entry = {
      value,
      version: (old?.version ?? 0) + 1,
      createRevision: old?.createRevision ?? this.revision + 1,
      modRevision: this.revision + 1,
      session,
    };
    this.map.set(key, entry);
    this.pending.push({ key, type: 'put' });
    return entry.version;
  }

  private del(key: string): boolean {
    if (!this.map.delete(key)) return false;
    this.pending.push({ key, type: 'delete' });
    return true;
  }

  private commit(): void {
    if (this.pending.length === 0) return;
    this.revision++;
    for (const c of this.pending.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0))) this.changes.push({ ...c, revision: this.revision });
    this.pending = [];
    this.byRevision.push(new Map(this.map));
  }

  private endSessions(ids: number[]): void {
    for (const id of ids) this.sessions.delete(id);
    for (const [key, entry] of [...this.map]) if (entry.session !== undefined && ids.includes(entry.session)) this.del(key);
    this.commit();
  }

  kv(key: string, e: Entry): KeyValue {
    const kv = { key, value: e.value, version: e.version, createRevision: e.createRevision, modRevision: e.modRevision };
    return e.session === undefined ? kv : { ...kv, session: e.session };
  }

  range(prefix: string, limit: number, revision = this.revision): { kvs: KeyValue[]; more: boolean; count: number } {
    const all = [...this.byRevision[revision]!].filter(([k]) => k.startsWith(prefix)).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
    return { kvs: all.slice(0, limit).map(([k, e]) => this.kv(k, e)), more: all.length > limit, count: all.length };
  }

  apply(c: KvCommand, timestamp: number, slot: number): KvResult {
    this.time = Math.max(this.time, timestamp);
    const version = (key: string) => this.map.get(key)?.version ?? 0;
    switch (c.type) {
      case 'put': {
        if (c.session !== undefined && !this.sessions.has(c.session)) return { type: 'no-session', session: c.session };
        let key = c.key;
        if (c.sequential === true) {
          let n = this.sequences.get(c.key) ?? 0;
          key = sequentialKey(c.key, n);
          while (version(key) !== 0) key = sequentialKey(c.key, ++n);
          this.sequences.set(c.key, n + 1);
        } else if (c.expectedVersion !== undefined && version(key) !== c.expectedVersion) {
          return { type: 'conflict', key, version: version(key), revision: this.revision };
        }
        const v = this.put(key, c.value, c.session);
        this.commit();
        return { type: 'put', key, version: v, revision: this.revision };
      }
      case 'delete': {
        if (!this.map.has(c.key)) return { type: 'delete', deleted: false, revision: this.revision };
        if (c.expectedVersion !== undefined && version(c.key) !== c.expectedVersion)
          return { type: 'conflict', key: c.key, version: version(c.key), revision: this.revision };
        this.del(c.key);
        this.commit();
        return { type: 'delete', deleted: true, revision: this.revision };
      }
      case 'txn': {
        // Checked op by op, both branches, before anything runs.
        for (const branch of [c.success, c.failure]) {
          const written = new Set<string>();
          for (const op of branch) {
            if (op.op === 'range') continue;
            if (op.op === 'put' && op.session !== undefined && !this.sessions.has(op.session)) return { type: 'no-session', session: op.session };
            if (written.has(op.key)) return { type: 'invalid', reason: '' };
            written.add(op.key);
          }
        }
        const succeeded = c.compare.every((cmp) => {
          const e = this.map.get(cmp.key);
          if (cmp.target === 'value') {
            if (e === undefined) return false;
            const same = Buffer.from(e.value).equals(Buffer.from(cmp.value));
            return cmp.op === '==' ? same : !same;
          }
          const actual = e === undefined ? 0 : cmp.target === 'version' ? e.version : cmp.target === 'createRevision' ? e.createRevision : e.modRevision;
          return cmp.op === '==' ? actual === cmp.value : cmp.op === '!=' ? actual !== cmp.value : cmp.op === '<' ? actual < cmp.value : actual > cmp.value;
        });
        const results = (succeeded ? c.success : c.failure).map((op): TxnOpResult => {
          if (op.op === 'put') return { op: 'put', key: op.key, version: this.put(op.key, op.value, op.session) };
          if (op.op === 'delete') return { op: 'delete', key: op.key, deleted: this.del(op.key) };
          // Reads inside a transaction see its earlier writes.
          const prefix = 'prefix' in op.range ? op.range.prefix : '';
          const all = [...this.map].filter(([k]) => k.startsWith(prefix)).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
          const limit = op.limit ?? 10_000;
          const kvs = all.slice(0, limit).map(([k, e]) => this.kv(k, e));
          return { op: 'range', kvs, more: all.length > limit, count: all.length };
        });
        this.commit();
        return { type: 'txn', succeeded, results, revision: this.revision };
      }
      case 'session-create': {
        const id = this.nextSession++;
        this.sessions.set(id, { ttlMs: c.ttlMs, expiresAt: this.time + c.ttlMs, renewedSlot: slot });
        return { type: 'session', session: { id, ttlMs: c.ttlMs, expiresAt: this.time + c.ttlMs } };
      }
      case 'session-keepalive': {
        const s = this.sessions.get(c.session);
        if (s === undefined) return { type: 'no-session', session: c.session };
        s.expiresAt = Math.max(s.expiresAt, this.time + s.ttlMs);
        s.renewedSlot = slot;
        return { type: 'session', session: { id: c.session, ttlMs: s.ttlMs, expiresAt: s.expiresAt } };
      }
      case 'session-close': {
        if (!this.sessions.has(c.session)) return { type: 'no-session', session: c.session };
        const before = this.map.size;
        this.endSessions([c.session]);
        return { type: 'session-closed', keysDeleted: before - this.map.size, revision: this.revision };
      }
      case 'session-expire': {
        if (c.decidedAtSlot >= slot) return { type: 'invalid', reason: '' };
        // Each named session that exists and was not renewed after the leader's decision, once.
        const ids = [...new Set(c.sessions)].filter((id) => (this.sessions.get(id)?.renewedSlot ?? Infinity) <= c.decidedAtSlot).sort((x, y) => x - y);
        this.endSessions(ids);
        return { type: 'expired', sessions: ids, revision: this.revision };
      }
      case 'session-expire-by-log-time': {
        const ids = [...this.sessions]
          .filter(([, s]) => s.expiresAt <= this.time)
          .map(([id]) => id)
          .sort((x, y) => x - y);
        this.endSessions(ids);
        return { type: 'expired', sessions: ids, revision: this.revision };
      }
      case 'session-renew': {
        for (const s of this.sessions.values()) {
          s.expiresAt = Math.max(s.expiresAt, this.time + s.ttlMs);
          s.renewedSlot = slot;
        }
        return { type: 'renewed', sessions: this.sessions.size };
      }
      case 'compact': {
        if (c.revision > this.revision) return { type: 'invalid', reason: '' };
        if (c.revision <= this.compactRevision) return { type: 'compacted-revision', revision: c.revision, compactRevision: this.compactRevision };
        this.compactRevision = c.revision;
        return { type: 'compacted', revision: c.revision };
      }
      case 'auth-user-put':
      case 'auth-user-delete':
      case 'auth-role-put':
      case 'auth-role-delete':
      case 'auth-list':
      case 'extension':
        // Users and roles touch no key: not modelled here (see auth-table.test.ts).
        throw new Error(`${c.type} is not modelled`);
      case 'range-freeze':
      case 'range-release':
      case 'range-seed':
        // This machine is no range (see kv-state-machine.range.prop.test.ts).
        return { type: 'invalid', reason: '' };
    }
  }
}

const key = fc.constantFrom(...keys);
const value = fc.constantFrom('x', 'y', 'z').map(bytes);
const session = fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined, freq: 3 });
const txnOp: fc.Arbitrary<TxnOp> = fc.oneof(
  fc
    .record({ key, value, session })
    .map(({ key, value, session }): TxnOp => (session === undefined ? { op: 'put', key, value } : { op: 'put', key, value, session })),
  key.map((key): TxnOp => ({ op: 'delete', key })),
  fc
    .record({ prefix: fc.constantFrom(...prefixes), limit: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }) })
    .map(({ prefix, limit }): TxnOp => (limit === undefined ? { op: 'range', range: { prefix } } : { op: 'range', range: { prefix }, limit })),
);
const command: fc.Arbitrary<KvCommand> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({ key, value, expectedVersion: fc.option(fc.nat(3), { nil: undefined }), session }).map(
      ({ key, value, expectedVersion, session }): KvCommand => ({
        type: 'put',
        key,
        value,
        ...(expectedVersion === undefined ? {} : { expectedVersion }),
        ...(session === undefined ? {} : { session }),
      }),
    ),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ prefix: fc.constantFrom('q/', 'a/'), value, session })
      .map(({ prefix, value, session }): KvCommand => ({ type: 'put', key: prefix, value, sequential: true, ...(session === undefined ? {} : { session }) })),
  },
  {
    weight: 3,
    arbitrary: fc
      .record({ key, expectedVersion: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }) })
      .map(({ key, expectedVersion }): KvCommand => ({ type: 'delete', key, ...(expectedVersion === undefined ? {} : { expectedVersion }) })),
  },
  {
    weight: 3,
    arbitrary: fc
      .record({
        compare: fc.array(
          fc.oneof(
            fc.record({
              key,
              target: fc.constantFrom('version' as const, 'createRevision' as const, 'modRevision' as const),
              op: fc.constantFrom('==' as const, '!=' as const, '<' as const, '>' as const),
              value: fc.nat(6),
            }),
            fc.record({ key, target: fc.constant('value' as const), op: fc.constantFrom('==' as const, '!=' as const), value }),
          ),
          { maxLength: 2 },
        ),
        success: fc.array(txnOp, { maxLength: 3 }),
        failure: fc.array(txnOp, { maxLength: 3 }),
      })
      .map((t): KvCommand => ({ type: 'txn', ...t })),
  },
  { weight: 2, arbitrary: fc.constantFrom(100, 250, 500, 1_000).map((ttlMs): KvCommand => ({ type: 'session-create', ttlMs })) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 4 }).map((s): KvCommand => ({ type: 'session-keepalive', session: s })) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 4 }).map((s): KvCommand => ({ type: 'session-close', session: s })) },
  {
    weight: 2,
    // decidedAtSlot here is how many slots before the previous one the leader decided (-1: this very slot, refused); drive() makes it a slot.
    arbitrary: fc
      .record({ sessions: fc.array(fc.integer({ min: 1, max: 5 }), { maxLength: 4 }), back: fc.integer({ min: -1, max: 6 }) })
      .map(({ sessions, back }): KvCommand => ({ type: 'session-expire', sessions, decidedAtSlot: back + 1 })),
  },
  { weight: 1, arbitrary: fc.constant<KvCommand>({ type: 'session-expire-by-log-time' }) },
  { weight: 1, arbitrary: fc.constant<KvCommand>({ type: 'session-renew' }) },
  { weight: 1, arbitrary: fc.nat(40).map((revision): KvCommand => ({ type: 'compact', revision })) },
);
const step = fc.record({
  command,
  advanceMs: fc.constantFrom(0, 50, 100, 250, 500),
  readAt: fc.double({ min: 0, max: 1, noNaN: true }),
  prefix: fc.constantFrom(...prefixes),
  limit: fc.integer({ min: 1, max: 6 }),
});

function meta(slot: number, timestamp: number): ApplyMeta {
  return { slot, timestamp, clientId: 'c', seq: slot, origin: 'a' };
}

/** Invalid results carry prose; the model only says which. */
function comparable(result: KvResult): KvResult {
  return result.type === 'invalid' ? { type: 'invalid', reason: '' } : result;
}

type Step = typeof step extends fc.Arbitrary<infer T> ? T : never;

/**
 * Runs `steps` against the machine and the model. With `snapshotAt`, a snapshot is
 * captured before that step and a replica restored from it; with `writtenAfter` too, the
 * capture is written only after that many more steps (as a node's is, while applies go
 * on), and the replica replays those steps before it is compared.
 */
function drive(steps: readonly Step[], snapshotAt: number | undefined, writtenAfter = 0): Promise<void> {
  return (async () => {
    const machine = new KvStateMachine();
    const model = new Model();
    let replica: KvStateMachine | undefined;
    let capture: { write(): Promise<Uint8Array> } | undefined;
    let atOnce: Uint8Array | undefined;
    const replay: [KvCommand, ApplyMeta][] = [];
    let time = 1_700_000_000_000;
    for (const [i, s] of steps.entries()) {
      if (i === snapshotAt) {
        capture = machine.snapshot();
        // The same state written at once: the late write must give these very bytes.
        if (writtenAfter > 0) atOnce = await machine.snapshot().write();
      }
      if (capture !== undefined && snapshotAt !== undefined && i === snapshotAt + writtenAfter) {
        replica = new KvStateMachine();
        const late = await capture.write();
        if (atOnce !== undefined)
          expect(Buffer.from(late).equals(Buffer.from(atOnce)), `the capture before step ${snapshotAt}, written after step ${i}`).toBe(true);
        replica.restore(late);
        capture = undefined;
        for (const [command, m] of replay) replica.apply(command, m);
      }
      time += s.advanceMs;
      const slot = i + 1;
      const command: KvCommand = s.command.type === 'session-expire' ? { ...s.command, decidedAtSlot: Math.max(0, slot - s.command.decidedAtSlot) } : s.command;
      const got = machine.apply(command, meta(slot, time));
      if (capture !== undefined) replay.push([command, meta(slot, time)]);
      expect(comparable(got), `command ${i}: ${JSON.stringify(command)}`).toEqual(model.apply(command, time, slot));
      if (replica !== undefined) expect(replica.apply(command, meta(slot, time)), `replica, command ${i}`).toEqual(got);
      expect(machine.revision).toBe(model.revision);
      expect(machine.compactRevision).toBe(model.compactRevision);
      // The size gauges, kept as the store changes, against a count of what it holds.
      const histories = [...machine.view.allHistories()];
      expect(machine.size, `size after command ${i}`).toEqual({
        keys: histories.length,
        versions: model.changes.filter((c) => c.revision > model.compactRevision).length,
        valueBytes: histories.reduce((sum, [, h]) => sum + h.reduce((n, r) => n + (r.value?.byteLength ?? 0), 0), 0),
        sessions: model.sessions.size,
      });
      if (replica !== undefined) expect(replica.size, `replica size after command ${i}`).toEqual(machine.size);
      // A read at any revision still kept.
      const at = Math.min(model.revision, model.compactRevision + Math.floor(s.readAt * (model.revision - model.compactRevision + 1)));
      expect(machine.view.range({ prefix: s.prefix }, s.limit, at), `range ${s.prefix} at ${at}`).toEqual(model.range(s.prefix, s.limit, at));
      if (replica !== undefined) expect(replica.view.range({ prefix: s.prefix }, s.limit, at)).toEqual(model.range(s.prefix, s.limit, at));
    }
    // The watch history after compaction: every change, in order, with the state at its revision.
    const from = model.compactRevision + 1;
    const expected = model.changes.filter((c) => c.revision >= from);
    for (const m of replica === undefined ? [machine] : [machine, replica]) {
      if (from > m.revision) continue;
      const { events, through } = m.view.events(from, m.revision, () => true, 1_000_000);
      expect(through).toBe(m.revision);
      expect(events.map((e) => [e.revision, e.kv.key, e.type])).toEqual(expected.map((c) => [c.revision, c.key, c.type]));
      for (const e of events) if (e.type === 'put') expect(e.kv).toEqual(model.kv(e.kv.key, model.byRevision[e.revision]!.get(e.kv.key)!));
    }
  })();
}

it('answers every command, range read and watch history as the naive model does', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 60 }), (steps) => drive(steps, undefined)),
    { numRuns: runs },
  );
});

it('a snapshot captured midway and written only after more commands holds the state at its capture: replayed, the replica answers as the original', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc
        .array(step, { minLength: 3, maxLength: 60 })
        .chain((steps) =>
          fc
            .tuple(fc.constant(steps), fc.nat(steps.length - 2))
            .chain(([s, at]) => fc.tuple(fc.constant(s), fc.constant(at), fc.integer({ min: 1, max: s.length - 1 - at }))),
        ),
      ([steps, at, after]) => drive(steps, at, after),
    ),
    { numRuns: runs },
  );
});

it('a replica restored from a snapshot midway answers exactly as the original from then on', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(step, { minLength: 2, maxLength: 60 }).chain((steps) => fc.tuple(fc.constant(steps), fc.nat(steps.length - 1))),
      ([steps, at]) => drive(steps, at),
    ),
    { numRuns: runs },
  );
});
