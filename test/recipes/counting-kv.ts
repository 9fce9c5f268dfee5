/**
 * A `KvApi` that passes every call through to another and records the watches opened
 * through it and the events each delivered: how the recipe tests count wakeups.
 */
import type {
  KvApi,
  KvSession,
  KeyRange,
  ReadOptions,
  RangeOptions,
  RangeResult,
  PutOptions,
  PutResult,
  DeleteOptions,
  DeleteResult,
  TxnRequest,
  TxnResult,
  SessionOptions,
  Watch,
  WatchEvent,
  WatchOptions,
  WriteOptions,
  KeyValue,
} from '../../src/kv/index.js';

/** One watch opened through a {@link CountingKv}. */
export interface WatchRecord {
  readonly range: KeyRange;
  readonly fromRevision: number | undefined;
  /** The events it delivered to its consumer. */
  readonly events: WatchEvent[];
  closed: boolean;
}

export class CountingKv implements KvApi {
  readonly watches: WatchRecord[] = [];

  constructor(readonly inner: KvApi) {}

  /** Events delivered by every watch opened through this handle. */
  get wakeups(): number {
    return this.watches.reduce((n, w) => n + w.events.length, 0);
  }

  /** The watches not closed. */
  get openWatches(): WatchRecord[] {
    return this.watches.filter((w) => !w.closed);
  }

  get(key: string, options?: ReadOptions): Promise<KeyValue | undefined> {
    return this.inner.get(key, options);
  }

  range(range: KeyRange, options?: RangeOptions & ReadOptions): Promise<RangeResult> {
    return this.inner.range(range, options);
  }

  put(key: string, value: string | Uint8Array, options?: PutOptions & WriteOptions): Promise<PutResult> {
    return this.inner.put(key, value, options);
  }

  delete(key: string, options?: DeleteOptions & WriteOptions): Promise<DeleteResult> {
    return this.inner.delete(key, options);
  }

  txn(request: TxnRequest, options?: WriteOptions): Promise<TxnResult> {
    return this.inner.txn(request, options);
  }

  createSession(options: SessionOptions): Promise<KvSession> {
    return this.inner.createSession(options);
  }

  compact(revision: number, options?: WriteOptions): Promise<void> {
    return this.inner.compact(revision, options);
  }

  watch(range: KeyRange, options?: WatchOptions): Watch {
    const record: WatchRecord = { range, fromRevision: options?.fromRevision, events: [], closed: false };
    this.watches.push(record);
    return this.wrap(this.inner.watch(range, options), record);
  }

  /** The watch handed out: `inner`, recording what it delivers. */
  protected wrap(inner: Watch, record: WatchRecord): Watch {
    const close = (): void => {
      record.closed = true;
      inner.close();
    };
    return {
      get deliveredThrough() {
        return inner.deliveredThrough;
      },
      async next(): Promise<IteratorResult<WatchEvent>> {
        try {
          const step = await inner.next();
          if (step.done === true) record.closed = true;
          else record.events.push(step.value);
          return step;
        } catch (error) {
          record.closed = true;
          throw error;
        }
      },
      async return(): Promise<IteratorResult<WatchEvent>> {
        close();
        return { done: true, value: undefined };
      },
      close,
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }
}
