/**
 * Session expiry and wall clocks, on real processes: three KV servers on 127.0.0.1,
 * each under Debian's libfaketime, whose offset a test changes while they run. One
 * server's wall clock jumps 2 h forward and back (the leader's, then a follower's
 * that is made leader), and across a leader change (SIGKILL): a session kept alive by
 * a client lives on, and an abandoned 2 s session expires no sooner than 2 s after it
 * was last renewed and no later than 2 s plus a bound after that or the takeover.
 *
 * libfaketime: `LD_PRELOAD` of libfaketime.so.1, `FAKETIME_TIMESTAMP_FILE` naming a
 * file that holds the offset ("+0", "+2h", "-2h"), read again at every clock call
 * with `FAKETIME_NO_CACHE=1`. `FAKETIME_DONT_FAKE_MONOTONIC=1` leaves CLOCK_MONOTONIC
 * alone (else `performance.now()` and `process.hrtime()` jump too): only the wall
 * clock moves, as with an NTP step or `date -s`. `scripts/install-system-packages.sh`
 * installs the `faketime` package; without the library the test skips and says why.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { type ClusterConfig, readClusterConfig } from '../../src/cli/cluster-config.js';
import { writeLocalCluster } from '../../src/cli/cluster-up.js';
import { KvClient } from '../../src/kv/client/index.js';
import type { KvSession } from '../../src/kv/index.js';

const here = resolve(fileURLToPath(new URL('.', import.meta.url)));
const serverScript = join(here, 'nemesis', 'server-process.ts');
const ttlMs = 2_000;
/**
 * Past the TTL, how late expiry may come: two session checks (100 ms each), a log
 * round trip and the client's polling (50 ms), with room for a machine busy with
 * other tests. Still far from what a wall clock step did before (2 h, or at once).
 */
