/**
 * A {@link FileSystem} for tests that fails chosen calls and simulates a power loss
 * over a real directory: it drops what was written but not synced.
 */
import { basename, dirname, join, resolve, sep } from 'node:path';
import { assert } from '../../core/assert.js';
import { type FileHandle, type FileSystem, hasCode, nodeFileSystem, writeFully } from './file-system.js';

/** The calls of a {@link FileSystem} (and of its {@link FileHandle}s) that can be counted and failed. */
export type FileSystemOp = 'mkdir' | 'readdir' | 'readFile' | 'open' | 'rename' | 'unlink' | 'write' | 'read' | 'datasync' | 'sync' | 'truncate';

/** Calls made on an open handle: Node's errors for them carry no path. */
const handleOps: ReadonlySet<FileSystemOp> = new Set(['write', 'read', 'datasync', 'sync', 'truncate']);

/** Options of {@link FaultyFileSystem.failNext}. */
export interface FaultOptions {
  /** The `code` of the error the failed calls reject with, as Node's system errors carry. Default `'EIO'`. */
  readonly code?: string;
  /**
   * Only calls on this path fail: a string is compared with the call's path once both
   * are made absolute, a RegExp is tested against the absolute path. A handle's calls
   * have the path it was opened with; a rename has two, either may match. Default: any path.
   */
  readonly path?: string | RegExp;
  /** How many matching calls fail, one after the other. `Infinity` fails them all. Default 1. */
  readonly count?: number;
  /** How many matching calls succeed before the failing ones. Default 0. */
  readonly after?: number;
}

/** Options of {@link FaultyFileSystem.crash}. */
export interface CrashOptions {
  /**
   * Picks which unsynced changes survive: for each file, a prefix of its unsynced writes,
   * the next one perhaps torn; for each directory, a prefix of its unsynced entry
   * changes. The same seed on the same history gives the same disk. Default: none, and
   * every unsynced change is lost (the harshest crash).
   */
  readonly seed?: number;
}

/**
 * A {@link FileSystem} wrapping another one (default {@link nodeFileSystem}) for tests of
 * a storage: it fails chosen calls ({@link FaultyFileSystem.failNext}), counts calls
 * ({@link FaultyFileSystem.calls}), and simulates a power loss
 * ({@link FaultyFileSystem.crash}) by putting the real files back to what a disk would
 * hold after one.
 *
 * **The crash model.** It tracks, for every file written through it, the content that
 * is durable and the writes and truncations since, and for every directory it changed,
 * the entries that are durable and the changes since:
 *
 * - `datasync()` or `sync()` on a file (on any handle of it) makes its content durable:
 *   every write and truncation made before the call. It does not make the file's name
 *   durable.
 * - `sync()` on a directory opened with `open(dir, 'r')` makes its entries durable:
 *   the files created (`open(path, 'wx')`), renamed, unlinked and the directories made
 *   in it before the call.
 * - A failed sync of a file (injected, or from the file system below) dooms its unsynced
 *   writes: a later sync that succeeds does not make them durable, and a crash drops
 *   them, as Linux drops the dirty pages of a failed fsync. So a storage that retries an
 *   fsync and reports success loses data in the crash that follows. A failed sync of
 *   a directory leaves its changes as they were: they may or may not survive.
 * - {@link FaultyFileSystem.crash} reverts each directory to its durable entries plus a prefix of the
 *   changes since (with a seed; none without), each change whole: a new file may
 *   vanish, a rename may revert, an unlinked file may come back with its content. Then
 *   each file that survives gets its durable content plus a prefix of the writes since
 *   (with a seed; none without); the first write past the prefix may be torn: a prefix
 *   of its bytes, or zeros where they were to land. What was synced on a file whose
 *   entry was synced in its directory is never lost.
 * - A directory whose creation is reverted is emptied, not removed (a `FileSystem` has
 *   no rmdir): a storage finds it as if created again. A rename to another directory is
 *   an unlink in one and a new entry in the other, each durable with its own directory.
 * - Files and entries it did not see change (those present before it first looked at
 *   their directory) count as durable. Renaming a directory is not modelled.
 *
 * After `crash()` this file system and every handle it opened are dead: each call
 * rejects with an error of code `EIO`, so a storage instance left over from before the
 * crash cannot touch the disk any more. Use the file system `crash()` returns (same
 * disk, same fault rules and counters) to open the storage again.
 *
 * @example
 * ```ts
 * let fs = new FaultyFileSystem();
 * const storage = await FileStorage.open(dir, { fs });
 * const writes = batches.map((b) => storage.persist(b)); // some resolve, some are in flight
 * fs = await fs.crash({ seed: 7 });                     // the power goes out
 * const reopened = await FileStorage.open(dir, { fs });  // (after marking its LOCK stale)
 * fs.failNext('datasync', { code: 'EIO' });             // the next fdatasync fails
 * ```
 */
