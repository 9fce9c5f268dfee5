/**
 * `synod cluster up`: a local cluster for trying synod. Writes a cluster file, its
 * secrets and data directories under `--dir` (default `./.synod`) the first time, then
 * runs every member as a child process until Ctrl-C. Run it again and the members
 * restart from their data.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { type Args, intOption, option } from './args.js';
import { readClusterConfig, shardCountMax } from './cluster-config.js';
import { UsageError } from './usage-error.js';

/**
 * Ports handed out below the usual ephemeral ranges (Linux starts at 32768, macOS and
 * Windows at 49152): a port the kernel picked for `listen(0)` can be taken a moment later
 * by some outgoing connection's local end, before the member that was meant to bind it
 * starts, and the member then fails with EADDRINUSE. Each process walks the range from
 * its own random start, so two processes rarely try the same port.
 */
const portFirst = 20000;
const portLast = 32767;
let portCursor = portFirst + Math.floor(Math.random() * (portLast - portFirst + 1));

async function portIsFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise<boolean>((done) => {
    server.once('error', () => done(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => done(true)));
  });
}

/** A port free on 127.0.0.1 a moment ago, outside the kernel's ephemeral range. */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 200; tries++) {
    const port = portCursor;
    portCursor = port >= portLast ? portFirst : port + 1;
    if (await portIsFree(port)) return port;
  }
  const server = createServer();
  await new Promise<void>((done) => server.listen({ host: '127.0.0.1', port: 0 }, done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

/** Member ids of a local cluster, one letter each: at most this many members. */
const localIds = 'abcdefghi';

/**
 * Writes a cluster file of `nodes` members on 127.0.0.1 (free ports for peers, clients
 * and metrics), with fresh secrets, unless `dir` holds one already; returns its path.
 * `nodes` is checked before anything is written: a cluster file with no member would
 * break every later `cluster up`. `dir` gets a `.gitignore` of everything, so its
 * secrets are not committed by accident.
 */
export async function writeLocalCluster(dir: string, nodes: number, shards?: number): Promise<string> {
  const path = join(dir, 'cluster.json');
  if (existsSync(path)) return path;
  if (!Number.isSafeInteger(nodes) || nodes < 1 || nodes > localIds.length)
    throw new UsageError('synod cluster up', '--nodes', `must be 1 to ${localIds.length}, not ${nodes}`);
  if (shards !== undefined && !(Number.isSafeInteger(shards) && shards >= 1 && shards <= shardCountMax))
    throw new UsageError('synod cluster up', '--shards', `must be 1 to ${shardCountMax}, not ${shards}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, '.gitignore'), '# secrets and data of a local synod cluster: never commit them\n*\n');
  const members: Record<string, { peer: string; client: string; metrics: string; dataDir: string }> = {};
  for (const id of localIds.slice(0, nodes)) {
    members[id] = { peer: `127.0.0.1:${await freePort()}`, client: `127.0.0.1:${await freePort()}`, metrics: `127.0.0.1:${await freePort()}`, dataDir: id };
  }
  await writeFile(join(dir, 'secret'), randomBytes(32).toString('hex'), { mode: 0o600 });
  await writeFile(join(dir, 'client-secret'), randomBytes(32).toString('hex'), { mode: 0o600 });
  await writeFile(
    path,
    `${JSON.stringify(
      {
        clusterId: `local-${randomBytes(4).toString('hex')}`,
        members,
        secretFile: 'secret',
        clientSecretFile: 'client-secret',
        ...(shards === undefined ? {} : { shards }),
      },
      null,
      2,
    )}\n`,
  );
  return path;
}

/** Starts `synod serve` for member `id` as a child of this process (the same runtime and loader). */
function spawnMember(configPath: string, id: string, extra: readonly string[] = []): ChildProcess {
  return spawn(process.execPath, [...process.execArgv, process.argv[1]!, 'serve', '--config', configPath, '--id', id, ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export async function clusterUp(args: Args): Promise<number> {
  const dir = resolve(option(args, 'dir', '.synod')!);
  const nodes = intOption(args, 'nodes');
  const shards = intOption(args, 'shards');
  for (const [flag, given] of [
    ['--nodes', nodes],
    ['--shards', shards],
  ] as const) {
    if (given !== undefined && existsSync(join(dir, 'cluster.json')))
      throw new UsageError(
        'synod cluster up',
        flag,
        `is for a new cluster, and ${join(dir, 'cluster.json')} exists: start it without ${flag}, or use another --dir`,
      );
  }
  const path = await writeLocalCluster(dir, nodes ?? 3, shards);
  const config = await readClusterConfig(path);
  const children = Object.keys(config.members).map((id) => {
    const child = spawnMember(path, id);
    const prefix = (data: Buffer) =>
      data
        .toString()
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => `[${id}] ${l}\n`)
        .join('');
    child.stdout!.on('data', (d: Buffer) => process.stdout.write(prefix(d)));
    child.stderr!.on('data', (d: Buffer) => process.stderr.write(prefix(d)));
    return child;
  });
  console.log(
    `synod: cluster ${config.clusterId} (${Object.keys(config.members).join(', ')}) from ${path}; try: synod put hello world --config ${path}; Ctrl-C stops it`,
  );
  const exited = children.map((child) => new Promise<number>((done) => child.once('exit', (code) => done(code ?? 1))));
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    void Promise.race(exited).then(() => done());
  });
  for (const child of children) child.kill('SIGTERM');
  const codes = await Promise.all(exited);
  return codes.every((c) => c === 0) ? 0 : 1;
}
