/**
 * A compare-and-set workload over KV clients, recorded as a history for the
 * linearizability checker: what `npm start` and the membership demo run against real
 * server processes. Each worker reads a key, then writes it with `expectedVersion` set
 * to what it read, over a few shared keys, so conflicts are common. Every operation is
 * recorded with its start and end time and its outcome: ok, refused (a version conflict
 * is an ok answer), or unknown (timed out). Nothing deletes, so a key's final version
 * counts the writes it took: at least every acknowledged compare-and-set, at most those
 * plus the unknown ones.
 */
import type { KvClient } from '../../src/kv/client/index.js';
import { VersionConflictError } from '../../src/kv/index.js';
import { TimeoutError } from '../../src/runtime/index.js';
import { type KvInput, type KvOutput, type Operation, checkLinearizability, versionedKvModel } from '../../src/testing/index.js';

const text = new TextDecoder();

export class CasWorkload {
  readonly history: Operation<KvInput, KvOutput>[] = [];
  readonly latencies: number[] = [];
  readonly counts = { reads: 0, written: 0, conflicts: 0, unknown: 0 };
  private readonly acknowledged: Map<string, number>;
  private readonly unknown: Map<string, number>;
  private stopping = false;
  private running: Promise<void>[] = [];
  /** Called with the completion time of every acknowledged write. */
  onWrite: ((invokedAt: number, completedAt: number) => void) | undefined;

  constructor(readonly keys: readonly string[]) {
    this.acknowledged = new Map(keys.map((k) => [k, 0]));
    this.unknown = new Map(keys.map((k) => [k, 0]));
  }

  /** Starts `workers` workers, worker `i` on `clients[i % clients.length]`. */
  start(clients: readonly KvClient[], workers: number): void {
    this.running = Array.from({ length: workers }, (_, i) => this.worker(clients[i % clients.length]!, i));
  }

  /** Stops the workers and waits for their last operations. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.running);
  }

  private async worker(client: KvClient, index: number): Promise<void> {
    const name = `w${index}`;
    for (let n = 0; !this.stopping; n++) {
      const key = this.keys[(index * 7 + n) % this.keys.length]!;
      const version = await this.read(client, name, key);
      if (version === undefined) {
        // A read can fail at once (no server reachable): back off, or this loop of
        // promises alone would hold the event loop and starve every timer and socket.
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      if (this.stopping) continue;
      await this.compareAndSet(client, name, key, version, `${name}-${n}`);
    }
  }

  /** A linearizable read, recorded; undefined if it failed (it changed nothing, so nothing is recorded). */
  async read(client: KvClient, worker: string, key: string): Promise<number | undefined> {
    const invokedAt = performance.now();
    try {
      const kv = await client.get(key);
      this.counts.reads++;
      this.history.push({
        client: worker,
        key,
        input: { op: 'get' },
        invokedAt,
        completedAt: performance.now(),
        outcome: 'ok',
        output: kv === undefined ? { type: 'absent' } : { type: 'value', value: text.decode(kv.value), version: kv.version },
      });
      return kv?.version ?? 0;
    } catch {
      return undefined;
    }
  }

  private async compareAndSet(client: KvClient, worker: string, key: string, expectedVersion: number, value: string): Promise<void> {
    const invokedAt = performance.now();
    const input: KvInput = { op: 'put', value, expectedVersion };
    try {
      const { version } = await client.put(key, value, { expectedVersion });
      const completedAt = performance.now();
      this.latencies.push(completedAt - invokedAt);
      this.counts.written++;
      this.acknowledged.set(key, this.acknowledged.get(key)! + 1);
      this.onWrite?.(invokedAt, completedAt);
      this.history.push({ client: worker, key, input, invokedAt, completedAt, outcome: 'ok', output: { type: 'written', version } });
    } catch (error) {
      const completedAt = performance.now();
      if (error instanceof VersionConflictError) {
        this.latencies.push(completedAt - invokedAt);
        this.counts.conflicts++;
        this.history.push({ client: worker, key, input, invokedAt, completedAt, outcome: 'ok', output: { type: 'conflict', version: error.currentVersion } });
      } else {
        // Timed out or cut off: it may have taken effect, at any time after it began.
        this.counts.unknown++;
        this.unknown.set(key, this.unknown.get(key)! + 1);
        this.history.push({ client: worker, key, input, invokedAt, outcome: 'info' });
      }
    }
  }

  /**
   * Reads every key once more through `client` and checks the history: linearizable, no
   * acknowledged write lost, none applied twice. Prints one line per check; returns
   * whether all held.
   */
  async verify(client: KvClient, check: (ok: boolean, what: string) => void): Promise<void> {
    const finals = new Map<string, number>();
    for (const key of this.keys) {
      const invokedAt = performance.now();
      const kv = await client.get(key);
      this.history.push({
        client: 'final',
        key,
        input: { op: 'get' },
        invokedAt,
        completedAt: performance.now(),
        outcome: 'ok',
        output: kv === undefined ? { type: 'absent' } : { type: 'value', value: text.decode(kv.value), version: kv.version },
      });
      finals.set(key, kv?.version ?? 0);
    }
    const checkStart = performance.now();
    const verdict = checkLinearizability(this.history, versionedKvModel, { timeBudgetMs: 60_000 });
    console.log(`history: ${this.history.length} operations on ${this.keys.length} keys, checked in ${Math.round(performance.now() - checkStart)} ms`);
    check(
      verdict.result === 'linearizable',
      `the history is linearizable${verdict.result === 'not-linearizable' ? `: key ${verdict.key} fails with ${JSON.stringify(verdict.minimal)}` : verdict.result === 'unknown' ? ` (unknown: ${verdict.reason})` : ''}`,
    );
    const lost = this.keys.filter((k) => finals.get(k)! < this.acknowledged.get(k)!);
    const extra = this.keys.filter((k) => finals.get(k)! > this.acknowledged.get(k)! + this.unknown.get(k)!);
    check(
      lost.length === 0,
      `no acknowledged write lost (every key's final version >= its acknowledged writes)${lost.length > 0 ? `: ${lost.join(', ')}` : ''}`,
    );
    check(extra.length === 0, `no write applied twice (final version <= acknowledged + unknown writes)${extra.length > 0 ? `: ${extra.join(', ')}` : ''}`);
  }
}

/**
 * Waits until a new cluster serves a write through `client` (it first elects a leader,
 * and each process may still be loading its code), up to 30 s; returns how long it took.
 */
export async function firstWrite(client: KvClient): Promise<number> {
  const booted = performance.now();
  for (;;) {
    try {
      await client.put('warmup', 'x');
      return performance.now() - booted;
    } catch (error) {
      if (!(error instanceof TimeoutError) || performance.now() - booted > 30_000) throw error;
    }
  }
}

/** The `p`-th percentile of `values`. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}