export class FaultyFileSystem implements FileSystem {
  private disk: Disk;
  private dead = false;
  /** Handles opened through this instance and not yet closed: a crash closes them. */
  private readonly handles = new Set<FaultyFileHandle>();
  /** Calls under way: a crash lets them land before it reverts the disk. */
  private readonly inflight = new Set<Promise<unknown>>();

  /** @param inner - the file system to wrap. Default {@link nodeFileSystem}. */
  constructor(inner: FileSystem = nodeFileSystem) {
    this.disk = new Disk(inner);
  }

  /** Whether {@link crash} was called on this instance: then every call rejects. */
  get crashed(): boolean {
    return this.dead;
  }

  /**
   * Makes the next `options.count` calls of `op` that match fail with an error of code
   * `options.code`. A failed call does nothing below: a failed write writes nothing, a
   * failed sync syncs nothing. Rules added earlier are matched first.
   *
   * @example
   * ```ts
   * fs.failNext('write', { code: 'ENOSPC', path: /wal-.*\.log$/ });
   * fs.failNext('sync', { path: dir, after: 1 }); // the second directory sync of `dir`
   * ```
   */
  failNext(op: FileSystemOp, options: FaultOptions = {}): void {
    const count = options.count ?? 1;
    const after = options.after ?? 0;
    if (!(count >= 1) || (count !== Infinity && !Number.isSafeInteger(count))) {
      throw new RangeError(`FaultyFileSystem.failNext: count must be a positive integer or Infinity, got ${count}`);
    }
    if (!Number.isSafeInteger(after) || after < 0) throw new RangeError(`FaultyFileSystem.failNext: after must be a non-negative integer, got ${after}`);
    const path = typeof options.path === 'string' ? resolve(options.path) : options.path;
    this.disk.faults.push({ op, code: options.code ?? 'EIO', path, remaining: count, skip: after });
  }

  /** Removes every fault rule not used up. */
  clearFaults(): void {
    this.disk.faults.length = 0;
  }

  /** How many calls of `op` were made, failed ones included, since the first file system of this disk was made. */
  calls(op: FileSystemOp): number {
    return this.disk.counts.get(op) ?? 0;
  }

  /**
   * A power loss: waits for the calls under way to land, closes every handle, then puts
   * the files and directories back to what survived (see the crash model above) and
   * returns the file system of the rebooted machine. This instance and its handles are
   * dead from the moment of the call.
   *
   * @throws Error if this instance crashed already.
   */
  async crash(options: CrashOptions = {}): Promise<FaultyFileSystem> {
    if (this.dead) throw new Error('FaultyFileSystem.crash: this file system crashed already; use the one its crash() returned');
    this.dead = true;
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    for (const handle of this.handles) await handle.inner.close().catch(() => undefined);
    this.handles.clear();
    await this.disk.powerLoss(options.seed === undefined ? undefined : new Dice(options.seed));
    const next = new FaultyFileSystem(this.disk.inner);
    next.disk = this.disk;
    return next;
  }

  mkdir(path: string): Promise<void> {
    const key = resolve(path);
    return this.call('mkdir', [key], async () => {
      // The missing directories, top first: each becomes an entry of its parent.
      const missing: string[] = [];
      for (let at = key; !(await this.disk.exists(at)); at = dirname(at)) {
        missing.unshift(at);
        if (dirname(at) === at) break;
      }
      const first = missing[0];
      if (first !== undefined) await this.disk.directory(dirname(first));
      this.checkAlive();
      await this.disk.inner.mkdir(path);
      for (const created of missing) {
        const parent = await this.disk.directory(dirname(created));
        parent.change({ kind: 'link', name: basename(created), entry: { kind: 'dir' } });
        this.disk.adoptNewDirectory(created);
      }
    });
  }

