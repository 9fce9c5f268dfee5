/**
 * The server processes the comparison starts, recorded so that only they are ever
 * stopped: each by its PID and its start time in clock ticks since boot (field 22 of
 * `/proc/PID/stat`), so a PID the kernel has handed to another process since is left
 * alone.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parseProcessStat, processStartTicks } from './proc-stat.js';

/** A process this harness started. */
export interface ServerProcess {
  /** Which member it is (`e0`, `z1`, `a`, ...). */
  readonly member: string;
  readonly pid: number;
  /** Its start, in clock ticks after boot: with the PID, what tells it from a later process given the same PID. */
  readonly startTicks: number;
  /** How it was started, so that it can be started again the same way ({@link restartServer}). */
  readonly spawn: { readonly command: string; readonly args: readonly string[]; readonly logPath: string; readonly cwd?: string };
}

/**
 * Starts `command args` detached (its own process group, surviving this process), its
 * output appended to `logPath`, run in `cwd` (default: this process's); resolves once its start time is readable.
 */
export async function startServer(member: string, command: string, args: readonly string[], logPath: string, cwd?: string): Promise<ServerProcess> {
  const log = openSync(logPath, 'a');
  try {
    const child = spawn(command, args, { detached: true, stdio: ['ignore', log, log], ...(cwd === undefined ? {} : { cwd }) });
    const pid = child.pid;
    if (pid === undefined) {
      const error = await new Promise<Error>((resolve) => child.once('error', resolve));
      throw new Error(`could not start ${command} for ${member}: ${error.message}`);
    }
    child.unref();
    const startTicks = await processStartTicks(pid);
    if (startTicks === undefined) throw new Error(`${command} for ${member} (pid ${pid}) exited at once; see ${logPath}`);
    return { member, pid, startTicks, spawn: { command, args, logPath, ...(cwd === undefined ? {} : { cwd }) } };
  } finally {
    closeSync(log);
  }
}

/** Stops `server` (SIGTERM, as {@link stopServers}) and starts it again with the same command, arguments, log and directory. */
export async function restartServer(server: ServerProcess): Promise<ServerProcess> {
  await stopServers([server]);
  const { command, args, logPath, cwd } = server.spawn;
  return startServer(server.member, command, args, logPath, cwd);
}

/** Whether `server` is still the very process that was started (same PID, same start time). */
export async function isRunning(server: ServerProcess): Promise<boolean> {
  return (await processStartTicks(server.pid)) === server.startTicks;
}

/**
 * Stops the recorded servers: SIGTERM, then SIGKILL after `graceMs` (ms, default 5,000)
 * for any still running. A PID now held by some other process is not signalled.
 * Resolves once all have exited.
 */
export async function stopServers(servers: readonly ServerProcess[], graceMs = 5_000): Promise<void> {
  const signal = async (server: ServerProcess, name: NodeJS.Signals): Promise<void> => {
    if (!(await isRunning(server))) return;
    try {
      process.kill(server.pid, name);
    } catch {
      // Exited between the check and the signal.
    }
  };
  await Promise.all(servers.map((s) => signal(s, 'SIGTERM')));
  const deadline = Date.now() + graceMs;
  for (;;) {
    const alive = (await Promise.all(servers.map(isRunning))).some(Boolean);
    if (!alive) return;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await Promise.all(servers.map((s) => signal(s, 'SIGKILL')));
  while ((await Promise.all(servers.map(isRunning))).some(Boolean)) await new Promise((r) => setTimeout(r, 50));
}

/**
 * SIGKILLs at once, synchronously, each recorded server still running: for a process on
 * its way out (an `exit` handler), where nothing asynchronous runs any more. A PID now
 * held by another process is not signalled.
 */
export function killServersNow(servers: readonly ServerProcess[]): void {
  for (const server of servers) {
    let text: string;
    try {
      text = readFileSync(`/proc/${server.pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    const stat = parseProcessStat(text);
    if (stat.state === 'Z' || stat.startTicks !== server.startTicks) continue;
    try {
      process.kill(server.pid, 'SIGKILL');
    } catch {
      // Exited between the check and the signal.
    }
  }
}

/**
 * Makes sure the servers `current()` lists die with this process however it ends (a
 * thrown error, a closed stdout, `process.exit`), except by SIGKILL: an `exit` handler
 * kills those still running. The orderly way, {@link stopServers}, lets them shut down.
 */
export function killServersOnExit(current: () => readonly ServerProcess[]): void {
  process.once('exit', () => killServersNow(current()));
}

/** The last `lines` lines of a log file, for an error message. */
export async function logTail(path: string, lines = 20): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text
    .split('\n')
    .slice(-lines - 1)
    .join('\n');
}
