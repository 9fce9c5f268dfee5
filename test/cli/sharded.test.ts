/**
 * A sharded cluster from the command line: `synod cluster up --shards 4` runs three
 * server processes whose keys live in four ranges; the client commands reach every
 * range through any member, `synod status` lists the ranges with their leaders and
 * sizes, and a transaction across ranges is refused, naming them.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readClusterConfig, splitKeysOf } from '../../src/cli/cluster-config.js';
import { type LocalCluster, root, startLocalCluster, synodCommand } from './cli-processes.js';

const [node, ...cli] = synodCommand;
let cluster: LocalCluster;
let dir: string;
const synod = (...args: string[]) => cluster.synod(...args);

beforeAll(async () => {
  cluster = await startLocalCluster(['--shards', '4']);
  dir = cluster.dir;
}, 60_000);

afterAll(() => cluster?.stop(), 30_000);

describe('synod on a sharded cluster', () => {
  it('cuts a count of shards into ranges at characters spread over 0-z', () => {
    expect(splitKeysOf(1)).toEqual([]);
    expect(splitKeysOf(4)).toEqual(['C', 'V', 'h']);
    const many = splitKeysOf(64);
    expect(many).toHaveLength(63);
    expect([...many].sort()).toEqual(many);
    expect(new Set(many).size).toBe(63);
  });

  it('reads the shards of a cluster file, and refuses a bad one naming the field', async () => {
    const path = join(dir, 'shards.json');
    const base = { clusterId: 'x', members: { a: { peer: '127.0.0.1:1', client: '127.0.0.1:2' } } };
    const read = async (shards: unknown) => {
      await writeFile(path, JSON.stringify({ ...base, shards }));
      return readClusterConfig(path);
    };
    expect((await read(3)).shards).toEqual({ splitKeys: splitKeysOf(3) });
    expect((await read({ splitKeys: ['g'], splitAtBytes: false })).shards).toEqual({ splitKeys: ['g'], splitAtBytes: false });
    await expect(read(0)).rejects.toThrow(/`shards` must be 1 to 64 ranges, not 0/);
    await expect(read(65)).rejects.toThrow(/`shards` must be 1 to 64/);
    await expect(read('4')).rejects.toThrow(/`shards` must be a count/);
    await expect(read({ splitKeys: [''] })).rejects.toThrow(/`shards.splitKeys` must be a list of non-empty keys/);
    await expect(read({ splitKeys: [], splitAtBytes: -1 })).rejects.toThrow(/`shards.splitAtBytes`/);
    await expect(read({ splitKey: ['g'] })).rejects.toThrow(/`shards.splitKey` is not a field of shards/);
    expect((await readClusterConfig(join(dir, '.synod', 'cluster.json'))).shards).toEqual({ splitKeys: splitKeysOf(4) });
  });

  it('serves every range, lists the ranges in status, and refuses a transaction across them', async () => {
    const file = JSON.parse(await readFile(join(dir, '.synod', 'cluster.json'), 'utf8')) as { shards?: number };
    expect(file.shards).toBe(4);
    for (const key of ['1st', 'Mid', 'apple', 'zebra']) expect((await synod('put', key, `${key}!`)).code).toBe(0);
    expect(await synod('get', 'zebra')).toMatchObject({ code: 0, stdout: 'zebra!\n' });
    const range = await synod('range', '', '--json');
    expect(
      range.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { key: string }).key),
    ).toEqual(['1st', 'Mid', 'apple', 'zebra']);
    type Ranges = { group: number; start: string; end?: string; leader?: string; keys: number }[];
    // As the member asked sees them: it may not have applied the last write yet, or a range may be between leaders (they are being spread).
    let ranges: Ranges = [];
    for (let tries = 0; tries < 40; tries++) {
      const status = await synod('status', '--json');
      expect(status.code).toBe(0);
      ranges = (JSON.parse(status.stdout) as { ranges: Ranges }).ranges;
      if (ranges.every((r) => r.keys === 1 && r.leader !== undefined)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(ranges.map((r) => r.start)).toEqual(['', 'C', 'V', 'h']);
    expect(ranges.map((r) => r.keys)).toEqual([1, 1, 1, 1]);
    for (const r of ranges) expect(['a', 'b', 'c']).toContain(r.leader);
    // A watch prints each event's range and revision there, and starts each range where --from says.
    const appleGroup = ranges.find((r) => r.start === 'V')!.group;
    const watched = await synod('watch', 'apple', '--from', `${appleGroup}:1`, '--count', '1');
    expect(watched.stdout).toMatch(new RegExp(`^${appleGroup}:\\d+\tput\tapple\tapple!\n$`));
    const badFrom = await synod('watch', 'apple', '--from', '7', '--count', '1');
    expect(badFrom.code).not.toBe(0);
    expect(badFrom.stderr).toMatch(/--from.*GROUP:REVISION/);
    const table = (await synod('status')).stdout;
    expect(table).toMatch(/^group\tstart\tend\tleader\tkeys\tbytes\trevision$/m);
    expect(table.split('\n').filter((l) => /^\d+\t"/.test(l))).toHaveLength(4);
    const across = await synod(
      'txn',
      JSON.stringify({
        compare: [],
        success: [
          { op: 'put', key: 'apple', value: 'x' },
          { op: 'put', key: 'zebra', value: 'x' },
        ],
      }),
    );
    expect(across.code).toBe(1);
    expect(across.stderr).toMatch(/CrossShardError: a transaction spans the ranges of groups/);
    expect(await synod('get', 'apple')).toMatchObject({ code: 0, stdout: 'apple!\n' });
  }, 60_000);

  it('refuses --shards for a cluster that exists', async () => {
    const again = await new Promise<{ code: number; stderr: string }>((done) => {
      execFile(node, [...cli, 'cluster', 'up', '--dir', join(dir, '.synod'), '--shards', '2'], { cwd: root, timeout: 30_000 }, (error, _out, stderr) =>
        done({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stderr }),
      );
    });
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/--shards.*is for a new cluster/);
  });
});
