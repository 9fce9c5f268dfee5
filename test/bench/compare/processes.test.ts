/**
 * The comparison benchmark stops only the servers it started: a recorded PID is
 * signalled only while the process holding it has the recorded start time, so a PID
 * reused by someone else's process is left alone.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isRunning, killServersNow, restartServer, type ServerProcess, startServer, stopServers } from '../../../bench/compare/processes.js';
import { processStartTicks } from '../../../bench/compare/proc-stat.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(os.tmpdir(), 'synod-compare-test-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function started(command: string, args: string[]): Promise<ServerProcess> {
  const server = await startServer('t', command, args, join(await tempDir(), 't.log'));
  cleanup.push(() => stopServers([server], 100));
  return server;
}

describe('stopServers', () => {
  it('stops a server it started, and records it by PID and start time', async () => {
    const server = await started('sleep', ['30']);
    expect(await processStartTicks(server.pid)).toBe(server.startTicks);
    expect(await isRunning(server)).toBe(true);
    await stopServers([server]);
    expect(await isRunning(server)).toBe(false);
  });

  it('leaves alone a process holding a recorded PID with another start time (the PID was reused)', async () => {
    // Not started through startServer: a stranger's process, as far as the record knows.
    const stranger = spawn('sleep', ['30'], { stdio: 'ignore' });
    const exited = new Promise((r) => stranger.once('exit', r));
    cleanup.push(async () => {
      stranger.kill('SIGKILL');
      await exited;
    });
    const startTicks = await processStartTicks(stranger.pid!);
    expect(startTicks).toBeDefined();
    const stale: ServerProcess = {
      member: 'old',
      pid: stranger.pid!,
      startTicks: startTicks! - 1,
      spawn: { command: 'sleep', args: ['30'], logPath: '/dev/null' },
    };
    await stopServers([stale], 100);
    // A signal, had one gone out, would have ended it by now.
    await new Promise((r) => setTimeout(r, 300));
    expect(stranger.exitCode).toBeNull();
    expect(stranger.signalCode).toBeNull();
    expect(await processStartTicks(stranger.pid!)).toBe(startTicks);
  });

  it('kills a server that ignores SIGTERM once the grace is over', async () => {
    const server = await started('bash', ['-c', "trap '' TERM; exec sleep 30"]);
    await stopServers([server], 200);
    expect(await isRunning(server)).toBe(false);
  });

  it('restarts a server the same way: the old process is gone, a new one runs the same command', async () => {
    const server = await started('sleep', ['30']);
    const again = await restartServer(server);
    cleanup.push(() => stopServers([again], 100));
    expect(await isRunning(server)).toBe(false);
    expect(await isRunning(again)).toBe(true);
    expect(again.pid).not.toBe(server.pid);
    expect(again.spawn).toEqual(server.spawn);
    expect((await readFile(`/proc/${again.pid}/cmdline`, 'utf8')).split('\0').slice(0, 2)).toEqual(['sleep', '30']);
  });

  it('says why a server that exits at once did not start', async () => {
    await expect(startServer('t', '/nonexistent/synod-compare-binary', [], join(await tempDir(), 't.log'))).rejects.toThrow(/could not start/);
  });
});

describe('killServersNow and killServersOnExit', () => {
  it('kill a recorded server at once, synchronously, and leave a stranger holding a recorded PID alone', async () => {
    const server = await started('sleep', ['30']);
    const stranger = spawn('sleep', ['30'], { stdio: 'ignore' });
    const exited = new Promise((r) => stranger.once('exit', r));
    cleanup.push(async () => {
      stranger.kill('SIGKILL');
      await exited;
    });
    const strangerTicks = await processStartTicks(stranger.pid!);
    killServersNow([
      server,
      { member: 'old', pid: stranger.pid!, startTicks: strangerTicks! - 1, spawn: { command: 'sleep', args: ['30'], logPath: '/dev/null' } },
    ]);
    await new Promise((r) => setTimeout(r, 300));
    expect(await isRunning(server)).toBe(false);
    expect(stranger.exitCode).toBeNull();
    expect(stranger.signalCode).toBeNull();
  });

  it('take the servers down with a harness that dies of an uncaught error', async () => {
    const dir = await tempDir();
    const fixture = join(import.meta.dirname, 'fixtures', 'crashing-harness.ts');
    const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((done) => {
      const child = execFile(process.execPath, ['--import', 'tsx', fixture, dir], { timeout: 30_000 }, (_error, out) =>
        done({ code: child.exitCode, stdout: out }),
      );
    });
    expect(code).not.toBe(0);
    const pid = Number(stdout.trim());
    expect(Number.isInteger(pid) && pid > 1).toBe(true);
    // Reaped by init once killed; give it a moment.
    await new Promise((r) => setTimeout(r, 300));
    expect(await processStartTicks(pid)).toBeUndefined();
  });
});
