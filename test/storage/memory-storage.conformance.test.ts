/**
 * MemoryStorage against the Storage conformance suite of synod/testing, twice: as it
 * is (every resolved write is durable, so a crash is a close and a reopen), and behind
 * a write-back buffer whose crash drops the writes not yet flushed, which exercises
 * the crash cases with lost writes.
 */
import { describe, it } from 'vitest';
import { type DurableState, MemoryStorage, type PersistBatch, type Snapshot, type Storage } from '../../src/index.js';
import { storageConformance } from '../../src/testing/index.js';

storageConformance(
  'MemoryStorage',
  {
    create: async () => new MemoryStorage(),
    reopen: async (previous) => (previous as MemoryStorage).reopen(),
    crash: async (storage) => {
      const memory = storage as MemoryStorage;
      await memory.close();
      return memory.reopen();
    },
  },
  { describe, it },
);

/**
 * A MemoryStorage behind a queue: each write reaches the MemoryStorage (becomes
 * durable) a macrotask after the previous one, and its promise resolves only then.
 * `crash()` drops every write still queued; its promises never settle.
 */
class BufferedStorage implements Storage {
  private queue: Promise<unknown> = Promise.resolve();
  private crashed = false;

  constructor(readonly inner: MemoryStorage) {}

  load(): Promise<DurableState> {
    return this.inner.load();
  }
  persist(batch: PersistBatch): Promise<void> {
    return this.enqueue(() => this.inner.persist(batch));
  }
  saveSnapshot(snapshot: Snapshot): Promise<void> {
    const copy = { slot: snapshot.slot, data: snapshot.data.slice() };
    return this.enqueue(() => this.inner.saveSnapshot(copy));
  }
  loadSnapshot(): Promise<Snapshot | undefined> {
    return this.inner.loadSnapshot();
  }
  compact(slot: number): Promise<void> {
    return this.enqueue(() => this.inner.compact(slot));
  }
  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    await this.inner.close();
  }

  /** Power loss: queued writes are lost; returns a handle on what was flushed. */
  async crash(): Promise<BufferedStorage> {
    this.crashed = true;
    await this.inner.close();
    return new BufferedStorage(this.inner.reopen());
  }

  private enqueue<T>(write: () => Promise<T>): Promise<T> {
    const result = this.queue.then(async () => {
      await new Promise((resolve) => setImmediate(resolve));
      if (this.crashed) return new Promise<T>(() => undefined);
      return write();
    });
    this.queue = result.catch(() => undefined);
    return result;
  }
}

storageConformance(
  'MemoryStorage behind a write buffer lost in crashes',
  {
    create: async () => new BufferedStorage(new MemoryStorage()),
    reopen: async (previous) => new BufferedStorage((previous as BufferedStorage).inner.reopen()),
    crash: async (storage) => (storage as BufferedStorage).crash(),
  },
  { describe, it },
);