  readdir(path: string): Promise<string[]> {
    return this.call('readdir', [resolve(path)], () => this.disk.inner.readdir(path));
  }

  readFile(path: string): Promise<Uint8Array> {
    return this.call('readFile', [resolve(path)], () => this.disk.inner.readFile(path));
  }

  open(path: string, flags: 'r' | 'r+' | 'wx'): Promise<FileHandle> {
    const key = resolve(path);
    return this.call('open', [key], async () => {
      let target: HandleTarget;
      if (flags === 'wx') {
        const parent = await this.disk.directory(dirname(key));
        this.checkAlive();
        const inner = await this.disk.inner.open(path, flags);
        const inode = this.disk.newInode(new Uint8Array(0));
        parent.change({ kind: 'link', name: basename(key), entry: { kind: 'file', inode } });
        return this.adopt(key, inner, { kind: 'file', inode });
      }
      if (flags === 'r+') {
        const inode = await this.disk.materialize(key);
        target = inode === undefined ? { kind: 'untracked' } : { kind: 'file', inode };
      } else {
        target = this.disk.readTarget(key);
      }
      this.checkAlive();
      return this.adopt(key, await this.disk.inner.open(path, flags), target);
    });
  }

  rename(from: string, to: string): Promise<void> {
    const fromKey = resolve(from);
    const toKey = resolve(to);
    return this.call('rename', [fromKey, toKey], async () => {
      const source = await this.disk.directory(dirname(fromKey));
      const destination = await this.disk.directory(dirname(toKey));
      if (source.current.get(basename(fromKey))?.kind === 'dir') throw new Error(`FaultyFileSystem.rename: renaming a directory (${fromKey}) is not modelled`);
      const inode = await this.disk.materialize(fromKey);
      await this.disk.materialize(toKey); // the file it replaces may come back in a crash
      this.checkAlive();
      await this.disk.inner.rename(from, to);
      if (inode === undefined) return; // not a file: nothing to model
      if (source === destination) {
        source.change({ kind: 'rename', from: basename(fromKey), to: basename(toKey) });
      } else {
        source.change({ kind: 'unlink', name: basename(fromKey) });
        destination.change({ kind: 'link', name: basename(toKey), entry: { kind: 'file', inode } });
      }
    });
  }

  unlink(path: string): Promise<void> {
    const key = resolve(path);
    return this.call('unlink', [key], async () => {
      const parent = await this.disk.directory(dirname(key));
      await this.disk.materialize(key); // it may come back in a crash, with its content
      this.checkAlive();
      await this.disk.inner.unlink(path);
      parent.change({ kind: 'unlink', name: basename(key) });
    });
  }

  /**
   * Runs one call: counts it, fails it if a rule says so, tracks it while it runs and
   * rejects it if the power went out meanwhile (whatever it did below stays modelled).
   * @internal
   */
  call<T>(op: FileSystemOp, paths: readonly string[], run: () => Promise<T>, onFault?: () => void): Promise<T> {
    this.disk.counts.set(op, this.calls(op) + 1);
    if (this.dead) return Promise.reject(deadError(op, paths));
    const fault = this.disk.takeFault(op, paths);
    if (fault !== undefined) {
      onFault?.();
      return Promise.reject(fault);
    }
    const running = run();
    this.inflight.add(running);
    const untrack = (): void => void this.inflight.delete(running);
    running.then(untrack, untrack);
    return running.then(
      (result) => {
        if (this.dead) throw deadError(op, paths);
        return result;
      },
      (error: unknown) => {
        throw this.dead ? deadError(op, paths) : error;
      },
    );
  }

  /** {@link call} for a synchronous call (a crash cannot land while it runs). @internal */
  callSync<T>(op: FileSystemOp, paths: readonly string[], run: () => T, onFault?: () => void): T {
    this.disk.counts.set(op, this.calls(op) + 1);
    if (this.dead) throw deadError(op, paths);
    const fault = this.disk.takeFault(op, paths);
    if (fault !== undefined) {
      onFault?.();
      throw fault;
    }
    return run();
  }

