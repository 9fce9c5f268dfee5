/**
 * The parent's side of test/zk/c-client-worker.ts: starts one C client session in a
 * process of its own and gathers what it reports into operations of a znode history.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Operation, ZnodeInput, ZnodeOutput } from '../../src/testing/index.js';
import { root } from '../cli/cli-processes.js';

/** What a C client session process reported so far. */
export interface CClientProcess {
  readonly child: ChildProcess;
  /** Its session id (`0x...`), and its ephemeral node's path: '' until it opened them. */
  readonly session: string;
  readonly ephemeral: string;
  /** Its operations answered, or whose answer never came (`info`), as the history wants them. */
  readonly ops: Operation<ZnodeInput, ZnodeOutput>[];
  /** Answers that are neither one of the model's errors nor a lost connection. */
  readonly unexpected: number[];
  /** It finished its last operation after its stdin closed. */
  readonly done: boolean;
  /** The end of what it wrote on stdout (the binding's log) and stderr. */
  readonly stderr: string;
  /** Ends it: closes its stdin, waits up to `ms` for its last operation, and records one still unanswered as `info`. */
  finish(ms: number): Promise<void>;
}

/**
 * Starts session `worker` on `hosts` (`host:port,...`) working on `keys`. Its times (the
 * machine's clock) become this process's `performance.now()` time line, each interval
 * widened by a millisecond each way for the two clocks' rounding: that can only hide an
 * anomaly, never make one.
 */
export function startCClientProcess(hosts: string, worker: number, seed: number, keys: readonly string[], client = `c${worker}`): CClientProcess {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(root, 'test', 'zk', 'c-client-worker.ts'), hosts, String(worker), String(seed), keys.join(',')],
    { cwd: root, stdio: ['pipe', 'pipe', 'pipe', 'pipe'] },
  );
  const local = (at: number) => at - performance.timeOrigin;
  const invoked = new Map<number, { key: string; input: ZnodeInput; invokedAt: number }>();
  const state = {
    child,
    session: '',
    ephemeral: '',
    ops: [] as Operation<ZnodeInput, ZnodeOutput>[],
    unexpected: [] as number[],
    done: false,
    stderr: '',
    async finish(ms: number): Promise<void> {
      child.stdin!.end();
      for (const deadline = performance.now() + ms; !state.done && performance.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
      for (const { key, input, invokedAt } of invoked.values()) state.ops.push({ client, key, input, invokedAt: local(invokedAt) - 1, outcome: 'info' });
      invoked.clear();
    },
  };
  // The binding's log (stdout, from C) and the process's errors, for a failure's message.
  const keep = (b: Buffer) => (state.stderr = (state.stderr + b.toString('utf8')).slice(-4096));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  createInterface({ input: child.stdio[3] as Readable }).on('line', (line) => {
    const m = JSON.parse(line) as {
      session?: string;
      ephemeral?: string;
      invoke?: { id: number; key: string; input: ZnodeInput; invokedAt: number };
      complete?: { id: number; completedAt: number; output: ZnodeOutput | 'info' };
      unexpected?: number;
      done?: boolean;
    };
    if (m.session !== undefined) Object.assign(state, { session: m.session, ephemeral: m.ephemeral });
    if (m.invoke !== undefined) invoked.set(m.invoke.id, m.invoke);
    if (m.complete !== undefined) {
      const { key, input, invokedAt } = invoked.get(m.complete.id)!;
      invoked.delete(m.complete.id);
      const { output, completedAt } = m.complete;
      state.ops.push(
        output === 'info'
          ? { client, key, input, invokedAt: local(invokedAt) - 1, outcome: 'info' }
          : { client, key, input, invokedAt: local(invokedAt) - 1, completedAt: local(completedAt) + 1, outcome: 'ok', output },
      );
    }
    if (m.unexpected !== undefined) state.unexpected.push(m.unexpected);
    if (m.done === true) state.done = true;
  });
  return state;
}
