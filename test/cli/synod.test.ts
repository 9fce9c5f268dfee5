/**
 * The `synod` command end to end: `synod cluster up` runs three server processes from
 * a fresh directory, and the client commands talk to them as a user would, checking
 * output and exit codes (a refused compare-and-set, an absent key, a watch).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalCluster, root, startLocalCluster, synodCommand } from './cli-processes.js';

// Node itself runs synod (`node --import tsx`, from the repository for the loader), not the tsx command, whose kill would leave its child serving.
const [node, ...cli] = synodCommand;
let cluster: LocalCluster;
let dir: string;
const synod = (...args: string[]) => cluster.synod(...args);

beforeAll(async () => {
  cluster = await startLocalCluster([]);
  dir = cluster.dir;
}, 60_000);

afterAll(() => cluster?.stop(), 30_000);

describe('synod', () => {
  it('puts, gets, refuses a stale compare-and-set, deletes, ranges and watches', async () => {
    expect((await synod('put', 'greeting', 'hello')).stdout).toMatch(/^greeting\tversion 1\trevision \d+/);
    expect(await synod('get', 'greeting')).toMatchObject({ code: 0, stdout: 'hello\n' });
    const stale = await synod('put', 'greeting', 'bye', '--expected-version', '5');
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/VersionConflictError: key greeting: expected version 5, found 1/);
    expect((await synod('put', 'greeting', 'bye', '--expected-version', '1')).stdout).toMatch(/version 2/);
    expect((await synod('put', 'jobs/', 'a', '--sequential')).stdout).toMatch(/^jobs\/0000000000\t/);
    const range = await synod('range', 'jobs/', '--json');
    expect(JSON.parse(range.stdout.trim())).toMatchObject({ key: 'jobs/0000000000', value: 'a', version: 1 });
    const watch = await synod('watch', 'greeting', '--from', '1', '--count', '2');
    expect(
      watch.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t').slice(1)),
    ).toEqual([
      ['put', 'greeting', 'hello'],
      ['put', 'greeting', 'bye'],
    ]);
    expect((await synod('del', 'greeting')).code).toBe(0);
    expect(await synod('get', 'greeting')).toMatchObject({ code: 1 });
    const status = await synod('status');
    expect(status.stdout.split('\n').filter((l) => l.split('\t')[1] === 'leader')).toHaveLength(1);
  }, 60_000);

  it('a new server joins with serve --join and becomes a voter; an old voter is removed; leadership moves to the new one; an observer replaces a voter; writes go on', async () => {
    const members = async (): Promise<{ voters: string[]; observers: string[]; id: number }> =>
      JSON.parse((await synod('member', 'list', '--json')).stdout) as { voters: string[]; observers: string[]; id: number };
    expect((await members()).voters.sort()).toEqual(['a', 'b', 'c']);
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const joiner = spawn(
      node,
      [
        ...cli,
        'serve',
        '--config',
        join(dir, '.synod', 'cluster.json'),
        '--id',
        'd',
        '--join',
        '--peer',
        `127.0.0.1:${port}`,
        '--client',
        `127.0.0.1:${port + 1}`,
        '--data-dir',
        join(dir, 'd'),
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let joinerOut = '';
    let observer: ChildProcess | undefined;
    joiner.stdout!.on('data', (b: Buffer) => (joinerOut += b.toString()));
    joiner.stderr!.on('data', (b: Buffer) => (joinerOut += b.toString()));
    try {
      for (let i = 0; i < 120 && !(await members()).voters.includes('d'); i++) await new Promise((r) => setTimeout(r, 500));
      expect((await members()).voters, joinerOut).toContain('d');
      expect(joinerOut).toMatch(/d joined as an observer; catching up[\s\S]*d is a voter/);
      // status reports the member the configuration added, though the cluster file does not name it.
      expect((await synod('status')).stdout.split('\n').some((l) => l.startsWith('d\t'))).toBe(true);
      const removed = await synod('member', 'remove', 'c');
      expect(removed.code, removed.stderr).toBe(0);
      expect((await members()).voters.sort()).toEqual(['a', 'b', 'd']);
      // The removed member stops answering clients (its copy no longer follows the cluster).
      const cRow = async () => (await synod('status')).stdout.split('\n').find((l) => l.startsWith('c\t')) ?? '';
      for (let i = 0; i < 40 && !(await cRow()).includes('unreachable'); i++) await new Promise((r) => setTimeout(r, 250));
      expect(await cRow()).toMatch(/unreachable/);
      // A refusal is typed and names why; the configuration is unchanged.
      const bad = await synod('member', 'remove', 'nobody');
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/MembershipError: membership change refused \(unknown-member\)/);
      const moved = await synod('leader', 'transfer', 'd');
      expect(moved.stdout, moved.stderr).toMatch(/d leads/);
      expect((await synod('put', 'after', 'join')).code).toBe(0);
      expect(await synod('get', 'after')).toMatchObject({ code: 0, stdout: 'join\n' });

      // Replace: e joins as an observer only, then takes b's place in one change.
      observer = spawn(
        node,
        [
          ...cli,
          'serve',
          '--config',
          join(dir, '.synod', 'cluster.json'),
          '--id',
          'e',
          '--join',
          '--observer',
          '--peer',
          `127.0.0.1:${port + 2}`,
          '--client',
          `127.0.0.1:${port + 3}`,
          '--data-dir',
          join(dir, 'e'),
        ],
        { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let observerOut = '';
      observer.stdout!.on('data', (b: Buffer) => (observerOut += b.toString()));
      observer.stderr!.on('data', (b: Buffer) => (observerOut += b.toString()));
      for (let i = 0; i < 120 && !(await members()).observers.includes('e'); i++) await new Promise((r) => setTimeout(r, 250));
      expect((await members()).observers, observerOut).toContain('e');
      const notObserver = await synod('member', 'replace', 'b', 'a');
      expect(notObserver.stderr).toMatch(/MembershipError: membership change refused \(not-observer\)/);
      const replaced = await synod('member', 'replace', 'b', 'e', '--json');
      expect(replaced.code, replaced.stderr).toBe(0);
      const after = JSON.parse(replaced.stdout) as { voters: string[]; observers: string[]; leaving?: unknown };
      expect([after.voters.sort(), after.observers, after.leaving]).toEqual([['a', 'd', 'e'], [], undefined]);
      expect((await synod('put', 'after', 'replace')).code).toBe(0);
      expect(await synod('get', 'after')).toMatchObject({ code: 0, stdout: 'replace\n' });
    } finally {
      for (const child of [joiner, observer]) {
        if (child === undefined || child.exitCode !== null) continue;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGINT');
        await exited;
      }
    }
  }, 150_000);
});
