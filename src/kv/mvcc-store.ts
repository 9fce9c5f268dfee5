/**
 * The multi-version store under the KV state machine: every key's history of
 * versions (etcd's MVCC), a sorted key index for ranges, and a revision-ordered log of
 * changes that feeds watches and compaction.
 */
import { assert } from '../core/assert.js';
import { ChangeLog } from './change-log.js';
import type { KeyRange, KeyValue, WatchEvent } from './kv-types.js';
import { SortedKeys } from './sorted-keys.js';

/** One version of one key; `value` null marks a delete (a tombstone). @internal */
export interface KeyRecord {
  readonly revision: number;
  readonly version: number;
  readonly createRevision: number;
  readonly value: Uint8Array | null;
  readonly session: number | undefined;
}

const empty = new Uint8Array(0);

/** The KeyValue of a live record. */
function keyValueOf(key: string, r: KeyRecord): KeyValue {
  assert(r.value !== null, () => `key ${key}: revision ${r.revision} is a tombstone, not a value`);
  const kv = { key, value: r.value, version: r.version, createRevision: r.createRevision, modRevision: r.revision };
  return r.session === undefined ? kv : { ...kv, session: r.session };
}

/** The record of `history` current at `revision`, if any (tombstones included). */
function recordAt(history: readonly KeyRecord[], revision: number): KeyRecord | undefined {
  for (let i = history.length - 1; i >= 0; i--) if (history[i]!.revision <= revision) return history[i];
  return undefined;
}

/** @internal */
export class MvccStore {
  /** Every key with any history, and its versions in revision order. */
  private readonly histories = new Map<string, KeyRecord[]>();
  /** The keys of `histories`, sorted. */
  private keys = new SortedKeys();
  /** Changes in revision order (and key order within a revision). */
  private changes = new ChangeLog();
  /** The store's revision: the last write's. */
  revision = 0;
  /** History at or below this revision is forgotten: reads and watches need a later one. */
  compactRevision = 0;
  /** The bytes of every value held, in every version kept (tombstones hold none). */
  private bytes = 0;
  /**
   * For each capture not yet released, the history arrays compaction replaced or
   * dropped since it was taken (the first one per key: the array as the capture saw it).
   * History arrays are otherwise only appended to, so a capture reads the live one.
   */
  private readonly captures = new Set<Map<string, readonly KeyRecord[]>>();

  /** How much the store holds: keys with any history kept, versions above the compaction revision, and the bytes of all values kept. */
  get size(): { readonly keys: number; readonly versions: number; readonly valueBytes: number } {
    return { keys: this.histories.size, versions: this.changes.length, valueBytes: this.bytes };
  }

  /** The live record of `key` now, or undefined if it is absent. */
  latest(key: string): KeyRecord | undefined {
    const history = this.histories.get(key);
    const last = history?.[history.length - 1];
    return last === undefined || last.value === null ? undefined : last;
  }

  /** Writes `key` at `revision` (above the store's): a put with `value`, or a delete with null. */
  write(key: string, value: Uint8Array | null, session: number | undefined, revision: number): KeyRecord {
    assert(revision > this.revision, () => `write of ${key} at revision ${revision}, not above the store's ${this.revision}`);
    const history = this.histories.get(key);
    const last = history?.[history.length - 1];
    assert(last === undefined || last.revision < revision, () => `key ${key} written twice at revision ${revision}`);
    const live = last !== undefined && last.value !== null ? last : undefined;
    const record: KeyRecord =
      value === null
        ? { revision, version: 0, createRevision: 0, value: null, session: undefined }
        : { revision, version: (live?.version ?? 0) + 1, createRevision: live?.createRevision ?? revision, value, session };
    if (history === undefined) {
      // Made holding its one record: an empty array grown by a push reserves 17 slots,
      // and most keys keep one version (about 130 bytes a key at a million keys).
      this.histories.set(key, [record]);
      this.keys.insert(key);
    } else {
      history.push(record);
    }
    this.bytes += value?.byteLength ?? 0;
    this.changes.push(revision, key);
    return record;
  }

  /** Ends a write command: the store is now at `revision`, and its changes are in key order. */
  commit(revision: number): void {
    assert(revision === this.revision + 1, () => `commit of revision ${revision} after ${this.revision}`);
    const changed = this.changes.sortLast(revision);
    assert(changed, () => `revision ${revision} committed with no change`);
    this.revision = revision;
  }

