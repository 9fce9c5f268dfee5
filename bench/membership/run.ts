/**
 * Membership benchmark: how long adding a member takes to a cluster holding a given
 * amount of KV data, how fast the snapshot travels, and what the change costs the writes
 * running meanwhile.
 *
 * For each size: three `synod serve` processes on 127.0.0.1 (FileStorage, fsync on,
 * a snapshot every 1,000 slots; every 10,000 from 1 GB, where each snapshot is a 1 GB
 * write on every server: with one every 1,000 slots, every few seconds here, a member
 * took 51 s to join in one run and was no voter after 10 minutes in another), loaded
 * with `size` MB of 64 KiB values, then enough small writes for every server to
 * snapshot past the data and compact its log (else a member joining an idle cluster
 * catches up from the log, and no snapshot travels). Then two joins, each a server
 * started with `synod serve --join`: added as an observer, sent the snapshot and the
 * log, promoted once caught up.
 * - **idle**: member `d` joins the idle cluster, and is removed again: the transfer rate
 *   the issue's target is about;
 * - **under load**: `--clients` clients, each a closed loop of compare-and-sets on its
 *   own key, warm up for 1 s per 100 MB (at least 1 s) and run `--seconds` s (the
 *   baseline); then member `e` joins: the CAS/s during the change against the baseline.
 *
 * Reported for each join:
 * - the transfer, as the new member logs it ('installed a snapshot from a peer'): from
 *   its first chunk to the snapshot being durable in its storage (the stream's last
 *   bytes written and synced, the file renamed into place); its bytes ÷ that time is
 *   the transfer rate. Beside it, the phases (the chunks arriving; the storage's
 *   commit; installing the snapshot in the KV) and the sending leader's own figure,
 *   from the request to send (before the stored snapshot is opened) to the member's
 *   word that it holds the snapshot durably and installed. "transfers" counts those
 *   started to the member: more than 1 (it needed another, or one was refused or given
 *   up) and the figures are the last one's;
 * - the join, from the process's start to being a voter, and in brackets the part
 *   before the server listened;
 * - CAS/s during the join against the baseline, and (last column) from the new member's
 *   listening to its being a voter: the change without its process's start.
 *
 * Floors of the same run (measured before the servers start), for the transfer: reading
 * a file of the same size (written and synced first, so probably from the page cache:
 * an upper bound on a disk read), and streaming the same bytes over one loopback TCP
 * connection. Targets (the issue): the transfer at least 50% of the slower floor; CAS/s
 * during the change at least 70% of before. For context, two more rates: writing the
 * same bytes to a file and syncing it; and a checked, durable pipeline between two
 * processes (`durable-receiver.mjs`: the bytes read from a file and CRC'd on one side,
 * CRC'd, written and synced on the other, with no protocol at all), the most a transfer
 * that checks what it receives and makes it durable can do on this machine. And after
 * the loaded join, CAS/s for as long again with the new member voting: on one machine
 * the new member takes its share of the cores the others serve on, which a real new
 * member's machine would not, so "during ÷ after" is the change's own cost.
 *
 * A benchmark, not a test: it reports and never fails on its numbers.
 * The servers run the built CLI (dist/, rebuilt first when a source is newer), with the
 * node flags in `SYNOD_BENCH_NODE_ARGS` if set (`--cpu-prof --cpu-prof-dir=DIR` profiles
 * each server). Run with
 * `npx tsx bench/membership/run.ts [--sizes 10,100] [--clients 64] [--seconds 5]`
 * (`--sizes 10,100,1000` adds the 1 GB point: about 2.5 minutes more here, 10 GB of
 * disk and 13 GB of memory at its peak; not in `npm run bench`).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, open, readFile, readdir, rm, stat } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { createInterface } from 'node:readline';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { readClusterConfig } from '../../src/cli/cluster-config.js';
import { freePort, writeLocalCluster } from '../../src/cli/cluster-up.js';
import { KvClient } from '../../src/kv/client/index.js';

const argv = process.argv.slice(2);
const arg = (name: string, fallback: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
};
let dbgT0 = 0;
const sizesMb = arg('sizes', '10,100').split(',').map(Number);
const clientCount = Number(arg('clients', '64'));
const seconds = Number(arg('seconds', '5'));
const valueBytes = 64 * 1024;
const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
/**
 * The servers run the built CLI, as an installed package runs it: under tsx, compiling
 * the sources took a joining server about 1 s of CPU, on the cores the others serve on.
 * Built first (`npm run build`) when any source is newer than the build.
 */
