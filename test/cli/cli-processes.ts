/**
 * Test helpers: the `synod` command and its servers as real processes. Node itself
 * runs them (`node --import tsx`), not the tsx command, whose SIGKILL would leave its
 * child serving.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
/** The command line that runs `synod` under node itself. */
export const synodCommand = [process.execPath, '--import', 'tsx', join(root, 'src', 'cli', 'synod.ts')] as const;
const command = synodCommand;

/** Runs `synod ARGS --config CONFIG` to its end. */
export function synod(configPath: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(command[0], [...command.slice(1), ...args, '--config', configPath], { cwd: root, timeout: 60_000 }, (error, stdout, stderr) => {
      done({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr });
    });
  });
}

/** The `synod serve` processes a test started, all killed by {@link killAll}. */
export class ServerProcesses {
  private readonly children: ChildProcess[] = [];

  /** The last 4 KiB each server wrote (stdout and stderr), to say why one did not come up. */
  private readonly output = new Map<ChildProcess, string>();

  /** Starts `synod serve --config CONFIG --id ID EXTRA`. */
  serve(configPath: string, id: string, extra: readonly string[] = []): ChildProcess {
    const child = spawn(command[0], [...command.slice(1), 'serve', '--config', configPath, '--id', id, ...extra], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.children.push(child);
    this.output.set(child, '');
    const keep = (b: Buffer): void => void this.output.set(child, (this.output.get(child)! + b.toString('utf8')).slice(-4096));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    return child;
  }

  /** How `child` is doing, for a failure message: running or its exit, and what it wrote last. */
  describe(child: ChildProcess): string {
    const state = child.exitCode !== null || child.signalCode !== null ? `exited (${child.exitCode ?? child.signalCode})` : 'running';
    return `${state}; its output ends:\n${this.output.get(child) ?? ''}`;
  }

  async killAll(): Promise<void> {
    await Promise.all(this.children.map((c) => exit(c, 'SIGKILL')));
  }
}

/** Sends `signal` to `child` and resolves once it exited (at once if it had). */
export async function exit(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
}

/** Waits until `done` says yes (a throw is a no), for at most `ms`. */
export async function until(what: string, ms: number, done: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await done().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A local cluster run by `synod cluster up` as a child process, and the `synod` command against it. */
export interface LocalCluster {
  /** Where its cluster file, secrets and data are (`DIR/.synod`). */
  readonly dir: string;
  /** Runs `synod ARGS --config DIR/.synod/cluster.json` to its end. */
  synod(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Stops the cluster (Ctrl-C) and deletes its directory. */
  stop(): Promise<void>;
}

/** Runs `synod cluster up EXTRA` in a new directory; resolves once every member answers `synod status`. */
export async function startLocalCluster(extra: readonly string[] = []): Promise<LocalCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'synod-cli-'));
  const up = spawn(command[0], [...command.slice(1), 'cluster', 'up', '--dir', join(dir, '.synod'), ...extra], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run = (...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
      execFile(
        command[0],
        [...command.slice(1), ...args, '--config', join(dir, '.synod', 'cluster.json')],
        { cwd: root, timeout: 30_000 },
        (error, stdout, stderr) => {
          done({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr });
        },
      );
    });
  const stop = async () => {
    if (up.exitCode === null) {
      const exited = new Promise((r) => up.once('exit', r));
      up.kill('SIGINT');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 60; i++) {
    await new Promise((r) => setTimeout(r, 500));
    if ((await run('status')).code === 0) return { dir, synod: run, stop };
  }
  await stop();
  throw new Error(`the local cluster (${extra.join(' ')}) did not come up`);
}
