/** Runs KV operations on a sharded KV and records each in a history the linearizability checker reads. */
import { type ShardedKv, VersionConflictError } from '../../../src/kv/index.js';
import type { KvInput, KvOutput, Operation } from '../../../src/testing/index.js';

export type KvHistory = Operation<KvInput, KvOutput>[];

/**
 * A function that runs `input` on `key` through `kv` and records it in `history`, with
 * the times `now` gives: `ok` with what it returned (a version conflict included), or
 * `info` for a write that timed out or was refused on the way (it may still take effect).
 */
export function kvRecorder(history: KvHistory, now: () => number, timeoutMs = 500) {
  return async (client: string, kv: ShardedKv, key: string, input: KvInput): Promise<void> => {
    const invokedAt = now();
    let output: KvOutput;
    try {
      if (input.op === 'get') {
        const found = await kv.get(key, { timeoutMs });
        output = found === undefined ? { type: 'absent' } : { type: 'value', value: new TextDecoder().decode(found.value), version: found.version };
      } else if (input.op === 'put') {
        const options = { timeoutMs, ...(input.expectedVersion === undefined ? {} : { expectedVersion: input.expectedVersion }) };
        output = { type: 'written', version: (await kv.put(key, input.value, options)).version };
      } else {
        const options = { timeoutMs, ...(input.expectedVersion === undefined ? {} : { expectedVersion: input.expectedVersion }) };
        output = (await kv.delete(key, options)).deleted ? { type: 'deleted' } : { type: 'absent' };
      }
    } catch (error) {
      if (error instanceof VersionConflictError) output = { type: 'conflict', version: error.currentVersion };
      else {
        if (input.op !== 'get') history.push({ client, key, input, invokedAt, outcome: 'info' });
        return;
      }
    }
    history.push({ client, key, input, invokedAt, completedAt: now(), outcome: 'ok', output });
  };
}