const cli = join(root, 'dist', 'cli', 'synod.js');

/** The newest modification time under `dir`, in ms. */
async function newestUnder(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) newest = Math.max(newest, (await stat(join(entry.parentPath, entry.name))).mtimeMs);
  }
  return newest;
}

async function ensureBuilt(): Promise<void> {
  const built = await stat(cli).then(
    (s) => s.mtimeMs,
    () => 0,
  );
  if (built >= (await newestUnder(join(root, 'src')))) return;
  console.log('building the CLI (npm run build): the sources changed since the last build');
  const run = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (run.status !== 0) throw new Error(`npm run build failed (exit ${run.status})`);
}

/** MB/s writing a `bytes`-byte file in `dir` and syncing it, then reading it back. */
async function diskRates(dir: string, bytes: number): Promise<{ write: number; read: number }> {
  const path = join(dir, 'floor.bin');
  const writeStart = performance.now();
  const file = await open(path, 'w');
  const chunk = Buffer.alloc(1 << 20, 7);
  for (let written = 0; written < bytes; written += chunk.byteLength) await file.write(chunk);
  await file.sync();
  await file.close();
  const writeMs = performance.now() - writeStart;
  const start = performance.now();
  const data = await readFile(path);
  const ms = performance.now() - start;
  await rm(path);
  return { write: bytes / 1e6 / (writeMs / 1000), read: data.byteLength / 1e6 / (ms / 1000) };
}

