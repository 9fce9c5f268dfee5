/**
 * The KV server processes of a nemesis run (each one `server-process.ts`): started,
 * restarted, signalled and killed by id. A server may be started through a command
 * prefix (`ip netns exec NS`), which must exec node in place: the pid signalled is then
 * node's, which `start` checks.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readlinkSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClusterConfig } from '../../../src/cli/cluster-config.js';
import type { TcpAddress } from '../../../src/transport/tcp/index.js';

const here = resolve(fileURLToPath(new URL('.', import.meta.url)));

export interface ServerProcessesOptions {
  /** The command that runs node for member `id`, before node's own arguments. Default none: node is spawned directly. */
  readonly prefix?: (id: string) => readonly string[];
}

export class ServerProcesses {
  readonly children = new Map<string, ChildProcess>();
  /** How to start each member that joined after the cluster file was written (its JOIN argument). */
  readonly joinArgs = new Map<string, string>();

  constructor(
    private readonly config: ClusterConfig,
    private readonly options: ServerProcessesOptions = {},
  ) {}

  /** Starts member `id` and waits until it serves (or was killed while starting, which is no failure). */
  async start(id: string): Promise<void> {
    // A SIGKILLed process dies only when the kernel lets it (not inside an fsync, say):
    // until then it holds its lock and ports, so wait as a supervisor would.
    const previous = this.children.get(id);
    if (previous !== undefined && previous.exitCode === null && previous.signalCode === null) await once(previous, 'exit');
    const joining = this.joinArgs.get(id);
    const node = [process.execPath, '--import', 'tsx', join(here, 'server-process.ts'), this.config.path, id, ...(joining === undefined ? [] : [joining])];
    const prefix = this.options.prefix?.(id) ?? [];
    const [command, ...args] = [...prefix, ...node];
    const child = spawn(command!, args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    this.children.set(id, child);
    // The end of what it printed (an uncaught error's stack): named when it exits while starting.
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4_000);
    });
    let started = false;
    await new Promise<void>((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`server ${id} did not start`)), 30_000);
      child.once('message', () => {
        clearTimeout(timer);
        started = true;
        done();
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        // Killed while starting (the membership nemesis retired it): not a failure.
        if (signal === null) fail(new Error(`server ${id} exited with ${code} while starting; it printed:\n${stderr}`));
        else done();
      });
    });
    if (started && prefix.length > 0) {
      // Signals go to this pid: it must be node's, not a wrapper's that would outlive a SIGKILL.
      const exe = readlinkSync(`/proc/${child.pid}/exe`);
      if (exe !== realpathSync(process.execPath))
        throw new Error(`server ${id}: pid ${child.pid} runs ${exe}, not node (${process.execPath}): \`${prefix.join(' ')}\` must exec in place`);
    }
  }

  /** Whether member `id`'s process runs (paused counts as running). */
  alive(id: string): boolean {
    const child = this.children.get(id);
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** Sends `signal` to member `id`'s process, if it was started. */
  kill(id: string, signal: NodeJS.Signals): void {
    this.children.get(id)?.kill(signal);
  }

  /** The client address of a member that joined during the run. */
  joinedClient(id: string): TcpAddress {
    const { client } = JSON.parse(this.joinArgs.get(id)!) as { client: string };
    const [host, port] = client.split(':');
    return { host: host!, port: Number(port) };
  }

  /** SIGKILLs every process (resumed first, in case it was paused) and waits until each has exited. */
  async killAll(): Promise<void> {
    const exits = [...this.children.values()].map((child) =>
      child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((done) => child.once('exit', done)),
    );
    for (const child of this.children.values()) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
    await Promise.all(exits);
  }
}