  /** Throws if the power went out: a call under way stops before its next step below. @internal */
  checkAlive(): void {
    if (this.dead) throw deadError('call', []);
  }

  /** Forgets a closed handle. @internal */
  release(handle: FaultyFileHandle): void {
    this.handles.delete(handle);
  }

  private adopt(path: string, inner: FileHandle, target: HandleTarget): FileHandle {
    // Registered even if the power went out meanwhile: the crash waits for this call, then closes it.
    const handle = new FaultyFileHandle(this, path, inner, target);
    this.handles.add(handle);
    return handle;
  }
}

/** What syncing a handle makes durable. */
type HandleTarget =
  | { readonly kind: 'file'; readonly inode: Inode }
  | { readonly kind: 'dir'; readonly directory: Directory }
  /** A file or directory with nothing modelled: syncing it changes nothing. */
  | { readonly kind: 'untracked' };

/** A handle of a {@link FaultyFileSystem}: each call goes through the file system's `call`. */
class FaultyFileHandle implements FileHandle {
  /** Present when the inner handle has both synchronous calls; same faults and crash model. */
  readonly writeSync?: (data: Uint8Array, offset: number, length: number, position: number) => number;
  readonly datasyncSync?: () => void;
  /** Present when the inner handle reads. */
  readonly read?: (buffer: Uint8Array, offset: number, length: number, position: number) => Promise<{ bytesRead: number }>;

  constructor(
    private readonly fs: FaultyFileSystem,
    private readonly path: string,
    readonly inner: FileHandle,
    private readonly target: HandleTarget,
  ) {
    const { read, writeSync, datasyncSync } = inner;
    if (read !== undefined) this.read = (buffer, offset, length, position) => fs.call('read', [path], () => read.call(inner, buffer, offset, length, position));
    if (writeSync === undefined || datasyncSync === undefined) return;
    this.writeSync = (data, offset, length, position) =>
      fs.callSync('write', [path], () => {
        const bytesWritten = writeSync.call(inner, data, offset, length, position);
        this.recordWrite(data, offset, length, position, bytesWritten);
        return bytesWritten;
      });
    this.datasyncSync = () =>
      fs.callSync(
        'datasync',
        [path],
        () => {
          const upTo = this.syncPoint();
          try {
            datasyncSync.call(inner);
          } catch (error) {
            this.doom();
            throw error;
          }
          this.makeDurable(upTo);
        },
        () => this.doom(),
      );
  }

  write(data: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }> {
    return this.fs.call('write', [this.path], async () => {
      const result = await this.inner.write(data, offset, length, position);
      this.recordWrite(data, offset, length, position, result.bytesWritten);
      return result;
    });
  }

  private recordWrite(data: Uint8Array, offset: number, length: number, position: number, bytesWritten: number): void {
    if (this.target.kind !== 'file') return;
    assert(bytesWritten <= length, `write of ${length} bytes reported ${bytesWritten} written`);
    this.target.inode.record({ kind: 'write', position, bytes: data.slice(offset, offset + bytesWritten) });
  }

  /** The change sequence a sync that starts now makes durable up to. */
  private syncPoint(): number {
    const { target } = this;
    return target.kind === 'file' ? target.inode.nextSequence : target.kind === 'dir' ? target.directory.nextSequence : 0;
  }

  private makeDurable(upTo: number): void {
    const { target } = this;
    if (target.kind === 'file') target.inode.makeDurable(upTo);
    else if (target.kind === 'dir') target.directory.makeDurable(upTo);
  }

  truncate(length: number): Promise<void> {
    return this.fs.call('truncate', [this.path], async () => {
      await this.inner.truncate(length);
      if (this.target.kind === 'file') this.target.inode.record({ kind: 'truncate', length });
    });
  }

  datasync(): Promise<void> {
    return this.fs.call(
      'datasync',
      [this.path],
      () => this.syncWith(() => this.inner.datasync()),
      () => this.doom(),
    );
  }

  sync(): Promise<void> {
    return this.fs.call(
      'sync',
      [this.path],
      () => this.syncWith(() => this.inner.sync()),
      () => this.doom(),
    );
  }