/** MB/s streaming `bytes` bytes over one loopback TCP connection. */
async function loopbackRate(bytes: number): Promise<number> {
  let received = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const server = createServer((socket) =>
    socket.on('data', (b: Buffer) => {
      received += b.byteLength;
      if (received >= bytes) done();
    }),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const socket = connect(port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  const chunk = Buffer.alloc(1 << 20, 7);
  const start = performance.now();
  for (let sent = 0; sent < bytes; sent += chunk.byteLength) {
    if (!socket.write(chunk)) await new Promise((r) => socket.once('drain', r));
  }
  await finished;
  const ms = performance.now() - start;
  socket.destroy();
  server.close();
  return bytes / 1e6 / (ms / 1000);
}

/**
 * MB/s of the least a checked, durable transfer does, between two processes as a
 * leader and a joining member are: this process reads a file of `bytes` bytes in 4 MiB
 * pieces, CRCs each and writes it to a loopback socket; `durable-receiver.mjs` CRCs what
 * arrives, writes it to a file and syncs it. Timed, as the member's transfer is, from
 * the receiver's first byte to its file being durable.
 */
async function durablePipelineRate(dir: string, bytes: number): Promise<number> {
  const source = join(dir, 'pipeline-source.bin');
  const piece = Buffer.alloc(4 << 20);
  for (let i = 0; i < piece.byteLength; i++) piece[i] = (i * 131) & 0xff;
  const out = await open(source, 'w');
  for (let written = 0; written < bytes; written += piece.byteLength) await out.write(piece, 0, Math.min(piece.byteLength, bytes - written));
  await out.close();
  const receiver = spawn(process.execPath, [fileURLToPath(new URL('durable-receiver.mjs', import.meta.url)), join(dir, 'pipeline-copy.bin'), String(bytes)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: receiver.stdout! })[Symbol.asyncIterator]();
  const { port } = JSON.parse(String((await lines.next()).value)) as { port: number };
  const socket = connect(port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  const input = await open(source, 'r');
  let crc = 0;
  for (let at = 0; at < bytes; ) {
    const buffer = Buffer.allocUnsafe(Math.min(4 << 20, bytes - at));
    const { bytesRead } = await input.read(buffer, 0, buffer.byteLength, at);
    at += bytesRead;
    crc = zlibCrc32(buffer.subarray(0, bytesRead), crc);
    if (!socket.write(buffer.subarray(0, bytesRead))) await new Promise((r) => socket.once('drain', r));
  }
  await input.close();
  const result = JSON.parse(String((await lines.next()).value)) as { ms: number; bytes: number; crc: number };
  socket.destroy();
  if (result.crc !== crc) throw new Error(`the pipeline floor's receiver saw CRC ${result.crc}, not ${crc}`);
  await rm(source);
  await rm(join(dir, 'pipeline-copy.bin'));
  return result.bytes / 1e6 / (result.ms / 1000);
}

/** What a joining member's servers told, from the logs: its transfers, its phases, when it listened. */
interface Seen {
  transfersStarted: number;
  transfer: { bytes: number; ms: number } | undefined;
  listening: number | undefined;
  listeningOps: number;
  /** When the leader logged the configuration that first names the member (as an observer), and the CAS count then. */
  added: number | undefined;
  addedOps: number;
  phases: { receiveMs: number; saveMs: number; installMs: number } | undefined;
}

/** One join's figures: the member `id` joining, the CAS loop running or not. */
interface Join {
  readonly seen: Seen;
  /** When its process was started. */
  readonly t0: number;
  readonly changeMs: number;
  /** CAS/s from the start of the join to the member's promotion, and from its listening. */
  readonly during: number;
  readonly afterStart: number;
  /** CAS/s from the configuration that adds the member (chosen, as the leader logs it) to its promotion. */
  readonly afterAdded: number;
}

async function point(sizeMb: number): Promise<string[]> {
  const dir = await mkdtemp(join(process.env['SYNOD_BENCH_DIR'] ?? os.tmpdir(), 'synod-bench-membership-'));
  // The floors first, on a quiet machine: measured after the join they met the servers
  // writing their snapshots (a 1 GB point's disk floor fell to 105 MB/s).
  const values = Math.ceil((sizeMb * 1e6) / valueBytes);
  const bytes = values * valueBytes;
  const { read: disk, write: durable } = await diskRates(dir, bytes);
  const net = await loopbackRate(bytes);
  const pipeline = await durablePipelineRate(dir, bytes);
  const configPath = await writeLocalCluster(dir, 3);
  const config = await readClusterConfig(configPath);
  const snapshotEvery = sizeMb >= 1000 ? 10_000 : 1_000;
  const children = new Map<string, ChildProcess>();
  const seen = new Map<string, Seen>();
  /** Compare-and-sets completed by the workload so far. */
  let ops = 0;
  const serve = (id: string, extra: readonly string[] = []) => {
    const s: Seen = { transfersStarted: 0, transfer: undefined, listening: undefined, listeningOps: 0, added: undefined, addedOps: 0, phases: undefined };
    seen.set(id, s);
    const child = spawn(
      process.execPath,
      [
        ...(process.env['SYNOD_BENCH_NODE_ARGS'] ?? '').split(' ').filter(Boolean),
        cli,
        'serve',
        '--verbose',
        '--config',
        configPath,
        '--id',
        id,
        '--snapshot-every',
        String(snapshotEvery),
        ...extra,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.set(id, child);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.includes('serving clients') && s.listening === undefined) {
        s.listening = performance.now();
        s.listeningOps = ops;
      }
    });
    createInterface({ input: child.stderr! }).on('line', (line) => {
      let entry: { message?: unknown; to?: unknown; bytes?: unknown; ms?: unknown; [field: string]: unknown };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        return;
      }
      if (entry.message === 'installed a snapshot from a peer') {
        const { receiveMs, saveMs, installMs } = entry as Record<string, unknown>;
        if (typeof receiveMs === 'number' && typeof saveMs === 'number' && typeof installMs === 'number') s.phases = { receiveMs, saveMs, installMs };
      }
      if (process.env['DBG'] && typeof entry['time'] === 'string' && entry.message !== 'snapshot saved')
        console.error(`${id} +${Date.parse(entry['time']) - dbgT0} ${String(entry.message)} ${line.slice(0, 160)}`);
      if (entry.message === 'configuration chosen') {
        const c = entry['configuration'] as { observers?: unknown; voters?: unknown } | undefined;
        for (const [member, m] of seen) {
          const named = [c?.observers, c?.voters].some((list) => Array.isArray(list) && list.includes(member));
          if (named && m.added === undefined && member !== id) {
            m.added = performance.now();
            m.addedOps = ops;
          }
        }
      }
      const to = typeof entry.to === 'string' ? seen.get(entry.to) : undefined;
      if (to === undefined) return;
      if (entry.message === 'sending a snapshot') to.transfersStarted++;
      if (entry.message === 'sent a snapshot' && typeof entry.bytes === 'number' && typeof entry.ms === 'number')
        to.transfer = { bytes: entry.bytes, ms: entry.ms };
    });
  };
  const endpoints = Object.values(config.members).map((m) => m.client);
  const newClient = (i: number, only?: (typeof endpoints)[number]) =>
    new KvClient({
      endpoints: only !== undefined ? [only] : [...endpoints.slice(i % 3), ...endpoints.slice(0, i % 3)],
      clusterId: config.clusterId,
      secret: config.clientSecret!,
      requestTimeoutMs: 10_000,
    });
  const loader = newClient(0);
  const clients = Array.from({ length: clientCount }, (_, i) => newClient(i));
  /** One client per first member: a membership change must be asked of the leader. */
  const admins = endpoints.map((e, i) => newClient(i, e));
  /** Starts `id` with `--join` and waits until it votes. */
  const join_ = async (id: string): Promise<Join> => {
    const peer = await freePort();
    const client = await freePort();
    const mark = ops;
    const t0 = performance.now();
    dbgT0 = Date.now();
    const timeline: number[] = [];
    let last = ops;
    const sampler = setInterval(() => {
      timeline.push(ops - last);
      last = ops;
    }, 100);
    serve(id, ['--join', '--peer', `127.0.0.1:${peer}`, '--client', `127.0.0.1:${client}`, '--data-dir', join(dir, id)]);
    for (;;) {
      const voters = (await loader.members().catch(() => undefined))?.configuration.voters ?? [];
      if (voters.includes(id)) break;
      if (performance.now() - t0 > 600_000) throw new Error(`${id} did not become a voter within 10 minutes`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const changeMs = performance.now() - t0;
    clearInterval(sampler);
    if (process.env['DBG']) console.error(id, 'ops per 100 ms:', timeline.join(' '));
    const s = seen.get(id)!;
    return {
      seen: s,
      t0,
      changeMs,
      during: (ops - mark) / (changeMs / 1000),
      // From the new member's listening on: the change itself, without its process's start
      // (loading the code on the cores the others serve on).
      afterStart: s.listening === undefined ? Number.NaN : (ops - s.listeningOps) / ((t0 + changeMs - s.listening) / 1000),
      afterAdded: s.added === undefined ? Number.NaN : (ops - s.addedOps) / ((t0 + changeMs - s.added) / 1000),
    };
  };
  /** Removes `id` from the configuration through whichever first member leads, then stops its process. */
  const remove = async (id: string): Promise<void> => {
    for (let t = performance.now(); ; ) {
      const answers = await Promise.allSettled(admins.map((a) => a.changeMembers({ type: 'remove', id }, { timeoutMs: 10_000 })));
      if (answers.some((a) => a.status === 'fulfilled')) break;
      if (performance.now() - t > 30_000)
        throw new Error(`could not remove ${id}: ${answers.map((a) => (a.status === 'rejected' ? String(a.reason) : '')).join('; ')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await stop(children.get(id)!);
  };
  const row = (load: string, j: Join, before: number | undefined, after: number | undefined): string => {
    const floor = Math.min(disk, net);
    const startMs = j.seen.listening === undefined ? Number.NaN : j.seen.listening - j.t0;
    const t = j.seen.transfer;
    const p = j.seen.phases;
    // The transfer: from the new member's first chunk to its snapshot being durable.
    const toDurableMs = p === undefined ? Number.NaN : p.receiveMs + p.saveMs;
    const rate = t === undefined ? Number.NaN : t.bytes / 1e6 / (toDurableMs / 1000);
    const met = (ok: boolean) => (ok ? 'met' : 'not met');
    return [
      `| ${sizeMb} MB`,
      load,
      t === undefined ? 'none (caught up from the log)' : `${(t.bytes / 1e6).toFixed(1)} MB, ${j.seen.transfersStarted}`,
      t === undefined ? '–' : `${toDurableMs} ms, ${rate.toFixed(1)} MB/s`,
      t === undefined ? '–' : `${(rate / floor).toFixed(3)}${before === undefined ? ` ${met(rate / floor >= 0.5)}` : ''}`,
      `${disk.toFixed(0)} / ${net.toFixed(0)} / ${durable.toFixed(0)} / ${pipeline.toFixed(0)} MB/s`,
      t === undefined ? '–' : `${(rate / pipeline).toFixed(2)}`,
      p === undefined ? '–' : `${p.receiveMs} / ${p.saveMs} / ${p.installMs} ms`,
      t === undefined ? '–' : `${t.ms} ms`,
      `${Math.round(j.changeMs)} ms (${Math.round(startMs)})`,
      before === undefined ? '–' : `${Math.round(before)}`,
      before === undefined ? '–' : `${Math.round(j.during)}`,
      before === undefined ? '–' : `${(j.during / before).toFixed(2)} ${met(j.during / before >= 0.7)}`,
      before === undefined ? '–' : `${Math.round(j.afterStart)}, ${(j.afterStart / before).toFixed(2)}`,
      before === undefined ? '–' : `${Math.round(j.afterAdded)}, ${(j.afterAdded / before).toFixed(2)} ${met(j.afterAdded / before >= 0.7)}`,
      after === undefined || before === undefined ? '– |' : `${Math.round(after)}, ${(after / before).toFixed(2)}, ${(j.during / after).toFixed(2)} |`,
    ].join(' | ');
  };
  try {
    for (const id of Object.keys(config.members)) serve(id);
    for (let t = performance.now(); ; ) {
      try {
        await loader.put('warmup', 'x');
        break;
      } catch (error) {
        if (performance.now() - t > 30_000) throw error;
      }
    }
    // A put that fails (a leader change while the cluster snapshots) is made again: the
    // same value under the same key, so a repeat changes nothing but the version.
    const putAll = async (count: number, key: (i: number) => string, value: Uint8Array | string, parallel: number) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: parallel }, async () => {
          while (next < count) {
            const k = key(next++);
            for (let attempt = 1; ; attempt++) {
              try {
                await loader.put(k, value);
                break;
              } catch (error) {
                if (attempt >= 10) throw error;
                await new Promise((r) => setTimeout(r, 100));
              }
            }
          }
        }),
      );
    };
    // The data: 64 KiB values, 16 writes at a time. Then small writes one at a time (a
    // slot each: concurrent ones share slots), enough for the servers to snapshot past
    // the data and compact their logs: a member joining now needs the snapshot (else an
    // idle cluster's joiner would catch up from the log).
    await putAll(values, (i) => `data/${String(i).padStart(8, '0')}`, new Uint8Array(valueBytes).fill(42), 16);
    await putAll(2 * snapshotEvery + 500, (i) => `pad/${i % 100}`, 'x', 1);
    // Settle: the snapshots those writes triggered are still being written (each a write
    // of the whole data on every server).
    await new Promise((r) => setTimeout(r, 1_000 * Math.max(1, sizeMb / 100)));
    // The transfer on an idle cluster: the rate the issue's target is about.
    const idle = await join_('d');
    await remove('d');
    // The workload: each client a closed loop of compare-and-sets on its own key.
    let stopping = false;
    const loops = clients.map(async (c, i) => {
      let version = 0;
      while (!stopping) {
        try {
          version = (await c.put(`cas/${i}`, String(version), { expectedVersion: version })).version;
          ops++;
        } catch {
          await new Promise((r) => setTimeout(r, 10));
          version = (await c.get(`cas/${i}`).catch(() => undefined))?.version ?? version;
        }
      }
    });
    // A warm-up, longer for more data: the snapshots the load triggered (every 64 MiB of
    // commands) are still being written, and each write holds up the log's.
    await new Promise((r) => setTimeout(r, 1_000 * Math.max(1, sizeMb / 100)));
    const mark = ops;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const before = (ops - mark) / ((performance.now() - t0) / 1000);
    // The change under load: a fifth server joins, is sent the snapshot, and is promoted.
    const loaded = await join_('e');
    // After: the same load with the new member voting (four members on the same cores).
    const markAfter = ops;
    const tAfter = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const after = (ops - markAfter) / ((performance.now() - tAfter) / 1000);
    stopping = true;
    await Promise.all(loops);
    return [row('idle', idle, undefined, undefined), row(`${clientCount} CAS clients`, loaded, before, after)];
  } finally {
    await Promise.all([loader, ...clients, ...admins].map((c) => c.close()));
    await Promise.all([...children.values()].map(stop));
    await rm(dir, { recursive: true, force: true });
  }
}

/** Ends a server process (SIGTERM) and waits for it. */
function stop(c: ChildProcess): Promise<unknown> | undefined {
  return c.exitCode !== null || c.signalCode !== null
    ? undefined
    : new Promise((r) => {
        c.once('exit', r);
        c.kill('SIGTERM');
      });
}

const cpus = os.cpus();
await ensureBuilt();
console.log(
  `membership benchmark: ${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}; ${clientCount} CAS clients, ${seconds} s baseline`,
);
console.log(
  '| data | load | snapshot sent, transfers | transfer: first chunk to durable, rate | ÷ slower floor (target ≥ 0.5, idle) | floors: file read / loopback / durable write / checked durable pipeline | ÷ pipeline | new member: chunks / durable / installed | leader: request to installed | join to voter (process start) | CAS/s before | during | ratio (target ≥ 0.7) | CAS/s from listening to voter, ratio | CAS/s from being added (observer chosen) to voter, ratio | CAS/s after, with the member voting: CAS/s, ÷ before, during ÷ after |',
);
console.log('|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---|');
for (const size of sizesMb) for (const line of await point(size)) console.log(line);
process.exit(0);
