/**
 * A synod node in its own OS process, for process-cluster.test.ts: FileStorage in the
 * directory it is given, TcpTransport on the port it is given, and a state machine that
 * records every command it applies. The parent drives it over IPC.
 *
 * argv: id, data directory, JSON of { id: port } for the whole cluster. Env: SYNOD_SECRET.
 */
import { createHash } from 'node:crypto';
import { createNode, SynodError, type StateMachine } from '../../../src/index.js';
import { FileStorage } from '../../../src/storage/file/index.js';
import { TcpTransport } from '../../../src/transport/tcp/index.js';

interface Command {
  readonly client: string;
  readonly n: number;
}

/** The replicated state: every command applied, in order. */
class AppliedLog implements StateMachine<Command, number> {
  entries: string[] = [];
  apply(command: Command): number {
    this.entries.push(`${command.client}:${command.n}`);
    return this.entries.length;
  }
  snapshot(): { write(): Promise<Uint8Array> } {
    const copy = [...this.entries];
    return { write: async () => new TextEncoder().encode(JSON.stringify(copy)) };
  }
  restore(data: Uint8Array): void {
    this.entries = JSON.parse(new TextDecoder().decode(data)) as string[];
  }
}

export type Request =
  | { readonly id: number; readonly op: 'propose'; readonly command: Command; readonly seq: number }
  | { readonly id: number; readonly op: 'status' }
  | { readonly id: number; readonly op: 'read' };

export interface StatusReply {
  readonly role: string | undefined;
  readonly leader: string | undefined;
  readonly commitIndex: number;
  readonly applied: number;
  readonly digest: string;
  readonly entries: readonly string[];
  readonly framesRejected: number;
  readonly connectedPeers: readonly string[];
}

const [id, dir, portsJson] = process.argv.slice(2) as [string, string, string];
const ports = JSON.parse(portsJson) as Record<string, number>;
const members = Object.keys(ports);
const transport = new TcpTransport({
  id,
  clusterId: 'process-cluster',
  listen: { host: '127.0.0.1', port: ports[id]! },
  peers: Object.fromEntries(members.filter((m) => m !== id).map((m) => [m, { host: '127.0.0.1', port: ports[m]! }])),
  secret: process.env['SYNOD_SECRET']!,
  reconnectDelayMsMin: 20,
  reconnectDelayMsMax: 300,
});
const record = new AppliedLog();
const node = createNode<Command, number>({
  id,
  members,
  transport,
  storage: await FileStorage.open(dir),
  stateMachine: record,
  tickMs: 10,
  electionTicks: { min: 15, max: 30 },
  // Small, so that snapshots are taken and logs compacted while a node is down.
  snapshot: { everySlots: 5, trailingSlots: 2 },
});
await node.start();

const send = (message: unknown): void => {
  process.send!(message);
};

function status(): StatusReply {
  const s = node.status();
  return {
    role: s.role,
    leader: s.leader,
    commitIndex: s.commitIndex,
    applied: record.entries.length,
    digest: createHash('sha256').update(record.entries.join('\n')).digest('hex').slice(0, 16),
    entries: record.entries,
    framesRejected: transport.stats.framesRejected,
    connectedPeers: transport.connectedPeers(),
  };
}

process.on('message', (raw) => {
  const r = raw as Request;
  const reply = (body: object): void => send({ id: r.id, ...body });
  const fail = (error: unknown): void => reply({ error: error instanceof SynodError ? `${error.name}: ${error.message}` : String(error) });
  if (r.op === 'status') reply({ status: status() });
  else if (r.op === 'read') node.read({ timeoutMs: 2_000 }).then(() => reply({ status: status() }), fail);
  else node.propose(r.command, { timeoutMs: 2_000, request: { clientId: r.command.client, seq: r.seq } }).then((result) => reply({ result }), fail);
});
process.on('disconnect', () => process.exit(0));
send({ ready: true });