  async close(): Promise<void> {
    if (this.fs.crashed) throw deadError('close', [this.path]);
    this.fs.release(this);
    await this.inner.close();
  }

  /** Runs a sync below; on success makes durable what came before it, on failure dooms it. */
  private async syncWith(sync: () => Promise<void>): Promise<void> {
    const { target } = this;
    if (target.kind === 'file') {
      const upTo = target.inode.nextSequence;
      try {
        await sync();
      } catch (error) {
        target.inode.doom(upTo);
        throw error;
      }
      this.fs.checkAlive(); // a sync that ends after the power went out made nothing durable
      target.inode.makeDurable(upTo);
    } else if (target.kind === 'dir') {
      const upTo = target.directory.nextSequence;
      await sync();
      this.fs.checkAlive();
      target.directory.makeDurable(upTo);
    } else {
      await sync();
    }
  }

  /** An injected fault on a file's sync dooms its unsynced writes, as a real one does. */
  private doom(): void {
    if (this.target.kind === 'file') this.target.inode.doom(this.target.inode.nextSequence);
  }
}

/** A write or a truncation of a file. */
type NewFileChange = { readonly kind: 'write'; readonly position: number; readonly bytes: Uint8Array } | { readonly kind: 'truncate'; readonly length: number };

/** One change to a file's bytes since it was last durable. */
type FileChange = NewFileChange & {
  readonly sequence: number;
  /** Doomed by a failed sync: never durable, dropped by a crash. */
  lost: boolean;
};

/** A file's content: what is durable and the changes since. */
class Inode {
  private durable: Bytes;
  private changes: FileChange[] = [];
  /** Whether the disk holds doomed bytes the durable content lacks: a crash must rewrite it. */
  private diverged = false;
  /** The sequence number the next change gets. */
  nextSequence = 0;

  constructor(
    readonly id: number,
    durable: Uint8Array,
  ) {
    this.durable = Bytes.of(durable);
  }

  /** Whether what is on disk may differ from the durable content. */
  get dirty(): boolean {
    return this.changes.length > 0 || this.diverged;
  }

  record(change: NewFileChange): void {
    this.changes.push({ ...change, sequence: this.nextSequence++, lost: false });
  }

  /** A sync that started when `nextSequence` was `upTo` succeeded. */
  makeDurable(upTo: number): void {
    assert(upTo <= this.nextSequence, `inode ${this.id}: a sync up to change ${upTo}, but only ${this.nextSequence} were made`);
    const done = this.changes.filter((c) => c.sequence < upTo);
    for (const change of done) {
      if (change.lost) this.diverged = true;
      else this.durable.apply(change);
    }
    this.changes = this.changes.filter((c) => c.sequence >= upTo);
    assert(
      this.changes.every((c, i) => i === 0 || c.sequence > this.changes[i - 1]!.sequence),
      `inode ${this.id}: changes out of order`,
    );
  }

  /** A sync that started when `nextSequence` was `upTo` failed: those changes never become durable. */
  doom(upTo: number): void {
    for (const change of this.changes) if (change.sequence < upTo) change.lost = true;
  }

  /** The content after a power loss: durable, then a prefix of the live changes, the next perhaps torn. */
  afterPowerLoss(dice: Dice | undefined): Uint8Array {
    const content = Bytes.of(this.durable.view());
    const live = this.changes.filter((c) => !c.lost);
    const kept = dice === undefined ? 0 : dice.int(live.length + 1);
    for (const change of live.slice(0, kept)) content.apply(change);
    const torn = live[kept];
    if (dice !== undefined && torn !== undefined && torn.kind === 'write' && torn.bytes.byteLength > 0 && dice.int(2) === 0) {
      // The write landed in part: a prefix of its bytes, or the file grew and its data did not land.
      const zeros = dice.int(4) === 0;
      const length = zeros ? 1 + dice.int(torn.bytes.byteLength) : dice.int(torn.bytes.byteLength);
      const bytes = zeros ? new Uint8Array(length) : torn.bytes.subarray(0, length);
      content.apply({ kind: 'write', position: torn.position, bytes });
    }
    return content.view().slice();
  }
}

