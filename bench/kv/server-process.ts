/**
 * One KV server of the benchmark, run by `run.ts` as `node --import tsx
 * server-process.ts CONFIG ID [SNAPSHOT_EVERY_SLOTS]`: a KvServer with the options
 * `synod serve` gives it (FileStorage with fsync on, the default; TcpTransport; a
 * snapshot every {@link snapshotEverySlotsDefault} slots unless told otherwise), from
 * the cluster file `writeLocalCluster` wrote.
 *
 * Requests (see `parent.ts`): `mark`, this process's CPU time and the node's counters
 * now ({@link ServerMark}); `status`, its role and the leader it knows;
 * `profileStart` and `profileStop { path }`, a V8 CPU profile of the main thread in
 * between (the inspector's sampling profiler, {@link profileIntervalMicros}), written
 * to `path`. It closes the server and exits once the benchmark closes the channel.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import { readClusterConfig } from '../../src/cli/cluster-config.js';
import { KvServer } from '../../src/kv/server/index.js';
import { type FileSystem, nodeFileSystem } from '../../src/storage/file/index.js';
import { answerParent, tellReady } from './parent.js';

/** As `synod serve` (src/cli/serve.ts) without `--snapshot-every`. */
const snapshotEverySlotsDefault = 10_000;

/** The CPU profiler's sampling interval, in µs (V8's default is 1,000). */
const profileIntervalMicros = 250;

/** A server's CPU time and counters at one edge of a measured window. */
export interface ServerMark {
  /** Process CPU time so far, user + system, every thread (`process.cpuUsage()`), in µs. */
  readonly cpuMicros: number;
  /** `performance.now()` here, in ms. */
  readonly atMs: number;
  /** Slots applied, and the commands they carried. */
  readonly slotsApplied: number;
  readonly commandsApplied: number;
  /** Storage writes (persists, each a group of the core's outputs) so far. */
  readonly persistWrites: number;
  /** fdatasync and fsync calls on the data directory's files so far. */
  readonly fsyncs: number;
  /** Peer messages received and sent. */
  readonly messagesIn: number;
  readonly messagesOut: number;
  /** Snapshots saved on schedule; times this node campaigned; leader changes it saw. */
  readonly snapshotsSaved: number;
  readonly campaigns: number;
  readonly leaderChanges: number;
  /** System calls of the read and write families so far (sockets and files; `/proc/self/io`), or NaN off Linux. */
  readonly readCalls: number;
  readonly writeCalls: number;
}

/** `syscr` and `syscw` of `/proc/self/io`. */
function ioCalls(): { readCalls: number; writeCalls: number } {
  try {
    const text = readFileSync('/proc/self/io', 'utf8');
    const field = (name: string): number => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
    return { readCalls: field('syscr'), writeCalls: field('syscw') };
  } catch {
    return { readCalls: Number.NaN, writeCalls: Number.NaN };
  }
}

/** A server's view of the cluster. */
export interface ServerStatus {
  readonly role: string | undefined;
  readonly leader: string | undefined;
}

const [configPath, id, snapshotEveryText] = process.argv.slice(2);
if (configPath === undefined || id === undefined) throw new Error('server-process: expected CONFIG ID [SNAPSHOT_EVERY_SLOTS]');
const snapshotEverySlots = snapshotEveryText === undefined ? snapshotEverySlotsDefault : Number(snapshotEveryText);
if (!(Number.isSafeInteger(snapshotEverySlots) && snapshotEverySlots > 0))
  throw new Error(`server-process: snapshot interval ${snapshotEveryText} is not a positive integer`);
const config = await readClusterConfig(configPath);
const member = config.members[id];
if (member === undefined) throw new Error(`server-process: ${id} is not a member of ${configPath}`);
/** The real file system, counting syncs: a learner-only write needs none (persistNeedsSync). */
let fsyncs = 0;
const countingFs: FileSystem = {
  ...nodeFileSystem,
  async open(path, flags) {
    const handle = await nodeFileSystem.open(path, flags);
    return {
      ...handle,
      datasync: () => {
        fsyncs++;
        return handle.datasync();
      },
      sync: () => {
        fsyncs++;
        return handle.sync();
      },
      ...(handle.datasyncSync === undefined
        ? {}
        : {
            datasyncSync: () => {
              fsyncs++;
              handle.datasyncSync!();
            },
          }),
    };
  },
};

const server = new KvServer({
  id,
  clusterId: config.clusterId,
  members: config.members,
  dataDir: member.dataDir,
  secret: config.secret!,
  clientSecret: config.clientSecret!,
  node: { snapshot: { everySlots: snapshotEverySlots } },
  // A sharded server keeps every range in one shared log, which counts no syncs here (fsyncs/op reads 0).
  ...(config.shards === undefined ? { storage: { fs: countingFs } } : { shards: config.shards }),
});
await server.start();

let profiler: Session | undefined;

answerParent(
  {
    mark: (): ServerMark => {
      const cpu = process.cpuUsage();
      const m = server.kv.node.metrics();
      return {
        cpuMicros: cpu.user + cpu.system,
        atMs: performance.now(),
        slotsApplied: m.applied.slots,
        commandsApplied: m.applied.commands,
        persistWrites: m.persist.writes,
        fsyncs,
        messagesIn: m.messages.in,
        messagesOut: m.messages.out,
        snapshotsSaved: m.snapshots.saved,
        campaigns: m.elections.campaigns,
        leaderChanges: m.leaderChanges,
        ...ioCalls(),
      };
    },
    profileStart: async () => {
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.setSamplingInterval', { interval: profileIntervalMicros });
      await profiler.post('Profiler.start');
    },
    profileStop: async (request) => {
      if (profiler === undefined) throw new Error('profileStop: no profile started');
      const { profile } = await profiler.post('Profiler.stop');
      profiler.disconnect();
      profiler = undefined;
      writeFileSync(request['path'] as string, JSON.stringify(profile));
    },
    status: (): ServerStatus => {
      const s = server.kv.node.status();
      return { role: s.role, leader: s.leader };
    },
  },
  () => server.close(),
);
tellReady({ id });
