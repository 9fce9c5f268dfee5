/**
 * The nemesis workload: concurrent workers doing get, put, compare-and-set and delete on
 * a few keys through KvClients, each operation recorded with its real-time bounds for
 * the linearizability check (a write whose outcome is unknown as `info`).
 */
import type { KvClient } from '../../../src/kv/client/index.js';
import { VersionConflictError } from '../../../src/kv/index.js';
import type { KvInput, KvOutput, Operation, Prng } from '../../../src/testing/index.js';

/** The keys the workers write, unless told others. */
const defaultKeys = ['x', 'y', 'z'];

const text = new TextDecoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Workload {
  /** Every operation so far, completed or of unknown outcome. */
  readonly history: Operation<KvInput, KvOutput>[];
  /** Stops the workers after their current operation; resolves once they have. */
  stop(): Promise<void>;
}

/** Starts `workers` workers (worker i uses client i mod the number of clients), drawing their operations from `random`. */
export function startWorkload(clients: readonly KvClient[], random: Prng, workers = 10, workloadKeys: readonly string[] = defaultKeys): Workload {
  const history: Operation<KvInput, KvOutput>[] = [];
  let running = true;
  const worker = async (index: number) => {
    const client = clients[index % clients.length]!;
    const name = `w${index}`;
    const versions = new Map<string, number>();
    for (let n = 0; running; n++) {
      const key = workloadKeys[random.int(workloadKeys.length)]!;
      const roll = random.next();
      const value = `${name}-${n}`;
      const input: KvInput =
        roll < 0.4
          ? { op: 'get' }
          : roll < 0.6
            ? { op: 'put', value }
            : roll < 0.9
              ? { op: 'put', value, expectedVersion: versions.get(key) ?? 0 }
              : { op: 'delete' };
      const invokedAt = performance.now();
      try {
        let output: KvOutput;
        if (input.op === 'get') {
          const kv = await client.get(key);
          output = kv === undefined ? { type: 'absent' } : { type: 'value', value: text.decode(kv.value), version: kv.version };
          versions.set(key, kv?.version ?? 0);
        } else if (input.op === 'put') {
          const r = await client.put(key, input.value, input.expectedVersion === undefined ? {} : { expectedVersion: input.expectedVersion });
          output = { type: 'written', version: r.version };
          versions.set(key, r.version);
        } else {
          const r = await client.delete(key);
          output = r.deleted ? { type: 'deleted' } : { type: 'absent' };
        }
        history.push({ client: name, key, input, invokedAt, completedAt: performance.now(), outcome: 'ok', output });
      } catch (error) {
        if (error instanceof VersionConflictError) {
          versions.set(key, error.currentVersion);
          history.push({
            client: name,
            key,
            input,
            invokedAt,
            completedAt: performance.now(),
            outcome: 'ok',
            output: { type: 'conflict', version: error.currentVersion },
          });
        } else if (input.op !== 'get') {
          // A write whose outcome is unknown may take effect at any later time, or never.
          history.push({ client: name, key, input, invokedAt, outcome: 'info' });
        }
        await sleep(20);
      }
    }
  };
  const finished = Array.from({ length: workers }, (_, i) => worker(i));
  return {
    history,
    async stop() {
      running = false;
      await Promise.all(finished);
    },
  };
}

/** Reads every key linearizably through `client` and adds the reads to `history`: an acknowledged write missing here is lost. */
export async function readFinalValues(client: KvClient, history: Operation<KvInput, KvOutput>[], workloadKeys: readonly string[] = defaultKeys): Promise<void> {
  for (const key of workloadKeys) {
    const invokedAt = performance.now();
    const kv = await client.get(key, { timeoutMs: 10_000 });
    history.push({
      client: 'final',
      key,
      input: { op: 'get' },
      invokedAt,
      completedAt: performance.now(),
      outcome: 'ok',
      output: kv === undefined ? { type: 'absent' } : { type: 'value', value: text.decode(kv.value), version: kv.version },
    });
  }
}

/** Puts a probe until one succeeds or `boundMs` passes: how long the cluster took to serve a write again, or undefined. */
export async function servedAgainWithin(client: KvClient, boundMs: number): Promise<number | undefined> {
  const from = performance.now();
  while (performance.now() - from < boundMs) {
    try {
      await client.put('probe', 'after the nemesis', { timeoutMs: 2_000 });
      return performance.now() - from;
    } catch {
      await sleep(100);
    }
  }
  return undefined;
}
