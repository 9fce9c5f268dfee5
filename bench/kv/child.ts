/**
 * The KV benchmark's handle on one of its child processes (a server, the echo server,
 * the load generator). Each runs as `node --import <tsx loader> <script>`, so its pid
 * is the script's own (its CPU time is its own, not a wrapper's), with an IPC channel:
 * the child says `ready` once, then answers requests one by one (see `parent.ts`).
 *
 * No child outlives the benchmark: every child alive is SIGKILLed when this process
 * exits, however it exits (a signal included), then the cleanups registered with
 * {@link atExit} run; and a child exits by itself once its IPC channel closes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

/** How long a child may take to start or to answer a request, in ms. */
const answerMsMax = 30_000;
/** How long a child may take to exit once asked, in ms, before it is killed. */
const exitMsMax = 5_000;
/** The stderr a failed child's error quotes, at most, in characters (its tail). */
const stderrCharsMax = 4_000;

/** tsx's ESM loader, resolved from this file, so a child starts from any working directory. */
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

const live = new Set<ChildProcess>();
const cleanups: (() => void)[] = [];
let hooked = false;

/** Kills every child left, then runs the cleanups; on exit, so synchronous only. */
function onExit(): void {
  for (const proc of live) proc.kill('SIGKILL');
  live.clear();
  for (const cleanup of cleanups.splice(0)) {
    try {
      cleanup();
    } catch {
      // Best effort: the process is exiting anyway.
    }
  }
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', onExit);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => process.exit(130));
}

/** Runs `cleanup` (synchronous) when this process exits, after every child was killed. */
export function atExit(cleanup: () => void): void {
  hookExit();
  cleanups.push(cleanup);
}

/** `promise`, or a rejection naming `what` after `ms`. */
async function within<T>(promise: Promise<T>, what: string, ms = answerMsMax): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A message from a child: its `ready`, or the answer to request `id`. */
type FromChild = { readonly ready: unknown } | { readonly id: number; readonly result?: unknown; readonly error?: string };

/** A spawned child and its IPC channel. */
export class Child {
  readonly pid: number;
  private readonly proc: ChildProcess;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();
  private stderr = '';
  private readonly readyAnswer: Promise<unknown>;
  /** Resolves once the process is gone. */
  private readonly gone: Promise<void>;
  /** Rejects once the process is gone, with its stderr. */
  private readonly exited: Promise<never>;

  /**
   * Starts `script` with `args`; `nodeFlags` go before the loader (`--cpu-prof`, say).
   * `name` names the child in errors.
   */
  constructor(
    readonly name: string,
    script: string,
    args: readonly string[],
    nodeFlags: readonly string[] = [],
  ) {
    hookExit();
    this.proc = spawn(process.execPath, [...nodeFlags, '--import', tsxLoader, script, ...args], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    if (this.proc.pid === undefined) throw new Error(`${name}: could not spawn ${script}`);
    this.pid = this.proc.pid;
    live.add(this.proc);
    this.proc.stderr!.setEncoding('utf8');
    this.proc.stderr!.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-stderrCharsMax);
    });
    let ready: (value: unknown) => void = () => {};
    this.readyAnswer = new Promise((resolve) => (ready = resolve));
    this.proc.on('message', (m: FromChild) => {
      if ('ready' in m) return ready(m.ready);
      const w = this.waiting.get(m.id);
      if (w === undefined) return;
      this.waiting.delete(m.id);
      if (m.error !== undefined) w.reject(new Error(`${this.name}: ${m.error}`));
      else w.resolve(m.result);
    });
    // Sending to a child that died already must not throw out of the benchmark.
    this.proc.on('error', () => {});
    this.gone = new Promise((resolve) => this.proc.once('exit', () => resolve()));
    this.exited = this.gone.then(() => {
      live.delete(this.proc);
      const error = new Error(
        `${this.name} (pid ${this.pid}) exited (code ${this.proc.exitCode}, signal ${this.proc.signalCode})${this.stderr === '' ? '' : `:\n${this.stderr}`}`,
      );
      for (const w of this.waiting.values()) w.reject(error);
      this.waiting.clear();
      throw error;
    });
    this.exited.catch(() => {});
  }

  /** What the child said once started. */
  ready<T>(): Promise<T> {
    return within(Promise.race([this.readyAnswer, this.exited]), `${this.name}, starting`) as Promise<T>;
  }

  /** Sends request `op` (with `body`) and returns the child's answer. */
  ask<T>(op: string, body: object = {}, ms = answerMsMax): Promise<T> {
    const id = this.nextId++;
    const answer = new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (result: unknown) => void, reject });
    });
    if (!this.proc.connected) return Promise.race([answer, this.exited]);
    this.proc.send({ id, op, ...body });
    return within(Promise.race([answer, this.exited]), `${this.name}, ${op}`, ms);
  }

  /** Closes the IPC channel (the child then winds down and exits); kills it if it lingers. */
  async close(): Promise<void> {
    if (!live.has(this.proc)) return;
    if (this.proc.connected) this.proc.disconnect();
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), exitMsMax);
    await this.gone;
    clearTimeout(timer);
  }
}
