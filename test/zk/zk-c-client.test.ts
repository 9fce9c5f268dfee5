/**
 * ZooKeeper's C client (through its Node binding, npm `zookeeper`), a client no one here
 * wrote, against a 3-member synod cluster of real processes serving ZooKeeper clients:
 *
 * - the data model's answers as the C client reads them: versions, ZooKeeper's error
 *   codes, ephemeral and sequential nodes, children, a one-shot watch fired by another
 *   session's write;
 * - a history: C client sessions run versioned setData, create, delete and sync+getData
 *   on two znodes while the member the first session is connected to is SIGKILLed and
 *   later restarted, and then the member another session moved to; every answer that
 *   never came (connection loss) may or may not have happened. The history must be
 *   linearizable (so no acknowledged write was lost), no session may expire, and each
 *   session's ephemeral node must survive the moves, owned by its session (issue 16,
 *   section 3).
 *
 * Needs the binding built by test/zk/clients/c-binding/setup.sh (`.ci/run` runs it);
 * skips, saying so, where it is not there.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { type Operation, type ZnodeInput, type ZnodeOutput, checkLinearizability, znodeModel } from '../../src/testing/index.js';
import { linearizabilityReport } from '../kv/nemesis/linearizability-report.js';
import { ServerProcesses, exit, until } from '../cli/cli-processes.js';
import { type Answer, CClient, loadCBinding } from './c-binding.js';
import { startCClientProcess } from './c-client-process.js';
import { fourLetterWord } from './four-letter-word.js';
import { writeZkCluster } from './zk-cluster-file.js';

const loaded = loadCBinding();
if ('missing' in loaded) console.warn(`zk-c-client.test.ts skipped: ${loaded.missing}`);

const sessionTimeoutMs = 10_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf('missing' in loaded)("ZooKeeper's C client against a 3-member synod cluster", () => {
  const binding = 'binding' in loaded ? loaded.binding : undefined!;
  const c = binding?.constants;
  const servers = new ServerProcesses();
  let dir = '';
  let config = '';
  let zkPorts: Record<string, number> = {};
  const children: Record<string, ChildProcess> = {};
  const hosts = () =>
    Object.values(zkPorts)
      .map((p) => `127.0.0.1:${p}`)
      .join(',');
  const start = async (id: string) => {
    children[id] = servers.serve(config, id, ['--tick-ms', '20']);
    await until(`member ${id} answering ruok`, 20_000, async () => (await fourLetterWord(zkPorts[id]!, 'ruok')) === 'imok');
  };
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'synod-zk-c-'));
    ({ config, zkPorts } = await writeZkCluster(dir, 3));
    await Promise.all(Object.keys(zkPorts).map(start));
  }, 40_000);

  afterAll(async () => {
    await servers.killAll();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers as ZooKeeper does: versions, error codes, ephemeral and sequential nodes, children, a watch', async () => {
    const a = await CClient.connect(binding, hosts(), sessionTimeoutMs);
    const b = await CClient.connect(binding, hosts(), sessionTimeoutMs);
    try {
      expect(await a.create('/app', 'v0', c.ZOO_PERSISTENT)).toEqual({ rc: c.ZOK, value: '/app' });
      expect((await a.create('/app', 'again', c.ZOO_PERSISTENT)).rc).toBe(c.ZNODEEXISTS);
      expect((await a.create('/none/child', 'x', c.ZOO_PERSISTENT)).rc).toBe(c.ZNONODE);
      const got = await a.get('/app');
      expect(got.rc).toBe(c.ZOK);
      expect(got.value?.data).toBe('v0');
      expect(got.value?.stat).toMatchObject({ version: 0, cversion: 0, numChildren: 0, dataLength: 2 });
      expect(got.value?.stat.mzxid).toBe(got.value?.stat.czxid);

      const set = await a.set('/app', 'v1', 0);
      expect(set.rc).toBe(c.ZOK);
      expect(set.value?.version).toBe(1);
      expect(set.value!.mzxid).toBeGreaterThan(got.value!.stat.mzxid);
      expect((await a.set('/app', 'stale', 0)).rc).toBe(c.ZBADVERSION);
      expect((await a.set('/app', 'any', -1)).value?.version).toBe(2);

      // Sequential names from the parent's cversion, ten digits; ephemerals owned by their session.
      expect((await a.create('/app/job-', 'j', c.ZOO_PERSISTENT_SEQUENTIAL)).value).toBe('/app/job-0000000000');
      expect((await b.create('/app/lock-', '', c.ZOO_EPHEMERAL_SEQUENTIAL)).value).toBe('/app/lock-0000000001');
      expect((await b.create('/app/lock-0000000001/x', '', c.ZOO_PERSISTENT)).rc).toBe(c.ZNOCHILDRENFOREPHEMERALS);
      expect(await a.children('/app')).toEqual({ rc: c.ZOK, value: ['job-0000000000', 'lock-0000000001'] });
      const lock = await a.exists('/app/lock-0000000001');
      expect(String(lock.value?.ephemeralOwner)).not.toBe('0');
      expect((await a.exists('/app/missing')).rc).toBe(c.ZNONODE);
      expect((await a.delete('/app', -1)).rc).toBe(c.ZNOTEMPTY);

      // A one-shot watch set by one session, fired by another's write, once.
      const events: [number, string][] = [];
      expect((await a.watchGet('/app/job-0000000000', (type, path) => events.push([type, path]))).value?.data).toBe('j');
      await b.set('/app/job-0000000000', 'j1', 0);
      await b.set('/app/job-0000000000', 'j2', 1);
      await until('the watch fired', 5_000, async () => events.length > 0);
      await a.sync('/app');
      expect(events).toEqual([[c.ZOO_CHANGED_EVENT, '/app/job-0000000000']]);

      // A closed session's ephemeral node is deleted with it.
      b.close();
      await until('the closed session ephemeral gone', 10_000, async () => (await a.exists('/app/lock-0000000001')).rc === c.ZNONODE);
      expect((await a.delete('/app/job-0000000000', 0)).rc).toBe(c.ZBADVERSION);
      expect((await a.delete('/app/job-0000000000', 2)).rc).toBe(c.ZOK);
      expect((await a.delete('/app', 2)).rc).toBe(c.ZOK);
      expect((await a.get('/app')).rc).toBe(c.ZNONODE);
    } finally {
      a.close();
      b.close();
    }
  }, 30_000);

  it('keeps a linearizable history, every session and its ephemeral node while the members its sessions use are killed', async () => {
    const serverLogs = () =>
      Object.keys(children)
        .map((id) => `member ${id}: ${servers.describe(children[id]!)}`)
        .join('\n');
    onTestFailed(async () => {
      const modes = await Promise.all(
        Object.keys(zkPorts).map(async (id) => `${id}: ${(await fourLetterWord(zkPorts[id]!, 'srvr').catch((e: Error) => e.message)).replace(/\n/g, ' | ')}`),
      );
      console.log(`the servers now:\n${modes.join('\n')}\nthe servers' output:\n${serverLogs()}`);
    });
    const seed = Date.now() % 100_000;
    const keys = ['/h-x', '/h-y'];
    const now = () => performance.now();
    const t0 = now();
    // Each session in a process of its own (see c-client-worker.ts), reporting what it does.
    const workers = Array.from({ length: 4 }, (_, w) => startCClientProcess(hosts(), w, seed, keys, `s${w}`));
    await until('every session and its ephemeral node', 20_000, async () => workers.every((w) => w.ephemeral !== ''));

    const kills: string[] = [];
    const killAndRestart = async (session: string) => {
      await sleep(1_500);
      let id: string | undefined;
      for (const [member, port] of Object.entries(zkPorts)) if ((await fourLetterWord(port, 'cons').catch(() => '')).includes(`sid=${session},`)) id = member;
      expect(id, `no member lists session ${session} in cons`).toBeDefined();
      kills.push(`${id!} at ${Math.round(now() - t0)} ms`);
      await exit(children[id!]!, 'SIGKILL');
      await sleep(2_500);
      await start(id!);
    };
    await killAndRestart(workers[0]!.session);
    await killAndRestart(workers[1]!.session);
    await sleep(1_500);
    await Promise.all(workers.map((w) => w.finish(20_000)));
    expect(
      workers.map((w) => w.done),
      'every session finished its last operation',
    ).toEqual(workers.map(() => true));

    const history: Operation<ZnodeInput, ZnodeOutput>[] = workers.flatMap((w) => w.ops);
    // Final reads, after a sync, by a new session (again after a connection loss).
    const checker = await CClient.connect(binding, hosts(), sessionTimeoutMs);
    for (const key of keys) {
      for (let attempt = 1; ; attempt++) {
        const invokedAt = now();
        const synced = await checker.sync(key);
        const got: Answer<{ stat: { version: number }; data: string }> = synced.rc === c.ZOK ? await checker.get(key) : { rc: synced.rc };
        if (got.rc === c.ZOK || got.rc === c.ZNONODE) {
          history.push({
            client: 'final',
            key,
            input: { op: 'getData' },
            invokedAt,
            completedAt: now(),
            outcome: 'ok',
            output: got.rc === c.ZOK ? { type: 'data', data: got.value!.data, version: got.value!.stat.version } : { type: 'noNode' },
          });
          break;
        }
        expect(attempt, `final read of ${key}: answer ${got.rc}`).toBeLessThan(5);
        await sleep(500);
      }
    }
    const answered = history
      .filter((o) => o.outcome === 'ok')
      .map((o) => o.completedAt! - o.invokedAt)
      .sort((x, y) => x - y);
    console.log(
      `seed ${seed}: ${history.length} operations, ${answered.length} answered (slowest ${Math.round(answered.at(-1) ?? 0)} ms, p99 ${Math.round(answered[Math.floor(answered.length * 0.99)] ?? 0)} ms); members killed: ${kills.join(', ')}`,
    );
    const verdict = checkLinearizability(history, znodeModel, { timeBudgetMs: 20_000 });
    expect(verdict, `seed ${seed}\n${linearizabilityReport(history, verdict, `zk-c-client-${seed}`)}`).toEqual({ result: 'linearizable' });
    expect(answered.length).toBeGreaterThan(50);
    expect(
      workers.map((w) => w.unexpected),
      workers.map((w) => w.stderr).join('\n'),
    ).toEqual(workers.map(() => []));
    // Every session alive: its ephemeral node is there, holding its id, owned by it.
    for (const [i, w] of workers.entries()) {
      const got = await checker.get(w.ephemeral);
      expect(got.rc, `session ${i} (${w.session})'s ephemeral node`).toBe(c.ZOK);
      expect(got.value?.data).toBe(w.session);
      expect(BigInt(got.value!.stat.ephemeralOwner)).toBe(BigInt(w.session));
    }
    checker.close();
    // Only now: a session's process ended takes its session with it (after its timeout).
    await Promise.all(workers.map((w) => exit(w.child, 'SIGTERM')));
  }, 90_000);
});
