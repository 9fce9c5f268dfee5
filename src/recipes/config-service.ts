/**
 * A configuration service on the KV: a prefix of the store kept in a local `Map`,
 * always equal to the prefix at one revision, with change callbacks and
 * compare-and-set updates.
 */
import { ConfigError, InvariantError } from '../core/index.js';
import { ClosedError } from '../runtime/index.js';
import { CompactedError, type KeyValue, type KvApi, type PutResult, type RangeResult, VersionConflictError, type WriteOptions } from '../kv/index.js';
import { type RevisionBatch, revisionBatches } from './revision-batches.js';
import { TooManyKeysError } from './too-many-keys-error.js';

/** One setting as the service holds it. */
export interface ConfigEntry {
  readonly value: string;
  /** The key's version: 1 when created, +1 per write. Give it back as `expectedVersion` to compare-and-set. */
  readonly version: number;
  /** The store revision of its last write. */
  readonly modRevision: number;
}

/** One setting's change. */
export interface ConfigChange {
  /** The setting's name: its key less the prefix. */
  readonly name: string;
  readonly type: 'put' | 'delete';
  /** The value after the change; undefined after a delete. */
  readonly value: string | undefined;
  /** The value before it; undefined if it was absent. */
  readonly previous: string | undefined;
}

/** The changes that took the local copy to `revision`. */
export interface ConfigUpdate {
  readonly revision: number;
  /** One per key changed; several when one transaction made them (then in key order, as the watch reports them). */
  readonly changes: readonly ConfigChange[];
  /**
   * - `initial`: the first read, as changes from nothing (one put per setting).
   * - `changes`: the changes of revision `revision`, the next that touched the prefix.
   * - `resync`: compaction passed the watch, so the service read the prefix afresh;
   *   `changes` is the difference between the old copy and the new one, and the
   *   revisions in between were not seen one by one.
   */
  readonly kind: 'initial' | 'changes' | 'resync';
}

/** The local copy at one revision. */
export interface ConfigSnapshot {
  readonly revision: number;
  readonly entries: ReadonlyMap<string, ConfigEntry>;
}

/** Options of {@link ConfigService.open}. */
export interface ConfigServiceOptions {
  /** The prefix holding the settings, such as `'config/'`. Not empty. */
  readonly prefix: string;
  /**
   * Called with every update from the start: first the initial read (kind
   * `initial`), then every change. Default: none (subscribe later with `onChange`).
   */
  readonly onChange?: (update: ConfigUpdate) => void;
}