/** A growable byte buffer: a file's content in the model. */
class Bytes {
  private buffer: Uint8Array;
  private length: number;

  private constructor(buffer: Uint8Array, length: number) {
    this.buffer = buffer;
    this.length = length;
  }

  static of(content: Uint8Array): Bytes {
    return new Bytes(content.slice(), content.byteLength);
  }

  view(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }

  apply(change: NewFileChange): void {
    const at = change.kind === 'truncate' ? change.length : change.position;
    assert(Number.isSafeInteger(at) && at >= 0, `a ${change.kind} at byte ${at}`);
    if (change.kind === 'truncate') {
      this.resize(change.length);
      return;
    }
    const end = change.position + change.bytes.byteLength;
    if (end > this.length) this.resize(end);
    this.buffer.set(change.bytes, change.position);
  }

  /** Cuts or extends (with zeros) to `length` bytes. */
  private resize(length: number): void {
    if (length > this.buffer.byteLength) {
      const grown = new Uint8Array(Math.max(length, this.buffer.byteLength * 2));
      grown.set(this.view());
      this.buffer = grown;
    } else if (length > this.length) {
      this.buffer.fill(0, this.length, length);
    }
    this.length = length;
  }
}

/** A directory entry: a modelled file, a directory made through the model, or one found on disk (durable, untouched). */
type Entry = { readonly kind: 'file'; readonly inode: Inode } | { readonly kind: 'dir' } | { readonly kind: 'found' };

type NewDirectoryChange =
  | { readonly kind: 'link'; readonly name: string; readonly entry: Entry }
  | { readonly kind: 'unlink'; readonly name: string }
  | { readonly kind: 'rename'; readonly from: string; readonly to: string };
type DirectoryChange = NewDirectoryChange & { readonly sequence: number };

/** A directory's entries: what is durable and the changes since. */
class Directory {
  current: Map<string, Entry>;
  durable: Map<string, Entry>;
  changes: DirectoryChange[] = [];
  nextSequence = 0;

  constructor(entries: Map<string, Entry>) {
    this.durable = entries;
    this.current = new Map(entries);
  }

  change(change: NewDirectoryChange): void {
    this.changes.push({ ...change, sequence: this.nextSequence++ });
    applyEntryChange(this.current, change);
  }

  /** A sync that started when `nextSequence` was `upTo` succeeded. */
  makeDurable(upTo: number): void {
    assert(upTo <= this.nextSequence, `a directory sync up to change ${upTo}, but only ${this.nextSequence} were made`);
    for (const change of this.changes) if (change.sequence < upTo) applyEntryChange(this.durable, change);
    this.changes = this.changes.filter((c) => c.sequence >= upTo);
  }

  /** The entries after a power loss: durable, then a prefix of the changes since. */
  afterPowerLoss(dice: Dice | undefined): Map<string, Entry> {
    const entries = new Map(this.durable);
    const kept = dice === undefined ? 0 : dice.int(this.changes.length + 1);
    for (const change of this.changes.slice(0, kept)) applyEntryChange(entries, change);
    return entries;
  }

  /** Replaces an entry found on disk by its modelled file, in both views. */
  replace(name: string, found: Entry | undefined, file: Entry): void {
    for (const entries of [this.current, this.durable]) {
      if (entries.get(name) === found) entries.set(name, file);
    }
  }
}

function applyEntryChange(entries: Map<string, Entry>, change: NewDirectoryChange): void {
  if (change.kind === 'link') {
    entries.set(change.name, change.entry);
  } else if (change.kind === 'unlink') {
    entries.delete(change.name);
  } else {
    const entry = entries.get(change.from);
    entries.delete(change.from);
    if (entry !== undefined) entries.set(change.to, entry);
  }
}

interface Fault {
  readonly op: FileSystemOp;
  readonly code: string;
  readonly path: string | RegExp | undefined;
  remaining: number;
  skip: number;
}

/**
 * The model of the disk under a {@link FaultyFileSystem} and the ones its crashes
 * return: directories, files, fault rules and counters.
 * @internal
 */
