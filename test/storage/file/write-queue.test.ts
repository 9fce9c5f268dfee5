import { describe, expect, it } from 'vitest';
import { ConfigError, InvariantError, type PersistBatch } from '../../../src/core/index.js';
import { StorageFailedError } from '../../../src/storage/file/index.js';
import { type QueuedPersist, WriteQueue, unwrittenBytesMax } from '../../../src/storage/file/write-queue.js';

/** A log in memory: what was appended, each write with its sync flag, and what was recorded. */
function memoryLog(options: { failAppend?: (n: number) => boolean } = {}) {
  const writes: { records: number[]; sync: boolean }[] = [];
  const recorded: number[] = [];
  const events: string[] = [];
  let appends = 0;
  const queue = new WriteQueue<QueuedPersist & { readonly n: number }>('TestLog', {
    append: async (records, sync) => {
      const n = appends++;
      await Promise.resolve();
      if (options.failAppend?.(n) === true) throw new Error(`append ${n} failed`);
      writes.push({ records: records.map((r) => r[0]!), sync });
      events.push(`write ${records.map((r) => r[0]).join(',')}${sync ? ' sync' : ''}`);
    },
    persisted: (persists) => {
      for (const p of persists) recorded.push(p.n);
    },
  });
  return { queue, writes, recorded, events };
}

const acceptBatch: PersistBatch = { accepted: [{ slot: 1, ballot: { round: 1, node: 'a' }, value: new Uint8Array(0) }], chosen: [] } as unknown as PersistBatch;
const learnerBatch: PersistBatch = { accepted: [], chosen: [], commitIndex: 1 };
const persist = (n: number, batch = acceptBatch, bytes = 1) => {
  const record = new Uint8Array(bytes);
  record[0] = n;
  return { n, batch, record };
};

describe('WriteQueue', () => {
  it('a synchronous burst of persists is one write and one sync; they resolve in call order', async () => {
    const { queue, writes, recorded } = memoryLog();
    const resolved: number[] = [];
    await Promise.all([1, 2, 3, 4].map((n) => queue.persist(persist(n)).then(() => resolved.push(n))));
    expect(writes).toEqual([{ records: [1, 2, 3, 4], sync: true }]);
    expect(resolved).toEqual([1, 2, 3, 4]);
    expect(recorded).toEqual([1, 2, 3, 4]);
    expect(queue.stats).toEqual({ persists: 4, fsyncs: 1 });
  });

  it('a task runs alone, between the persists called before and after it', async () => {
    const { queue, events } = memoryLog();
    const done = [
      queue.persist(persist(1)),
      queue.task('t', true, async () => {
        events.push('task');
      }),
      queue.persist(persist(2)),
    ];
    await Promise.all(done);
    expect(events).toEqual(['write 1 sync', 'task', 'write 2 sync']);
  });

  it('learner-only persists need no sync: they wait for the next write, or for the byte bound', async () => {
    const { queue, writes } = memoryLog();
    await queue.persist(persist(1, learnerBatch));
    expect(writes).toEqual([]);
    await queue.persist(persist(2));
    expect(writes).toEqual([{ records: [1, 2], sync: true }]);
    await queue.persist(persist(3, learnerBatch, unwrittenBytesMax + 1));
    expect(writes.at(-1)).toEqual({ records: [3], sync: false });
    expect(queue.stats).toEqual({ persists: 3, fsyncs: 1 });
  });

  it('the first failed write fails the queue: that group and every later write reject with one StorageFailedError', async () => {
    const { queue, recorded } = memoryLog({ failAppend: (n) => n === 1 });
    await queue.persist(persist(1));
    const failing = [queue.persist(persist(2)), queue.persist(persist(3))];
    const after = queue.task('t', true, async () => 'ran');
    const results = await Promise.allSettled([...failing, after]);
    const failure = queue.failure;
    expect(failure).toBeInstanceOf(StorageFailedError);
    expect(failure?.message).toContain('TestLog.persist');
    for (const r of results) expect(r).toEqual({ status: 'rejected', reason: failure });
    await expect(queue.persist(persist(4))).rejects.toBe(failure);
    expect(recorded).toEqual([1]);
    // A task that does not write still runs.
    expect(await queue.task('load', false, async () => 'read')).toBe('read');
  });

  it("a writing task's failure fails the queue, unless it is an InvariantError or ConfigError (a refusal)", async () => {
    const { queue } = memoryLog();
    const refusal = new InvariantError('no');
    await expect(queue.task('compact', true, () => Promise.reject(refusal))).rejects.toBe(refusal);
    const config = new ConfigError('X', 'y', 'no');
    await expect(queue.task('drop', true, () => Promise.reject(config))).rejects.toBe(config);
    expect(queue.failure).toBeUndefined();
    await queue.persist(persist(1));
    await expect(queue.task('save', true, () => Promise.reject(new Error('disk')))).rejects.toBeInstanceOf(StorageFailedError);
    expect(queue.failure?.message).toContain('TestLog.save');
    await expect(queue.persist(persist(2))).rejects.toBe(queue.failure);
  });

  it('failWith fails later writes with the given error; idle waits for the queue to empty', async () => {
    const { queue, writes } = memoryLog();
    const p = queue.persist(persist(1));
    await queue.idle();
    await p;
    expect(writes).toHaveLength(1);
    const bug = new InvariantError('driver bug');
    queue.failWith(bug);
    await expect(queue.persist(persist(2))).rejects.toBe(bug);
    await expect(queue.task('t', true, async () => undefined)).rejects.toBe(bug);
  });
});