const lateMsMax = 2_500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** libfaketime, where Debian puts it, if it is installed and works here; else why not. */
async function findFaketime(): Promise<{ library: string } | { why: string }> {
  const candidates = [
    '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1',
    '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1',
    '/usr/lib/faketime/libfaketime.so.1',
  ];
  const library = candidates.find((path) => existsSync(path));
  if (library === undefined)
    return { why: `libfaketime not found (${candidates.join(', ')}): run scripts/install-system-packages.sh (Debian's faketime package)` };
  // It must step node's wall clock and leave its monotonic clock alone.
  const dir = await mkdtemp(join(tmpdir(), 'synod-faketime-probe-'));
  try {
    const file = join(dir, 'offset');
    await writeFile(file, '+2h\n');
    const out = await new Promise<string>((done) =>
      execFile(
        process.execPath,
        ['-e', 'console.log(Date.now(), performance.now())'],
        { env: { ...process.env, ...faketimeEnv(library, file) }, timeout: 10_000 },
        (error, stdout) => done(error === null ? stdout : ''),
      ),
    );
    const [wall, monotonic] = out.trim().split(' ').map(Number);
    if (wall === undefined || monotonic === undefined || !(Math.abs(wall - Date.now() - 7_200_000) < 60_000))
      return { why: `libfaketime at ${library} did not step node's wall clock (got "${out.trim()}")` };
    if (!(monotonic < 60_000)) return { why: `libfaketime at ${library} stepped the monotonic clock too (performance.now() = ${monotonic})` };
    return { library };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function faketimeEnv(library: string, file: string): Record<string, string> {
  return { LD_PRELOAD: library, FAKETIME_TIMESTAMP_FILE: file, FAKETIME_NO_CACHE: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' };
}

const faketime = await findFaketime();
const skipWhy = 'why' in faketime ? faketime.why : undefined;
if (skipWhy !== undefined) console.warn(`session-clock.faketime: skipped: ${skipWhy}`);

/** Three server processes, each with a wall clock offset the test sets. */
class FaketimeCluster {
  readonly servers = new Map<string, ChildProcess>();
  private readonly clients: KvClient[] = [];

  private constructor(
    readonly dir: string,
    readonly config: ClusterConfig,
    private readonly library: string,
  ) {}

  static async start(library: string): Promise<FaketimeCluster> {
    const dir = await mkdtemp(join(tmpdir(), 'synod-session-clock-'));
    const c = new FaketimeCluster(dir, await readClusterConfig(await writeLocalCluster(dir, 3)), library);
    running = c;
    await Promise.all(c.ids.map((id) => c.startServer(id)));
    return c;
  }

  get ids(): string[] {
    return Object.keys(this.config.members);
  }

  /** Sets `id`'s wall clock offset from real time: "+0", "+2h", "-2h". */
  async offset(id: string, offset: string): Promise<void> {
    await writeFile(this.offsetFile(id), `${offset}\n`);
  }

  client(ids: readonly string[] = this.ids): KvClient {
    const kv = new KvClient({
      endpoints: ids.map((id) => this.config.members[id]!.client),
      clusterId: this.config.clusterId,
      secret: this.config.clientSecret!,
      requestTimeoutMs: 3_000,
      connectTimeoutMs: 1_000,
    });
    this.clients.push(kv);
    return kv;
  }

  /** The leader, as the live servers agree on it. */
  async leader(among: readonly string[] = this.ids): Promise<string> {
    const deadline = performance.now() + 20_000;
    for (;;) {
      const seen = await Promise.all(
        among.map(async (id) => {
          const one = this.client([id]);
          try {
            return (await one.status({ timeoutMs: 1_000 })).leader;
          } catch {
            return undefined;
          } finally {
            await one.close();
          }
        }),
      );
      const leader = seen[0];
      if (leader !== undefined && among.includes(leader) && seen.every((l) => l === leader)) return leader;
      if (performance.now() > deadline) throw new Error(`no agreed leader among ${among.join(', ')}: ${JSON.stringify(seen)}`);
      await sleep(100);
    }
  }

  async kill(id: string): Promise<void> {
    const child = this.servers.get(id)!;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((kv) => kv.close().catch(() => {})));
    await Promise.all(this.ids.map((id) => this.kill(id)));
    // Kept when SYNOD_FAKETIME_KEEP is set: the servers' logs (ID.log) are there.
    if (process.env['SYNOD_FAKETIME_KEEP'] === undefined) await rm(this.dir, { recursive: true, force: true });
    else console.log(`session-clock.faketime: data and logs kept in ${this.dir}`);
  }

  private offsetFile(id: string): string {
    return join(this.dir, `${id}.faketime`);
  }

  private async startServer(id: string): Promise<void> {
    await this.offset(id, '+0');
    // Node itself runs the server (not the tsx command, whose SIGKILL would leave its child serving).
    const child = spawn(process.execPath, ['--import', 'tsx', serverScript, this.config.path, id], {
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
      env: { ...process.env, ...faketimeEnv(this.library, this.offsetFile(id)) },
    });
    this.servers.set(id, child);
    await new Promise<void>((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`server ${id} did not start`)), 20_000);
      child.once('message', () => {
        clearTimeout(timer);
        done();
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        fail(new Error(`server ${id} exited with ${code} while starting`));
      });
    });
  }
}

let running: FaketimeCluster | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

/** A session whose client stops keeping it alive at once, with an ephemeral key to watch it by. */
interface Abandoned {
  readonly key: string;
  /** Before the create was sent: it cannot have been renewed earlier. */
  readonly sentAt: number;
  /** When the create was answered: it was not renewed later (its client closed right after). */
  readonly answeredAt: number;
}

async function abandon(c: FaketimeCluster, key: string): Promise<Abandoned> {
  const kv = c.client();
  const sentAt = performance.now();
  const session = await kv.createSession({ ttlMs, keepAliveMs: ttlMs - 100 });
  const answeredAt = performance.now();
  await kv.put(key, 'abandoned', { session: session.id });
  await kv.close(); // no keepalive was due yet; none will be sent
  return { key, sentAt, answeredAt };
}

/** When `key` is gone (polled every 50 ms through `kv`), within `msMax`; undefined if not. */
async function goneAt(kv: KvClient, key: string, msMax: number): Promise<number | undefined> {
  const deadline = performance.now() + msMax;
  while (performance.now() < deadline) {
    try {
      if ((await kv.get(key, { timeoutMs: 1_000 })) === undefined) return performance.now();
    } catch {
      // A leader change: ask again.
    }
    await sleep(50);
  }
  return undefined;
}