  /**
   * The live keys in `range` at `revision` (default now), sorted; at most `limit` of
   * them, with the count of all. The caller checks `revision` is not compacted.
   */
  range(range: KeyRange, limit: number, revision = this.revision, bytesMax = Number.POSITIVE_INFINITY): { kvs: KeyValue[]; more: boolean; count: number } {
    assert(
      revision >= this.compactRevision && revision <= this.revision,
      () => `range at revision ${revision}, outside [${this.compactRevision}, ${this.revision}]`,
    );
    const kvs: KeyValue[] = [];
    let count = 0;
    // The keys and values returned, in bytes (a key's UTF-16 length: close enough for a
    // bound); the first key always goes, and none after the one that would pass the bound,
    // so what is returned is a prefix of the range that a next read continues.
    let bytes = 0;
    let full = false;
    const visit = (key: string): void => {
      const history = this.histories.get(key)!;
      const record = revision === this.revision ? history[history.length - 1] : recordAt(history, revision);
      if (record === undefined || record.value === null) return;
      count++;
      if (full || kvs.length >= limit) return;
      const size = key.length + record.value.byteLength;
      if (kvs.length > 0 && bytes + size > bytesMax) {
        full = true;
        return;
      }
      bytes += size;
      kvs.push(keyValueOf(key, record));
    };
    if ('key' in range) {
      if (this.histories.has(range.key)) visit(range.key);
    } else if ('prefix' in range) {
      const { prefix } = range;
      this.keys.scanFrom(prefix, (key) => {
        if (!key.startsWith(prefix)) return false;
        visit(key);
        return true;
      });
    } else {
      const { end } = range;
      this.keys.scanFrom(range.start, (key) => {
        if (key >= end) return false;
        visit(key);
        return true;
      });
    }
    return { kvs, more: count > kvs.length, count };
  }

  /**
   * The changes with a revision in `[from, to]` whose key `matches`, in order, as watch
   * events: at most `max` (a whole revision is never split, so a few more may come).
   * `through` is the last revision looked at: `to`, unless `max` cut the scan short.
   */
  events(from: number, to: number, matches: (key: string) => boolean, max: number): { events: WatchEvent[]; through: number } {
    assert(from > this.compactRevision, () => `events from revision ${from}, compacted through ${this.compactRevision}`);
    const out: WatchEvent[] = [];
    let through = to;
    this.changes.scan(from, to, (revision, key) => {
      if (out.length >= max && revision !== out[out.length - 1]!.revision) {
        through = revision - 1;
        return false;
      }
      if (!matches(key)) return true;
      const record = recordAt(this.histories.get(key)!, revision)!;
      assert(record.revision === revision, () => `key ${key}: no record at its change revision ${revision}`);
      out.push(
        record.value === null
          ? { type: 'delete', kv: { key, value: empty, version: 0, createRevision: 0, modRevision: revision }, revision }
          : { type: 'put', kv: keyValueOf(key, record), revision },
      );
      return true;
    });
    return { events: out, through };
  }

  /** Forgets history at or below `revision`: each key keeps its record current then, unless that is a delete. */
  compact(revision: number): void {
    assert(
      revision >= this.compactRevision && revision <= this.revision,
      () => `compaction to ${revision}, outside [${this.compactRevision}, ${this.revision}]`,
    );
    const gone: string[] = [];
    this.changes.dropThrough(revision, (key) => {
      const history = this.histories.get(key);
      if (history === undefined) return;
      let keep = 0; // the index of the record current at `revision`
      while (keep + 1 < history.length && history[keep + 1]!.revision <= revision) keep++;
      if (history[keep]!.revision > revision) return;
      if (history[keep]!.value === null) keep++;
      if (keep === 0) return;
      // A new array, never a change in place: a capture may still read this one.
      for (const r of this.captures) if (!r.has(key)) r.set(key, history);
      for (let i = 0; i < keep; i++) this.bytes -= history[i]!.value?.byteLength ?? 0;
      if (keep < history.length) {
        this.histories.set(key, history.slice(keep));
      } else {
        this.histories.delete(key);
        gone.push(key);
      }
    });
    if (gone.length > 0) {
      this.keys.deleteAll(new Set(gone));
    }
    this.compactRevision = revision;
  }

  /** Calls `visit` with each key with any history from `start` to `end` (no `end`: to the last), in order, until it returns false. */
  keysFrom(start: string, end: string | undefined, visit: (key: string) => boolean): void {
    this.keys.scanFrom(start, (key) => (end === undefined || key < end) && visit(key));
  }

  /** Starts an empty store at `revision`, history compacted through it: a range seeded from another one's keys. */
  startAt(revision: number): void {
    assert(this.revision === 0 && this.histories.size === 0, () => `a store at revision ${this.revision} with ${this.histories.size} keys cannot start anew`);
    this.revision = revision;
    this.compactRevision = revision;
  }

  /** Adds `key`, absent, with its one record `kv` (at or below the store's revision, which it leaves as it is): a seeded key. */
  seed(kv: KeyValue): void {
    assert(!this.histories.has(kv.key) && kv.modRevision <= this.revision, () => `seeded key ${kv.key} exists or is above revision ${this.revision}`);
    this.histories.set(kv.key, [{ revision: kv.modRevision, version: kv.version, createRevision: kv.createRevision, value: kv.value, session: undefined }]);
    this.keys.insert(kv.key);
    this.bytes += kv.value.byteLength;
  }

