/**
 * The benchmark's handle on a sink process (`sink.ts`): spawns it with this process's
 * own node flags (so under tsx when the benchmark runs under tsx, and under
 * `--cpu-prof` when it does), talks to it one JSON line at a time, and makes sure it
 * never outlives the benchmark: killed when this process exits, however it exits (and
 * the sink exits by itself when its stdin ends).
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Variant } from './endpoint.js';

/** How long a sink may take to start or to answer, and anything else to finish, in ms. */
const waitMsMax = 10_000;

const sinkScript = fileURLToPath(new URL('./sink.ts', import.meta.url));

/** `promise`, or a rejection naming `what` after {@link waitMsMax}. */
export async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${waitMsMax} ms`)), waitMsMax);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Every sink alive. */
const live = new Set<ChildProcessWithoutNullStreams>();

function killAll(): void {
  for (const proc of live) proc.kill('SIGKILL');
}

process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(130);
  });
}

/** A spawned sink and its control channel: one line asked, one line answered, in turn. */
export class SinkProcess {
  private readonly proc: ChildProcessWithoutNullStreams;
  private partial = '';
  private stderr = '';
  private readonly lines: string[] = [];
  private waiting: ((line: string) => void) | undefined;
  /** Rejects once the process is gone, with its stderr. */
  private readonly exited: Promise<never>;

  constructor(readonly variant: Variant) {
    this.proc = spawn(process.execPath, [...process.execArgv, sinkScript, variant], { stdio: ['pipe', 'pipe', 'pipe'] });
    live.add(this.proc);
    this.proc.stdout.setEncoding('utf8');
    this.proc.stdout.on('data', (chunk: string) => this.onData(chunk));
    this.proc.stderr.setEncoding('utf8');
    this.proc.stderr.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    // Writing to a sink that died already must not throw out of the benchmark.
    this.proc.stdin.on('error', () => {});
    this.exited = new Promise<never>((_, reject) => {
      this.proc.on('close', (code, signal) => {
        live.delete(this.proc);
        reject(new Error(`the ${variant} sink exited (code ${code}, signal ${signal}): ${this.stderr}`));
      });
    });
    this.exited.catch(() => {});
  }

  private onData(chunk: string): void {
    this.partial += chunk;
    const parts = this.partial.split('\n');
    this.partial = parts.pop()!;
    for (const line of parts) {
      const waiting = this.waiting;
      this.waiting = undefined;
      if (waiting !== undefined) waiting(line);
      else this.lines.push(line);
    }
  }

  /** The next line the sink writes, parsed. */
  async next<T>(what: string): Promise<T> {
    const queued = this.lines.shift();
    if (queued !== undefined) return JSON.parse(queued) as T;
    const line = new Promise<string>((resolve) => {
      this.waiting = resolve;
    });
    return JSON.parse(await within(Promise.race([line, this.exited]), `the ${this.variant} sink, ${what}`)) as T;
  }

  /** Sends `command` and returns the sink's answer. */
  ask<T>(command: object): Promise<T> {
    const line = JSON.stringify(command);
    this.proc.stdin.write(`${line}\n`);
    return this.next<T>(line);
  }

  /** Asks the sink to exit; kills it if it has not within a second. */
  async close(): Promise<void> {
    if (!live.has(this.proc)) return;
    this.proc.stdin.end(`${JSON.stringify({ op: 'exit' })}\n`);
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 1000);
    await this.exited.catch(() => {});
    clearTimeout(timer);
  }
}
