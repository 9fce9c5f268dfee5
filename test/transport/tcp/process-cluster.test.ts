/**
 * Three synod nodes in three OS processes on 127.0.0.1, over TcpTransport with a shared
 * secret and FileStorage: they elect a leader and commit. The leader is killed with
 * SIGKILL and the other two go on; it is restarted from its directory on its port and
 * catches up. Then the same for the node that never dials. Every acknowledged command
 * is applied exactly once, in the same order, on all three.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { freePorts } from './helpers.js';
import type { Request, StatusReply } from './process-node.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const childFile = fileURLToPath(new URL('./process-node.ts', import.meta.url));
const secret = randomBytes(32).toString('base64');
type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

/** One child process running a node, and its IPC requests in flight. */
class Child {
  private nextId = 1;
  private readonly waiting = new Map<number, (reply: Record<string, unknown>) => void>();
  readonly ready: Promise<void>;
  exited = false;
  stderr = '';

  constructor(
    readonly id: string,
    dir: string,
    ports: Record<string, number>,
  ) {
    const proc = spawn(process.execPath, ['--import', 'tsx', childFile, id, dir, JSON.stringify(ports)], {
      cwd: repoRoot,
      env: { ...process.env, SYNOD_SECRET: secret, NODE_OPTIONS: '' },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    this.proc = proc;
    proc.stderr!.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    proc.on('exit', () => {
      this.exited = true;
    });
    this.ready = new Promise((resolve, reject) => {
      proc.on('message', (m: Record<string, unknown>) => {
        if (m['ready'] === true) resolve();
        else this.waiting.get(m['id'] as number)?.(m);
      });
      proc.on('exit', (code) => reject(new Error(`node ${id} exited (${code}) before it was ready:\n${this.stderr}`)));
    });
  }

  readonly proc: ChildProcess;

  ask(request: DistributiveOmit<Request, 'id'>, timeoutMs = 5_000): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.exited) return reject(new Error(`node ${this.id} is not running`));
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`node ${this.id}: no answer to ${request.op} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, (reply) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(reply);
      });
      this.proc.send({ id, ...request });
    });
  }

  async status(): Promise<StatusReply> {
    return (await this.ask({ op: 'status' })).status as StatusReply;
  }

  kill(): Promise<void> {
    return new Promise((resolve) => {
      if (this.exited) return resolve();
      this.proc.once('exit', () => resolve());
      this.proc.kill('SIGKILL');
    });
  }
}

const ids = ['a', 'b', 'c'];
const children: Child[] = [];
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(children.map((c) => c.kill()));
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function until<T>(probe: () => Promise<T | undefined>, what: string, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The id of the leader every running node agrees on. */
async function agreedLeader(running: readonly Child[]): Promise<string> {
  return until(async () => {
    const statuses = await Promise.all(running.map((c) => c.status()));
    const at = statuses.findIndex((s) => s.role === 'leader');
    const leader = running[at]?.id;
    return leader !== undefined && statuses.every((s) => s.leader === leader) ? leader : undefined;
  }, 'a leader all running nodes agree on');
}

/**
 * Proposes `count` commands for client `client`, `parallel` at a time, each through the
 * running nodes in turn, retrying (same request id) until acknowledged.
 */
async function commit(running: readonly Child[], client: string, count: number, parallel = 8): Promise<string[]> {
  const acknowledged: string[] = [];
  let next = 0;
  const worker = async (w: number): Promise<void> => {
    for (let n = next++; n < count; n = next++) {
      for (let attempt = 0; ; attempt++) {
        if (attempt > 40) throw new Error(`${client}:${n} not acknowledged after 40 attempts`);
        const via = running[(n + attempt + w) % running.length]!;
        const reply = await via.ask({ op: 'propose', command: { client, n }, seq: n + 1 }).catch((error: unknown) => ({ error: String(error) }));
        if (reply['error'] === undefined) {
          acknowledged.push(`${client}:${n}`);
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, (_, w) => worker(w)));
  return acknowledged;
}

describe('three OS processes over TcpTransport', () => {
  it('commit; the leader, then the node that never dials, die by SIGKILL; the others go on; each restarted node catches up', async () => {
    const free = await freePorts(ids.length);
    const ports = Object.fromEntries(ids.map((id, i) => [id, free[i]!]));
    for (const id of ids) dirs.push(await mkdtemp(join(tmpdir(), `synod-process-${id}-`)));
    const start = (id: string): Child => {
      const child = new Child(id, dirs[ids.indexOf(id)]!, ports);
      children.push(child);
      return child;
    };
    const live = new Map(ids.map((id) => [id, start(id)]));
    await Promise.all([...live.values()].map((c) => c.ready));
    const acknowledged = await commit([...live.values()], 'first', 100);

    /** Kills `victim`, commits through the other two, restarts it and waits until it caught up. */
    const killCommitRestart = async (victim: string, client: string): Promise<StatusReply> => {
      await live.get(victim)!.kill();
      live.delete(victim);
      const survivors = [...live.values()];
      expect(await agreedLeader(survivors)).not.toBe(victim);
      acknowledged.push(...(await commit(survivors, client, 100)));
      const restarted = start(victim);
      await restarted.ready;
      live.set(victim, restarted);
      const target = await until(async () => {
        const s = (await Promise.all(survivors.map((c) => c.ask({ op: 'read' })))).map((r) => r['status'] as StatusReply | undefined);
        return s.every((x) => x !== undefined && x.digest === s[0]!.digest) ? s[0] : undefined;
      }, 'the survivors to agree');
      return until(async () => {
        const s = await restarted.status();
        return s.digest === target!.digest && s.connectedPeers.length === 2 ? s : undefined;
      }, `${victim} to catch up to ${target!.applied} commands and connect to both peers`);
    };

    // The leader: a new one is elected among the other two.
    await killCommitRestart(await agreedLeader([...live.values()]), 'second');
    // c: its id sorts last, so it dials no one; a and b must redial it when it returns.
    const caughtUp = await killCommitRestart('c', 'third');

    // The same commands in the same order everywhere, each acknowledged one exactly once.
    const statuses = await Promise.all([...live.values()].map((c) => c.status()));
    for (const s of statuses) expect(s.digest).toBe(caughtUp.digest);
    const entries = caughtUp.entries;
    expect(new Set(entries).size).toBe(entries.length);
    expect(acknowledged).toHaveLength(300);
    for (const done of acknowledged) expect(entries).toContain(done);
    for (const s of statuses) expect(s.framesRejected).toBe(0);
  }, 120_000);
});
