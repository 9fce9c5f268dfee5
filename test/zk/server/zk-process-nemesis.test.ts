/**
 * The nemesis over the ZooKeeper port, with real processes: five KV server processes
 * (FileStorage, TcpTransport, each with its ZooKeeper port) and a sixth that joins as
 * an observer with its own port (sessions start there, and move to and from it).
 * ZooKeeper sessions do versioned `setData`, `create` and `delete` of three znodes,
 * `getData` after `sync`, and creates and deletes of ephemeral sequential nodes (and
 * two sessions of ZooKeeper's C client, its Node binding, each in a process of its own
 * when test/zk/clients/c-binding/setup.sh built it, do the same on the same znodes), while
 * a nemesis SIGKILLs and restarts servers, SIGSTOPs and resumes them (half the time the
 * one a session is connected to: the session must move to another member with its id
 * and password), and partitions them (through the transport's fault hook). Some
 * sessions are abandoned (their connection dropped, never closed) so that they expire.
 * Then everything heals, and:
 *
 * - the history of the three znodes (every operation with its real-time bounds, writes
 *   whose answer never came as unknown, and a final read of each) is linearizable
 *   against `znodeModel`, which also means no acknowledged write was lost;
 * - sequence numbers follow real time: a create answered before another was sent got
 *   the smaller number;
 * - no session kept alive expired; the ephemeral nodes of every live session are all
 *   there (but those it deleted); those of the abandoned sessions are gone, and so are
 *   the sessions (a reconnect with their id and password is refused).
 *
 * `SYNOD_ZK_NEMESIS_MS` sets how long the nemesis runs (default 30,000), and
 * `SYNOD_ZK_NEMESIS_SEED` replays a run (the seed is in the test's name);
 * `SYNOD_NEMESIS_KEEP` keeps the servers' logs. The KV's nemesis (test/kv/nemesis/)
 * runs the same faults, and membership changes, over the KV.
 */
import type { ChildProcess } from 'node:child_process';
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { readClusterConfig } from '../../../src/cli/cluster-config.js';
import { freePort, writeLocalCluster } from '../../../src/cli/cluster-up.js';
import { onLeader } from '../../../src/cli/member-commands.js';
import { type Operation, Prng, type ZnodeInput, type ZnodeOutput, checkLinearizability, znodeModel } from '../../../src/testing/index.js';
import { ZkCreateMode, ZkErrorCode, openAcl } from '../../../src/zk/index.js';
import { JuteReader } from '../../../src/zk/protocol/jute-reader.js';
import { readStat } from '../../../src/zk/protocol/zk-records.js';
import type { ZkRequest } from '../../../src/zk/protocol/zk-request.js';
import { linearizabilityReport } from '../../kv/nemesis/linearizability-report.js';
import { loadCBinding } from '../c-binding.js';
import { startCClientProcess } from '../c-client-process.js';
import { ServerProcesses } from '../../kv/nemesis/server-processes.js';
import { Timeline } from '../../kv/nemesis/timeline.js';
import { MovingSession, SessionExpired } from './moving-session.js';
import { type Frame, WireClient, dataOf } from './zk-wire-client.js';

const nemesisMs = Number(process.env['SYNOD_ZK_NEMESIS_MS'] ?? 30_000);
const seed = Number(process.env['SYNOD_ZK_NEMESIS_SEED'] ?? Date.now() % 100_000);
const sessionTimeoutMs = 10_000;
const replyTimeoutMs = 1_500;
const keys = ['/x', '/y', '/z'];
const workers = 6;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const bytes = (s: string) => new TextEncoder().encode(s);

let dir: string | undefined;
let servers: ServerProcesses | undefined;
/** Sessions of ZooKeeper's C client, each in a process of its own (test/zk/c-client-worker.ts), when its binding is built. */
const cClients: ChildProcess[] = [];
const cBinding = loadCBinding();
if ('missing' in cBinding) console.warn(`zk-process-nemesis.test.ts runs without the C client's sessions: ${cBinding.missing}`);