/** `session` expired within its bounds: after its TTL, and within `lateMsMax` of TTL past the later of its renewal and `takeoverAt`. */
async function expectExpiresInBounds(kv: KvClient, s: Abandoned, takeoverAt = 0): Promise<void> {
  const from = Math.max(s.answeredAt, takeoverAt);
  const at = await goneAt(kv, s.key, from + ttlMs + lateMsMax + 3_000 - performance.now());
  expect(at, `${s.key} never expired (created ${Math.round(performance.now() - s.answeredAt)} ms ago)`).toBeDefined();
  expect(at! - s.sentAt, `${s.key} expired ${Math.round(at! - s.sentAt)} ms after its create was sent`).toBeGreaterThanOrEqual(ttlMs);
  expect(at! - from, `${s.key} expired ${Math.round(at! - from)} ms after the later of its create and the takeover`).toBeLessThanOrEqual(ttlMs + lateMsMax);
}

async function expectAlive(kv: KvClient, session: KvSession, key: string): Promise<void> {
  expect(session.isOver, `${key}'s session ended`).toBe(false);
  expect(await kv.get(key), `${key} gone`).toBeDefined();
}

describe.skipIf(skipWhy !== undefined)('session expiry on server processes whose wall clocks jump (libfaketime)', () => {
  const library = 'library' in faketime ? faketime.library : '';

  it("the leader's clock jumps 2 h forward and back, then the leader is killed: the kept session lives, abandoned ones expire after their TTL", async () => {
    const c = await FaketimeCluster.start(library);
    const leader = await c.leader();
    const kv = c.client();
    const kept = await kv.createSession({ ttlMs });
    await kv.put('kept', 'alive', { session: kept.id });

    // Forward 2 h.
    const first = await abandon(c, 'gone/1');
    await c.offset(leader, '+2h');
    await expectExpiresInBounds(kv, first);
    await expectAlive(kv, kept, 'kept');

    // Back 2 h.
    const second = await abandon(c, 'gone/2');
    await c.offset(leader, '+0');
    await expectExpiresInBounds(kv, second);
    await expectAlive(kv, kept, 'kept');

    // The leader, 2 h behind now, is killed; a new one takes over.
    await c.offset(leader, '-2h');
    await sleep(500);
    const third = await abandon(c, 'gone/3');
    await c.kill(leader);
    const rest = c.ids.filter((id) => id !== leader);
    const next = await c.leader(rest);
    const takeoverAt = performance.now();
    expect(next).not.toBe(leader);
    await expectExpiresInBounds(kv, third, takeoverAt);
    await sleep(ttlMs);
    await expectAlive(kv, kept, 'kept');
  }, 30_000);

  it("a follower's clock jumps 2 h back and forward, then it leads, 2 h ahead: the kept session lives, abandoned ones expire after their TTL", async () => {
    const c = await FaketimeCluster.start(library);
    const leader = await c.leader();
    const follower = c.ids.find((id) => id !== leader)!;
    const kv = c.client();
    const kept = await kv.createSession({ ttlMs });
    await kv.put('kept', 'alive', { session: kept.id });

    await c.offset(follower, '-2h');
    const first = await abandon(c, 'gone/1');
    await sleep(1_000);
    await c.offset(follower, '+2h');
    await expectExpiresInBounds(kv, first);
    await expectAlive(kv, kept, 'kept');

    // The follower 2 h ahead takes over.
    const second = await abandon(c, 'gone/2');
    await c.client([leader]).transferLeadership(follower, { timeoutMs: 5_000 });
    expect(await c.leader()).toBe(follower);
    const takeoverAt = performance.now();
    await expectExpiresInBounds(kv, second, takeoverAt);
    await expectAlive(kv, kept, 'kept');
    // And back to 2 h behind, while leading.
    const third = await abandon(c, 'gone/3');
    await c.offset(follower, '-2h');
    await expectExpiresInBounds(kv, third);
    await sleep(ttlMs);
    await expectAlive(kv, kept, 'kept');
  }, 30_000);
});
