/**
 * The queue of a write-ahead log's writes, shared by {@link FileStorage} (one group)
 * and {@link SharedFileLog} (many): persists and tasks run one at a time in call
 * order, consecutive persists share one write and one fdatasync (group commit), and
 * the first failed write fails the log closed. @internal
 */
import { ConfigError, InvariantError, type PersistBatch } from '../../core/index.js';
import { persistNeedsSync } from '../../core/durable-state.js';
import { StorageFailedError } from './errors.js';

/** The most persists written and synced together (one group commit). */
const groupPersistsMax = 4096;

/**
 * Bytes of learner-only records (see `persistNeedsSync`) held in memory for the next
 * synced write; past this they are written (still without a sync).
 */
export const unwrittenBytesMax = 256 * 1024;

/** A persist as it waits in a {@link WriteQueue}: the batch and its framed record. @internal */
export interface QueuedPersist {
  readonly batch: PersistBatch;
  /** The record that goes into the log, framed by the caller. */
  readonly record: Uint8Array;
}

/** What differs between the logs a {@link WriteQueue} writes for. @internal */
export interface WriteQueueLog<P extends QueuedPersist> {
  /** Appends `records` to the log, in order, and syncs if `sync`. */
  append(records: readonly Uint8Array[], sync: boolean): Promise<void>;
  /**
   * Records `persists`, in call order, once their records are written (and synced, if
   * any of them needs it), before their promises resolve.
   */
  persisted(persists: readonly P[]): void;
}

type Job<P> =
  | {
      readonly kind: 'persist';
      readonly persist: P;
      readonly resolve: () => void;
      readonly reject: (error: unknown) => void;
    }
  | {
      readonly kind: 'task';
      readonly api: string;
      /** Whether it writes: a failed write makes the log fail closed. */
      readonly writes: boolean;
      readonly run: () => Promise<void>;
      readonly reject: (error: unknown) => void;
    };

type PersistJob<P> = Extract<Job<P>, { kind: 'persist' }>;

/**
 * Runs a log's persists and tasks in call order. Consecutive persists share one write
 * and one sync; learner-only ones (`persistNeedsSync` false) wait in memory, up to
 * {@link unwrittenBytesMax}, for the next write. A task runs alone. The first failed
 * write (a persist's, or a writing task's other than an {@link InvariantError} or
 * {@link ConfigError}, which are refusals) fails the log: that job and every later
 * write reject with one {@link StorageFailedError}. @internal
 */
export class WriteQueue<P extends QueuedPersist> {
  private readonly queue: Job<P>[] = [];
  private draining: Promise<void> | undefined;
  /** Set by the first failed write: every later write rejects with it. */
  private failure_: Error | undefined;
  private readonly counters = { persists: 0, fsyncs: 0 };
  /**
   * Learner-only records not written yet: they go with the next write, in order, so a
   * learner-only persist costs no system call (a crash loses them, and all after them).
   */
  private unwritten: Uint8Array[] = [];
  private unwrittenBytes = 0;

  constructor(
    /** The API name that starts a failure's message (`FileStorage`). */
    private readonly owner: string,
    private readonly log: WriteQueueLog<P>,
  ) {}

  /** The log's failure, if a write failed (or {@link failWith} set one). */
  get failure(): Error | undefined {
    return this.failure_;
  }

  /** Persists and syncs since the queue was made. */
  get stats(): { readonly persists: number; readonly fsyncs: number } {
    return { ...this.counters };
  }

  /** Queues `persist`; resolves once its record is written, and synced if it needs it. */
  persist(persist: P): Promise<void> {
    if (this.failure_ !== undefined) return Promise.reject(this.failure_);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ kind: 'persist', persist, resolve, reject });
      this.startDraining();
    });
  }

  /** Runs `task` alone, in call order with the persists. `writes`: a failure fails the log. */
  task<T>(api: string, writes: boolean, task: () => Promise<T>): Promise<T> {
    if (writes && this.failure_ !== undefined) return Promise.reject(this.failure_);
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ kind: 'task', api, writes, run: async () => resolve(await task()), reject });
      this.startDraining();
    });
  }

  /** Fails the log with `error` unless it failed already: every later write rejects with it. */
  failWith(error: Error): void {
    this.failure_ ??= error;
  }

  /** Appends the records waiting in memory, then `records`, and syncs if `sync`. Run from a task. */
  async append(records: readonly Uint8Array[], sync: boolean): Promise<void> {
    const all = this.unwritten.length > 0 ? [...this.unwritten, ...records] : records;
    this.unwritten = [];
    this.unwrittenBytes = 0;
    await this.log.append(all, sync);
  }

  /** Writes the learner-only records waiting in memory, synced. Run from a task. */
  async flush(): Promise<void> {
    if (this.unwritten.length > 0) await this.append([], true);
  }

  /** Drops the records waiting in memory (a base record written after holds their state). Run from a task. */
  discardUnwritten(): void {
    this.unwritten = [];
    this.unwrittenBytes = 0;
  }

  /** Resolves once no job is queued or running. */
  async idle(): Promise<void> {
    while (this.draining !== undefined) await this.draining;
  }

  private startDraining(): void {
    if (this.draining !== undefined) return;
    // drain() awaits before anything else, so this assignment precedes its end.
    this.draining = this.drain();
  }

  /** Runs the queued jobs in order; consecutive persists share one write and one sync. */
  private async drain(): Promise<void> {
    // Let the callers' synchronous burst of persists queue up: they form one group commit.
    await Promise.resolve();
    for (let job = this.queue[0]; job !== undefined; job = this.queue[0]) {
      if (job.kind === 'task') {
        this.queue.shift();
        if (job.writes && this.failure_ !== undefined) {
          job.reject(this.failure_);
          continue;
        }
        try {
          await job.run();
        } catch (error) {
          job.reject(job.writes && !(error instanceof InvariantError) && !(error instanceof ConfigError) ? this.fail(job.api, error) : error);
        }
        continue;
      }
      const batch: PersistJob<P>[] = [];
      while (batch.length < groupPersistsMax && this.queue[0]?.kind === 'persist') {
        batch.push(this.queue.shift() as PersistJob<P>);
      }
      if (this.failure_ !== undefined) {
        for (const p of batch) p.reject(this.failure_);
        continue;
      }
      // Learner-only batches need no sync of their own (persistNeedsSync): they wait in
      // memory and go with the next write, whose sync covers them.
      const sync = batch.some((p) => persistNeedsSync(p.persist.batch));
      try {
        for (const p of batch) {
          this.unwritten.push(p.persist.record);
          this.unwrittenBytes += p.persist.record.byteLength;
        }
        if (sync || this.unwrittenBytes > unwrittenBytesMax) await this.append([], sync);
      } catch (error) {
        const failure = this.fail('persist', error);
        for (const p of batch) p.reject(failure);
        continue;
      }
      if (sync) this.counters.fsyncs++;
      this.log.persisted(batch.map((p) => p.persist));
      this.counters.persists += batch.length;
      for (const p of batch) p.resolve();
    }
    // Synchronously with the empty-queue check: a job queued from now on starts a new drain.
    this.draining = undefined;
  }

  /** Fails the log closed; every later write rejects. */
  private fail(what: string, cause: unknown): Error {
    const failure = this.failure_ ?? new StorageFailedError(`${this.owner}.${what}`, { cause });
    this.failure_ = failure;
    return failure;
  }
}