  /**
   * Forgets every key from `start` to `end` (no `end`: every key from `start`) and all
   * its history, at no revision: for keys that have moved to another range, which no
   * read or watch of this store may reach any more. Returns how many keys it forgot.
   */
  forget(start: string, end: string | undefined): number {
    const gone = new Set<string>();
    this.keysFrom(start, end, (key) => {
      gone.add(key);
      return true;
    });
    if (gone.size === 0) return 0;
    for (const key of gone) {
      const history = this.histories.get(key)!;
      for (const r of this.captures) if (!r.has(key)) r.set(key, history);
      for (const record of history) this.bytes -= record.value?.byteLength ?? 0;
      this.histories.delete(key);
    }
    this.keys.deleteAll(gone);
    this.changes.dropKeys(gone);
    return gone.size;
  }

  /** Every key's history, in key order (for snapshots). The arrays must not be changed. */
  *allHistories(): IterableIterator<[string, readonly KeyRecord[]]> {
    for (const key of this.keys) yield [key, this.histories.get(key)!];
  }

  /**
   * The store as it is now, to read later while writes and compactions go on: the
   * synchronous part is a frozen view of the key index only (a reference per block of
   * keys); each key's history is read (as
   * of now) when {@link MvccCapture.allHistories} reaches it. Release it when done: until
   * then, compaction keeps the histories it replaces for it.
   */
  capture(): MvccCapture {
    const retired = new Map<string, readonly KeyRecord[]>();
    this.captures.add(retired);
    return new MvccCapture(
      this.keys.frozen(),
      (key) => retired.get(key) ?? this.histories.get(key),
      this.revision,
      this.compactRevision,
      () => {
        this.captures.delete(retired);
      },
    );
  }

  /** Captures not released yet (for tests). @internal */
  get capturesOpen(): number {
    return this.captures.size;
  }

  /** Rebuilds a store from histories (in any order) and its revisions; the change log is derived. */
  static restore(histories: Iterable<[string, KeyRecord[]]>, revision: number, compactRevision: number): MvccStore {
    const builder = MvccStore.building(compactRevision);
    for (const [key, history] of histories) assert(builder.add(key, history), () => `restored key ${key} twice`);
    const steps = builder.finishInSteps(revision);
    for (;;) {
      const step = steps.next();
      if (step.done === true) return step.value;
    }
  }

  /**
   * Rebuilds a store key by key, as {@link restore} does: a snapshot decoded in steps
   * adds each key as it reads it, and the store exists whole only at the end of
   * `finishInSteps`, which yields between steps of its own (the change log's sort).
   */
  static building(compactRevision: number): {
    add(key: string, history: KeyRecord[]): boolean;
    finishInSteps(revision: number): Generator<void, MvccStore, void>;
  } {
    const store = new MvccStore();
    const revisions: number[] = [];
    const keys: string[] = [];
    // A snapshot lists its keys in order: the index is built as they come, with nothing
    // left to sort at the end. Keys out of order (histories given in any order) are
    // sorted at the end instead.
    const index = SortedKeys.appending();
    let inOrder = true;
    return {
      /** Adds `key`'s history; false (and nothing added) if `key` was added before. */
      add(key, history) {
        assert(history.length > 0, () => `restored key ${key} has no history`);
        if (store.histories.has(key)) return false;
        store.histories.set(key, history);
        if (inOrder) inOrder = index.append(key);
        for (const record of history) {
          store.bytes += record.value?.byteLength ?? 0;
          if (record.revision > compactRevision) {
            revisions.push(record.revision);
            keys.push(key);
          }
        }
        return true;
      },
      *finishInSteps(revision) {
        store.keys = inOrder ? index.finish() : SortedKeys.fromSorted([...store.histories.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
        store.changes = yield* ChangeLog.ofInSteps(revisions, keys);
        store.revision = revision;
        store.compactRevision = compactRevision;
        return store;
      },
    };
  }
}

/**
 * A store as it was when {@link MvccStore.capture} took it: its revisions and every key's
 * history then, read as late as asked for. @internal
 */
export class MvccCapture {
  constructor(
    private readonly keys: Iterable<string>,
    private readonly historyOf: (key: string) => readonly KeyRecord[] | undefined,
    readonly revision: number,
    readonly compactRevision: number,
    private readonly onRelease: () => void,
  ) {}

  /** Every key's history as of the capture, in key order: each a copy, safe to keep. */
  *allHistories(): IterableIterator<[string, readonly KeyRecord[]]> {
    for (const key of this.keys) {
      const history = this.historyOf(key);
      assert(history !== undefined, () => `captured key ${key} has no history`);
      // Records written since the capture are at higher revisions, at the end.
      let end = history.length;
      while (end > 0 && history[end - 1]!.revision > this.revision) end--;
      assert(end > 0, () => `captured key ${key} has no record at or below revision ${this.revision}`);
      yield [key, history.slice(0, end)];
    }
  }

  /** The store may forget what it kept for this capture. Idempotent. */
  release(): void {
    this.onRelease();
  }
}