afterAll(async () => {
  for (const child of cClients) child.kill('SIGKILL');
  await servers?.killAll();
  if (dir !== undefined && process.env['SYNOD_NEMESIS_KEEP'] === undefined) await rm(dir, { recursive: true, force: true });
  else if (dir !== undefined) console.log(`nemesis data and logs kept in ${dir}`);
});

/** An ephemeral sequential node a worker asked for: its name's prefix (unique), and what became of it. */
interface Ephemeral {
  readonly prefix: string;
  readonly session: MovingSession;
  readonly invokedAt: number;
  /** Its full name and when its create was answered; unset while the create's outcome is unknown. */
  name?: string;
  completedAt?: number;
  /** A delete was sent (`acknowledged` once answered). */
  deleted?: 'unknown' | 'acknowledged';
}

/** A write's answer as the znode model sees it; undefined for an error that leaves the outcome unknown. */
function writeOutput(input: ZnodeInput, reply: Frame): ZnodeOutput | undefined {
  if (reply.err === ZkErrorCode.noNode) return { type: 'noNode' };
  if (reply.err === ZkErrorCode.nodeExists) return { type: 'nodeExists' };
  if (reply.err === ZkErrorCode.badVersion) return { type: 'badVersion' };
  if (reply.err !== 0) return undefined;
  if (input.op === 'create') return { type: 'created' };
  if (input.op === 'delete') return { type: 'deleted' };
  return { type: 'set', version: readStat(new JuteReader(reply.body)).version };
}

/** An answer that cannot be right (an error on a read, a live session's ephemeral node missing). */
class WrongAnswer extends Error {}

/** The 10-digit sequence number ending a sequential node's name. */
const sequenceOf = (name: string) => Number(name.slice(-10));