class Disk {
  /** Directories by absolute path, loading or loaded on first use. */
  private readonly directories = new Map<string, Promise<Directory>>();
  /** The directories loaded so far, by absolute path. */
  private readonly loaded = new Map<string, Directory>();
  /** Serializes the reads that load the model, so two calls never load the same thing twice. */
  private loading: Promise<unknown> = Promise.resolve();
  private nextInodeId = 1;
  readonly faults: Fault[] = [];
  readonly counts = new Map<FileSystemOp, number>();

  constructor(readonly inner: FileSystem) {}

  newInode(content: Uint8Array): Inode {
    return new Inode(this.nextInodeId++, content);
  }

  /** The first rule matching a call, used up by one, as the error to reject with. */
  takeFault(op: FileSystemOp, paths: readonly string[]): Error | undefined {
    for (const [i, fault] of this.faults.entries()) {
      if (fault.op !== op) continue;
      const { path } = fault;
      const matches = (p: string): boolean => {
        if (path === undefined) return true;
        if (typeof path === 'string') return p === path;
        path.lastIndex = 0;
        return path.test(p);
      };
      if (!paths.some(matches)) continue;
      if (fault.skip > 0) {
        fault.skip--;
        continue;
      }
      fault.remaining--;
      if (fault.remaining <= 0) this.faults.splice(i, 1);
      // As Node's own: a call on an open handle names no path.
      if (handleOps.has(op)) return Object.assign(new Error(`${fault.code}: injected by FaultyFileSystem, ${op}`), { code: fault.code, syscall: op });
      return Object.assign(new Error(`${fault.code}: injected by FaultyFileSystem, ${op} '${paths.join("' -> '")}'`), {
        code: fault.code,
        syscall: op,
        path: paths[0],
      });
    }
    return undefined;
  }

  /** Whether `path` exists (as a directory, or as anything that is not missing). */
  async exists(path: string): Promise<boolean> {
    try {
      await this.inner.readdir(path);
      return true;
    } catch (error) {
      return !hasCode(error, 'ENOENT');
    }
  }

  /** The model of directory `path`, loaded from disk the first time (its entries count as durable). */
  directory(path: string): Promise<Directory> {
    let directory = this.directories.get(path);
    if (directory === undefined) {
      directory = this.exclusive(async () => {
        const names = await this.inner.readdir(path);
        const loaded = new Directory(new Map(names.map((name): [string, Entry] => [name, { kind: 'found' }])));
        this.loaded.set(path, loaded);
        return loaded;
      });
      this.directories.set(path, directory);
      directory.catch(() => this.directories.delete(path));
    }
    return directory;
  }

  /** Records a directory just made through the model: empty, and its own entries all new. */
  adoptNewDirectory(path: string): void {
    const directory = new Directory(new Map());
    this.loaded.set(path, directory);
    this.directories.set(path, Promise.resolve(directory));
  }

  /**
   * The modelled file at `path`, reading it from disk the first time (its content counts
   * as durable); undefined if there is no file there.
   */
  async materialize(path: string): Promise<Inode | undefined> {
    const parent = await this.directory(dirname(path));
    const name = basename(path);
    return this.exclusive(async () => {
      const entry = parent.current.get(name);
      if (entry?.kind === 'file') return entry.inode;
      if (entry?.kind === 'dir') return undefined;
      let content: Uint8Array;
      try {
        content = await this.inner.readFile(path);
      } catch (error) {
        if (hasCode(error, 'ENOENT') || hasCode(error, 'EISDIR')) return undefined;
        throw error;
      }
      // Found on disk (perhaps made by someone else since the directory was loaded): durable.
      const file: Entry = { kind: 'file', inode: this.newInode(content) };
      if (entry === undefined) {
        parent.current.set(name, file);
        if (!parent.durable.has(name)) parent.durable.set(name, file);
      } else {
        parent.replace(name, entry, file);
      }
      return file.inode;
    });
  }

  /** What a handle opened with `'r'` on `path` syncs: a loaded directory, a modelled file, or nothing. */
  readTarget(path: string): HandleTarget {
    // A directory not loaded yet has nothing unsynced.
    const directory = this.loaded.get(path);
    if (directory !== undefined) return { kind: 'dir', directory };
    const entry = this.loaded.get(dirname(path))?.current.get(basename(path));
    return entry?.kind === 'file' ? { kind: 'file', inode: entry.inode } : { kind: 'untracked' };
  }