/** Options of {@link ConfigService.update}. */
export interface UpdateOptions extends WriteOptions {
  /** Compare-and-set attempts before giving up with the last `VersionConflictError`. Default 16. */
  readonly attemptsMax?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface RevisionWaiter {
  readonly revision: number;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * The settings under a prefix, materialized locally.
 *
 * Guarantees:
 * - Consistent: after `open()` and after every update, the local copy equals the
 *   prefix in the store at `revision` (never a mix of two revisions). It starts from a
 *   linearizable range read at revision R and applies the watch from R + 1, so no
 *   change falls in a gap between the read and the watch.
 * - Complete and ordered: listeners see every revision that changed the prefix, once,
 *   in order, with a transaction's changes together; unless compaction passes the
 *   watch, and then one update of kind `resync` carries the difference.
 * - Read-your-writes: `set`, `delete` and `update` resolve once the local copy holds
 *   their write.
 *
 * Not guaranteed: freshness. The copy lags the store by the time a change takes to
 * reach this replica; read with `kv.get` (linearizable) when a decision needs the
 * latest value, or compare-and-set on the version seen.
 *
 * @example
 * ```ts
 * const config = await ConfigService.open(kv, { prefix: 'config/' });
 * config.onChange(({ revision, changes }) => console.log(revision, changes));
 * const limit = Number(config.get('rate-limit') ?? '100');
 * await config.update('rate-limit', (current) => String(Number(current ?? '100') * 2)); // compare-and-set loop
 * ```
 */
export class ConfigService {
  /** Resolves when the service stops: `close()` or its node closed. Rejects on a failure, or when a listener throws. */
  readonly ended: Promise<void>;
  private readonly entries = new Map<string, ConfigEntry>();
  private readonly listeners = new Set<(update: ConfigUpdate) => void>();
  private waiters: RevisionWaiter[] = [];
  private revisionSeen: number;
  private closed = false;
  /** Whether `run` has returned: no update comes any more. */
  private over = false;
  private closeWatch: (() => void) | undefined;

  private constructor(
    private readonly kv: KvApi,
    private readonly prefix: string,
    initial: RangeResult,
    onChange: ((update: ConfigUpdate) => void) | undefined,
  ) {
    if (onChange !== undefined) this.listeners.add(onChange);
    this.revisionSeen = 0;
    this.load(initial, 'initial');
    this.ended = this.run(initial.revision + 1).finally(() => this.stopWaiters());
    this.ended.catch(() => undefined); // reported through `ended` and pending writes, never as an unhandled rejection
  }

  /** Reads the prefix (linearizable) and follows it from there. */
  static async open(kv: KvApi, options: ConfigServiceOptions): Promise<ConfigService> {
    if (options.prefix === '') throw new ConfigError('ConfigService.open', 'prefix', 'must not be empty');
    return new ConfigService(kv, options.prefix, await readAll(kv, options.prefix), options.onChange);
  }

  /** The revision the local copy is at. */
  get revision(): number {
    return this.revisionSeen;
  }

  /** The value of setting `name`, or undefined. */
  get(name: string): string | undefined {
    return this.entries.get(name)?.value;
  }

  /** Setting `name` with its version, or undefined. */
  entry(name: string): ConfigEntry | undefined {
    return this.entries.get(name);
  }

  /** A copy of the local copy, with its revision. */
  snapshot(): ConfigSnapshot {
    return { revision: this.revisionSeen, entries: new Map(this.entries) };
  }

  /**
   * Calls `listener` after each later update of the local copy (when the service's
   * `get` already answers with the new values). Returns the function that unsubscribes
   * it. To hear every update from the initial read on, pass `onChange` to `open`.
   */
  onChange(listener: (update: ConfigUpdate) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Writes setting `name`. With `expectedVersion`, a compare-and-set: `0` creates it
   * only if absent, `n` writes only over version `n`; else rejects with
   * `VersionConflictError` (nothing changed). Resolves once the local copy holds it.
   */
  async set(name: string, value: string, options: WriteOptions & { readonly expectedVersion?: number } = {}): Promise<PutResult> {
    const result = await this.kv.put(this.prefix + name, encoder.encode(value), options);
    await this.caughtUp(result.revision);
    return result;
  }

  /** Deletes setting `name` (at `expectedVersion` only, if given). Resolves once the local copy misses it. */
  async delete(name: string, options: WriteOptions & { readonly expectedVersion?: number } = {}): Promise<boolean> {
    const { deleted, revision } = await this.kv.delete(this.prefix + name, options);
    if (deleted) await this.caughtUp(revision);
    return deleted;
  }

  /**
   * Read-modify-write by compare-and-set: `change` gets the current value (undefined
   * if absent) and returns the new one (undefined deletes it). The first attempt starts
   * from the local copy; after a conflict, from a linearizable read. `change` may run
   * several times, so keep it pure.
   *
   * @returns the value written, once the local copy holds it.
   * @throws the last `VersionConflictError` after `attemptsMax` attempts.
   */
  async update(name: string, change: (current: string | undefined) => string | undefined, options: UpdateOptions = {}): Promise<string | undefined> {
    const { attemptsMax = 16, ...write } = options;
    let current: { readonly value: string; readonly version: number } | undefined = this.entries.get(name);
    for (let attempt = 1; ; attempt++) {
      const next = change(current?.value);
      const expectedVersion = current?.version ?? 0;
      try {
        if (next !== undefined) await this.set(name, next, { ...write, expectedVersion });
        else if (current !== undefined) {
          if (!(await this.delete(name, { ...write, expectedVersion })))
            throw new VersionConflictError(this.prefix + name, expectedVersion, 0, this.revisionSeen);
        }
        return next;
      } catch (error) {
        if (!(error instanceof VersionConflictError) || attempt >= attemptsMax) throw error;
        const latest = await this.kv.get(this.prefix + name);
        current = latest === undefined ? undefined : { value: decoder.decode(latest.value), version: latest.version };
      }
    }
  }

  /** Stops following the store; pending writes' waits reject. */
  close(): void {
    this.closed = true;
    this.closeWatch?.();
  }

  private async run(from: number): Promise<void> {
    while (!this.closed) {
      const watch = this.kv.watch({ prefix: this.prefix }, { fromRevision: from });
      this.closeWatch = () => watch.close();
      if (this.closed) watch.close();
      try {
        for await (const batch of revisionBatches(watch)) this.apply(batch);
        return; // closed, or its node closed
      } catch (error) {
        if (!(error instanceof CompactedError)) throw error;
        from = this.load(await readAll(this.kv, this.prefix), 'resync') + 1;
      }
    }
  }

  /** Applies one revision's changes, then tells the listeners. */
  private apply(batch: RevisionBatch): void {
    if (!(batch.revision > this.revisionSeen)) throw new InvariantError(`ConfigService: revision ${batch.revision} after ${this.revisionSeen}`);
    const changes: ConfigChange[] = [];
    for (const event of batch.events) {
      const name = this.nameOf(event.kv.key);
      const previous = this.entries.get(name)?.value;
      if (event.type === 'put') {
        const entry = entryOf(event.kv);
        this.entries.set(name, entry);
        changes.push({ name, type: 'put', value: entry.value, previous });
      } else {
        this.entries.delete(name);
        changes.push({ name, type: 'delete', value: undefined, previous });
      }
    }
    this.publish({ revision: batch.revision, changes, kind: 'changes' });
  }

  /** Replaces the local copy with a read of the prefix; returns its revision. */
  private load(fresh: RangeResult, kind: 'initial' | 'resync'): number {
    const changes: ConfigChange[] = [];
    const seen = new Set<string>();
    for (const kv of fresh.kvs) {
      const name = this.nameOf(kv.key);
      const entry = entryOf(kv);
      const before = this.entries.get(name);
      seen.add(name);
      if (before === undefined || before.modRevision !== entry.modRevision) changes.push({ name, type: 'put', value: entry.value, previous: before?.value });
      this.entries.set(name, entry);
    }
    for (const [name, before] of [...this.entries]) {
      if (seen.has(name)) continue;
      this.entries.delete(name);
      changes.push({ name, type: 'delete', value: undefined, previous: before.value });
    }
    this.publish({ revision: fresh.revision, changes, kind });
    return fresh.revision;
  }

  private publish(update: ConfigUpdate): void {
    this.revisionSeen = update.revision;
    for (const listener of [...this.listeners]) listener(update);
    const due = this.waiters.filter((w) => w.revision <= update.revision);
    this.waiters = this.waiters.filter((w) => w.revision > update.revision);
    for (const waiter of due) waiter.resolve();
  }

  /** Resolves once the local copy is at `revision` or later. Only for a revision that wrote under the prefix. */
  private caughtUp(revision: number): Promise<void> {
    if (revision <= this.revisionSeen) return Promise.resolve();
    if (this.closed || this.over) return Promise.reject(new ClosedError('ConfigService: stopped, so the local copy will not reach the write'));
    return new Promise((resolve, reject) => this.waiters.push({ revision, resolve, reject }));
  }

  private stopWaiters(): void {
    this.over = true;
    for (const waiter of this.waiters) waiter.reject(new ClosedError('ConfigService: stopped before reaching the revision'));
    this.waiters = [];
  }

  private nameOf(key: string): string {
    return key.slice(this.prefix.length);
  }
}

function entryOf(kv: KeyValue): ConfigEntry {
  return { value: decoder.decode(kv.value), version: kv.version, modRevision: kv.modRevision };
}

async function readAll(kv: KvApi, prefix: string): Promise<RangeResult> {
  const result = await kv.range({ prefix });
  if (result.more) throw new TooManyKeysError('ConfigService', prefix);
  return result;
}