it(
  `keeps the znodes linearizable and the sessions whole under kills, pauses and partitions of 5 server processes and an observer (${nemesisMs} ms, seed ${seed})`,
  async () => {
    dir = await mkdtemp(join(tmpdir(), 'synod-zk-nemesis-'));
    // The local cluster file, each member with a ZooKeeper port.
    const path = await writeLocalCluster(dir, 5);
    const file = JSON.parse(await readFile(path, 'utf8')) as { members: Record<string, Record<string, string>> };
    for (const member of Object.values(file.members)) member['zk'] = `127.0.0.1:${await freePort()}`;
    await writeFile(path, JSON.stringify(file));
    const config = await readClusterConfig(path);
    const voters = Object.keys(config.members);
    const ports = new Map(voters.map((id) => [id, config.members[id]!.zk!.port]));
    const processes = new ServerProcesses(config);
    servers = processes;
    await Promise.all(voters.map((id) => processes.start(id)));
    // The observer: started with its addresses, then added by the leader.
    const observer = { id: 'o', peer: await freePort(), client: await freePort(), zk: await freePort() };
    processes.joinArgs.set(
      observer.id,
      JSON.stringify({
        peer: `127.0.0.1:${observer.peer}`,
        client: `127.0.0.1:${observer.client}`,
        zk: `127.0.0.1:${observer.zk}`,
        dataDir: join(dir, observer.id),
      }),
    );
    await processes.start(observer.id);
    for (let added = false; !added; ) {
      try {
        await onLeader(config, (kv) =>
          kv.changeMembers({ type: 'addObserver', id: observer.id, address: `127.0.0.1:${observer.peer},127.0.0.1:${observer.client}` }, { timeoutMs: 5_000 }),
        );
      } catch {
        await sleep(200);
      }
      added = (await onLeader(config, (kv) => kv.members({ timeoutMs: 2_000 })).catch(() => undefined))?.configuration.observers.includes(observer.id) === true;
    }
    ports.set(observer.id, observer.zk);
    const ids = [...voters, observer.id];
    const random = new Prng(seed);
    const timeline = new Timeline();
    const { note } = timeline;
    const session = (first: string) => new MovingSession({ ports, first, timeoutMs: sessionTimeoutMs, replyTimeoutMs });

    // The parent of the ephemeral nodes, through any member once the cluster has a leader.
    const setup = session(ids[0]!);
    for (let created = false; !created; ) {
      try {
        const reply = await setup.call({ type: 'write', request: { op: 'create', path: '/e', data: bytes(''), acl: openAcl, flags: 0, withStat: false } });
        created = reply.err === 0 || reply.err === ZkErrorCode.nodeExists;
      } catch {
        await sleep(200);
      }
    }
    setup.drop();

    const end = performance.now() + nemesisMs;
    // Sessions abandoned late would outlive the run: abandon only while they can still expire within it.
    const abandonUntil = end - sessionTimeoutMs - 2_000;
    const history: Operation<ZnodeInput, ZnodeOutput>[] = [];
    const ephemerals: Ephemeral[] = [];
    const live: MovingSession[] = [];
    const abandoned: MovingSession[] = [];
    /** Sessions kept alive that expired, and answers that cannot be right. */
    const wrong: string[] = [];
    /** `quiet`: the workers only keep their sessions alive (a sync every 500 ms), for the final checks. */
    let mode: 'work' | 'quiet' | 'stop' = 'work';
    const quiet = new Set<number>();
    /** Operations answered through the observer's port. */
    let throughObserver = 0;

    const worker = async (w: number) => {
      const rng = random.fork();
      const name = `w${w}`;
      let s = session(ids[w % ids.length]!);
      live[w] = s;
      /** The version each znode was last seen at (-1: unknown). */
      const versions = new Map<string, number>();
      const mine: Ephemeral[] = [];
      const replace = (why: 'abandon' | 'expired') => {
        s.drop();
        if (why === 'abandon') abandoned.push(s);
        s = session(ids[rng.int(ids.length)]!);
        live[w] = s;
        mine.length = 0;
      };
      for (let n = 0; mode !== 'stop'; n++) {
        if (mode === 'quiet') {
          quiet.add(w);
          try {
            await s.call({ type: 'sync', path: '/' });
          } catch (error) {
            if (error instanceof SessionExpired) wrong.push(`${name}: ${error.message}`);
          }
          await sleep(500);
          continue;
        }
        const key = keys[rng.int(keys.length)]!;
        const roll = rng.next();
        const invokedAt = performance.now();
        try {
          if (performance.now() < abandonUntil && rng.chance(0.002) && s.id !== 0) {
            note(`${name} abandons session ${s.id.toString(16)}`);
            replace('abandon');
            continue;
          }
          if (roll < 0.35) {
            // A linearizable read: sync, then getData on the same connection (FIFO).
            const synced = await s.call({ type: 'sync', path: key });
            if (synced.err !== 0) throw new WrongAnswer(`sync answered ${synced.err}`);
            const reply = await s.call({ type: 'getData', path: key, watch: false });
            let output: ZnodeOutput;
            if (reply.err === ZkErrorCode.noNode) output = { type: 'noNode' };
            else if (reply.err === 0) {
              const { data, stat } = dataOf(reply);
              output = { type: 'data', data, version: stat.version };
            } else throw new WrongAnswer(`getData answered ${reply.err}`);
            versions.set(key, output.type === 'data' ? output.version : -1);
            history.push({ client: name, key, input: { op: 'getData' }, invokedAt, completedAt: performance.now(), outcome: 'ok', output });
            if (s.member === observer.id) throughObserver++;
          } else if (roll < 0.8) {
            const data = `${name}-${n}`;
            const version = versions.get(key) ?? -1;
            const input: ZnodeInput =
              roll < 0.65 ? { op: 'setData', data, version: rng.chance(0.1) ? -1 : version } : roll < 0.72 ? { op: 'create', data } : { op: 'delete', version };
            const request: ZkRequest =
              input.op === 'setData'
                ? { type: 'write', request: { op: 'setData', path: key, data: bytes(data), version: input.version } }
                : input.op === 'create'
                  ? { type: 'write', request: { op: 'create', path: key, data: bytes(data), acl: openAcl, flags: 0, withStat: false } }
                  : { type: 'write', request: { op: 'delete', path: key, version: input.version } };
            let reply: Frame;
            try {
              reply = await s.call(request);
            } catch (error) {
              // No answer: the write may take effect at any later time, or never.
              history.push({ client: name, key, input, invokedAt, outcome: 'info' });
              throw error;
            }
            const output = writeOutput(input, reply);
            history.push(
              output === undefined
                ? { client: name, key, input, invokedAt, outcome: 'info' }
                : { client: name, key, input, invokedAt, completedAt: performance.now(), outcome: 'ok', output },
            );
            if (output !== undefined && s.member === observer.id) throughObserver++;
            if (output?.type === 'set') versions.set(key, output.version);
            else if (output?.type === 'created') versions.set(key, 0);
            else versions.delete(key);
          } else if (roll < 0.93 || mine.every((e) => e.name === undefined || e.deleted !== undefined)) {
            if (!(await s.connect())) throw new Error('no member took the session');
            const e: Ephemeral = { prefix: `${name}-${n}-`, session: s, invokedAt };
            ephemerals.push(e);
            mine.push(e);
            const reply = await s.call({
              type: 'write',
              request: { op: 'create', path: `/e/${e.prefix}`, data: bytes(''), acl: openAcl, flags: ZkCreateMode.ephemeralSequential, withStat: false },
            });
            if (reply.err !== 0) throw new WrongAnswer(`create of ephemeral /e/${e.prefix} answered ${reply.err}`);
            e.name = new JuteReader(reply.body).string('path', 4096);
            e.completedAt = performance.now();
          } else {
            const e = mine.find((m) => m.name !== undefined && m.deleted === undefined)!;
            e.deleted = 'unknown';
            const reply = await s.call({ type: 'write', request: { op: 'delete', path: e.name!, version: -1 } });
            // Its own ephemeral node, of a session alive: it must be there.
            if (reply.err !== 0) throw new WrongAnswer(`${name}: delete of its ephemeral ${e.name} answered ${reply.err}`);
            e.deleted = 'acknowledged';
          }
        } catch (error) {
          if (error instanceof SessionExpired) {
            wrong.push(`${name}: ${error.message}`);
            note(`${name}: ${error.message}`);
            replace('expired');
          } else if (error instanceof WrongAnswer) {
            wrong.push(`${name}: ${error.message}`);
          }
          await sleep(20);
        }
      }
    };
    const working = Array.from({ length: workers }, (_, w) => worker(w));

    // Sessions of ZooKeeper's C client on the same znodes, through every port, each in a
    // process of its own: what they do goes into the same history.
    const hosts = ids.map((id) => `127.0.0.1:${ports.get(id)!}`).join(',');
    const cSessions = 'missing' in cBinding ? [] : Array.from({ length: 2 }, (_, i) => startCClientProcess(hosts, i, seed, keys));
    cClients.push(...cSessions.map((c) => c.child));

    // The nemesis: one process fault at a time, each undone before the next; half the
    // time on the member worker 0's session is connected to.
    let faults = 0;
    while (performance.now() < end) {
      await sleep(500 + random.int(1_500));
      const connectedTo = live[0]?.member;
      const victim = connectedTo !== undefined && random.chance(0.5) ? connectedTo : ids[random.int(ids.length)]!;
      const kind = random.int(3);
      faults++;
      if (kind === 0) {
        note(`SIGKILL ${victim}`);
        processes.kill(victim, 'SIGKILL');
        await sleep(500 + random.int(2_000));
        note(`restart ${victim}`);
        await processes.start(victim);
      } else if (kind === 1) {
        note(`SIGSTOP ${victim}`);
        processes.kill(victim, 'SIGSTOP');
        await sleep(500 + random.int(3_000));
        note(`SIGCONT ${victim}`);
        processes.kill(victim, 'SIGCONT');
      } else {
        const shuffled = [...ids].sort(() => random.next() - 0.5);
        const minority = shuffled.slice(0, 1 + random.int(2));
        const majority = shuffled.slice(minority.length);
        note(`partition ${minority.join(',')} | ${majority.join(',')}`);
        for (const id of ids) processes.children.get(id)!.send({ block: minority.includes(id) ? majority : minority });
        await sleep(1_000 + random.int(3_000));
        note('heal');
        for (const id of ids) processes.children.get(id)!.send({ block: [] });
      }
    }
    for (const id of ids) if (!processes.alive(id)) await processes.start(id);
    // Healed: the workers stop their operations but keep their sessions alive.
    mode = 'quiet';
    while (quiet.size < workers) await sleep(50);
    // The C client's sessions end their last operation; one whose answer never came is in
    // the history as unknown.
    await Promise.all(cSessions.map((c) => c.finish(20_000)));
    for (const c of cSessions) history.push(...c.ops);

    // The final word on every znode, read linearizably through a fresh session.
    const reader = session(ids[random.int(ids.length)]!);
    const readFinal = async (request: ZkRequest): Promise<Frame> => {
      const deadline = performance.now() + 20_000;
      for (;;) {
        try {
          const synced = await reader.call({ type: 'sync', path: '/' });
          if (synced.err === 0) return await reader.call(request);
        } catch (error) {
          if (performance.now() > deadline) throw error;
        }
        await sleep(200);
      }
    };
    for (const key of keys) {
      const invokedAt = performance.now();
      const reply = await readFinal({ type: 'getData', path: key, watch: false });
      const output: ZnodeOutput =
        reply.err === ZkErrorCode.noNode ? { type: 'noNode' } : { type: 'data', ...(({ data, stat }) => ({ data, version: stat.version }))(dataOf(reply)) };
      history.push({ client: 'final', key, input: { op: 'getData' }, invokedAt, completedAt: performance.now(), outcome: 'ok', output });
    }
    note(
      `healed; sessions moved ${live.reduce((sum, s) => sum + s.moves, 0) + abandoned.reduce((sum, s) => sum + s.moves, 0)} times; ${abandoned.length} abandoned`,
    );

    // Ephemeral nodes: every one of a live session is there (but those it deleted), every
    // abandoned session's are gone once it expired (within its timeout and a margin).
    const liveIds = new Set(live.map((s) => s.id));
    const byPrefix = new Map(ephemerals.map((e) => [e.prefix, e]));
    const childrenOf = async () => {
      const reply = await readFinal({ type: 'getChildren', path: '/e', watch: false });
      expect(reply.err).toBe(0);
      const r = new JuteReader(reply.body);
      return Array.from({ length: r.int('count') }, () => r.string('child', 4096));
    };
    note('final reads done');
    let children = await childrenOf();
    for (
      const expireBy = performance.now() + sessionTimeoutMs + 5_000;
      children.some((c) => !liveIds.has(byPrefix.get(c.slice(0, -10))?.session.id ?? -1)) && performance.now() < expireBy;
    ) {
      await sleep(500);
      children = await childrenOf();
    }
    note('abandoned sessions expired');
    const present = new Set(children.map((c) => `/e/${c}`));
    for (const child of children) {
      const e = byPrefix.get(child.slice(0, -10));
      expect(e, `/e/${child} was never asked for`).toBeDefined();
      expect(liveIds.has(e!.session.id), `/e/${child} outlived its session ${e!.session.id.toString(16)}, abandoned or expired\n${timeline.text()}`).toBe(true);
      expect(e!.deleted, `/e/${child} is there after its delete was acknowledged`).not.toBe('acknowledged');
    }
    const kept = ephemerals.filter((e) => liveIds.has(e.session.id) && e.name !== undefined && e.deleted === undefined);
    for (const e of kept) expect(present.has(e.name!), `${e.name} of live session ${e.session.id.toString(16)} is gone\n${timeline.text()}`).toBe(true);
    // An abandoned session is gone for good: its id and password are refused.
    for (const s of abandoned.slice(0, 2)) {
      const client = await WireClient.open(ports.get(ids[0]!)!);
      expect((await client.handshake({ sessionId: s.id, password: s.password })).timeoutMs).toBe(0);
      client.close();
    }
    // The C client's sessions: none gave an answer the model has no place for, each kept
    // its session to the end, and its ephemeral node is there, owned by it.
    for (const [i, c] of cSessions.entries()) {
      expect(c.done, `C client session ${i} did not finish\n${c.stderr}`).toBe(true);
      expect(c.unexpected, `C client session ${i}\n${c.stderr}\n${timeline.text()}`).toEqual([]);
      const reply = await readFinal({ type: 'getData', path: c.ephemeral, watch: false });
      expect(reply.err, `C client session ${i}'s ephemeral node ${c.ephemeral}\n${timeline.text()}`).toBe(0);
      expect(dataOf(reply).data).toBe(c.session);
    }
    mode = 'stop';
    await Promise.all(working);
    // No session kept alive expired, and no worker saw a wrong answer.
    expect(wrong, `seed ${seed}\n${timeline.text()}`).toEqual([]);

    // Sequence numbers are unique and follow real time: walking down from the highest,
    // no create answered before this one was asked for may hold a higher number.
    const answered = ephemerals.filter((e) => e.name !== undefined).sort((a, b) => sequenceOf(a.name!) - sequenceOf(b.name!));
    expect(new Set(answered.map((e) => sequenceOf(e.name!))).size).toBe(answered.length);
    let earliestAbove: Ephemeral | undefined;
    for (const e of [...answered].reverse()) {
      if (earliestAbove !== undefined && earliestAbove.completedAt! < e.invokedAt)
        expect.fail(`${earliestAbove.name} was answered before ${e.name} was asked for, yet numbered after it`);
      if (earliestAbove === undefined || e.completedAt! < earliestAbove.completedAt!) earliestAbove = e;
    }

    const ok = history.filter((o) => o.outcome === 'ok').length;
    const unknown = history.filter((o) => o.outcome === 'info').length;
    const moves = live.reduce((sum, s) => sum + s.moves, 0) + abandoned.reduce((sum, s) => sum + s.moves, 0);
    note(
      `${history.length} znode operations (${history.filter((o) => o.client.startsWith('c')).length} by ${cSessions.length} C client sessions): ${ok} ok (${throughObserver} through the observer), ${unknown} unknown; ${answered.length} ephemeral creates answered, ${kept.length} kept; ${faults} faults; ${moves} session moves`,
    );
    console.log(timeline.text());
    expect(faults).toBeGreaterThan(0);
    expect(ok).toBeGreaterThan(100);
    expect(moves, 'no session moved to another member').toBeGreaterThan(0);
    expect(throughObserver, 'the observer answered nothing').toBeGreaterThan(0);
    const checkedFrom = performance.now();
    const verdict = checkLinearizability(history, znodeModel, { timeBudgetMs: 30_000 });
    console.log(`linearizability checked in ${Math.round(performance.now() - checkedFrom)} ms`);
    expect(verdict, `seed ${seed}\n${timeline.text()}\n${linearizabilityReport(history, verdict, `zk-nemesis-${seed}`)}`).toEqual({ result: 'linearizable' });
  },
  nemesisMs + 90_000,
);