  private exclusive<T>(run: () => Promise<T>): Promise<T> {
    const result = this.loading.then(run);
    this.loading = result.catch(() => undefined);
    return result;
  }

  /**
   * Puts the disk back to what survives a power loss (see {@link FaultyFileSystem}), then
   * makes the model match it: everything on disk is durable afterwards.
   */
  async powerLoss(dice: Dice | undefined): Promise<void> {
    await this.loading;
    const directories = [...this.loaded.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const targets = new Map<string, Map<string, Entry>>();
    for (const [path, directory] of directories) targets.set(path, directory.afterPowerLoss(dice));

    // A directory whose entry did not survive loses everything in it.
    const vanished: string[] = [];
    for (const [path, directory] of directories) {
      for (const [name, entry] of directory.current) {
        if (entry.kind === 'dir' && targets.get(path)!.get(name) !== entry) vanished.push(join(path, name));
      }
    }
    const isVanished = (path: string): boolean => vanished.some((v) => path === v || path.startsWith(v + sep));
    for (const [path] of directories) if (isVanished(path)) targets.set(path, new Map());

    // Contents, in inode order so that a seed replays.
    const inodes = new Map<number, Inode>();
    for (const target of targets.values()) for (const entry of target.values()) if (entry.kind === 'file') inodes.set(entry.inode.id, entry.inode);
    const contents = new Map<Inode, Uint8Array>();
    for (const id of [...inodes.keys()].sort((a, b) => a - b)) {
      const inode = inodes.get(id)!;
      contents.set(inode, inode.afterPowerLoss(dice));
    }

    // Rewrite what differs from what is on disk now.
    const unchanged = (entry: Entry | undefined, wanted: Entry): boolean => entry === wanted && (entry.kind !== 'file' || !entry.inode.dirty);
    for (const [path, directory] of directories) {
      const target = targets.get(path)!;
      for (const [name, entry] of directory.current) {
        if (entry.kind === 'dir') continue; // emptied through its own model
        const wanted = target.get(name);
        if (wanted !== undefined && unchanged(entry, wanted)) continue;
        await this.inner.unlink(join(path, name));
      }
      for (const [name, wanted] of target) {
        const entry = directory.current.get(name);
        if (wanted.kind !== 'file') {
          assert(entry === wanted, `FaultyFileSystem: ${join(path, name)} would come back as a ${wanted.kind} entry the model cannot recreate`);
          continue;
        }
        if (unchanged(entry, wanted)) continue;
        const content = contents.get(wanted.inode);
        assert(content !== undefined, `FaultyFileSystem: no content worked out for ${join(path, name)}`);
        const handle = await this.inner.open(join(path, name), 'wx');
        try {
          await writeFully(handle, content, 0);
        } finally {
          await handle.close();
        }
      }
    }

    // The model now matches the disk, all of it durable.
    for (const [path, directory] of directories) {
      const entries = new Map<string, Entry>();
      for (const [name, entry] of targets.get(path)!) {
        entries.set(name, entry.kind === 'file' ? { kind: 'file', inode: this.newInode(contents.get(entry.inode)!) } : entry);
      }
      // An emptied directory stays on disk: it is an entry again, as if made anew.
      for (const [name, entry] of directory.current) if (entry.kind === 'dir' && !entries.has(name)) entries.set(name, entry);
      directory.durable = entries;
      directory.current = new Map(entries);
      directory.changes = [];
    }
  }
}

/** A small seeded generator (xorshift32) for the crash's choices. */
class Dice {
  private state: number;

  constructor(seed: number) {
    this.state = (Math.trunc(seed) ^ 0x2545f491) >>> 0 || 0x9e3779b9;
    for (let i = 0; i < 8; i++) this.step();
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.step() / 4294967296) * n);
  }

  private step(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }
}

function deadError(op: string, paths: readonly string[]): Error {
  const where = paths.length === 0 ? '' : ` '${paths.join("' -> '")}'`;
  return Object.assign(new Error(`EIO: FaultyFileSystem crashed; ${op}${where} came from before the crash`), { code: 'EIO', syscall: op });
}
