/**
 * Every `synod` command: its words, its options and what runs it. The one table the
 * parser checks a command line against and `help` is written from, so the two never
 * disagree.
 */
import type { Args, OptionSpec, OptionTable } from './args.js';
import { authCommand } from './auth-commands.js';
import { clientCommand } from './client-commands.js';
import { clusterUp } from './cluster-up.js';
import { memberCommand } from './member-commands.js';
import { recover } from './recover.js';
import { serve } from './serve.js';
import { sessionCommand } from './session-commands.js';
import { snapshotCommand } from './snapshot-commands.js';

/** One command. */
export interface CommandSpec {
  /** Its name, one or two words: `put`, `member add`. */
  readonly name: string;
  /** Placeholders of the words it takes after its name; optional ones in brackets, last. */
  readonly words: readonly string[];
  /** What it does, for help. */
  readonly summary: string;
  /** More lines of help (examples, notes), if any. */
  readonly details?: readonly string[];
  readonly options: OptionTable;
  /** Runs it; resolves with the exit code. */
  readonly run: (args: Args) => Promise<number>;
}

const config: OptionSpec = { type: 'string', value: 'FILE', help: 'the cluster file (default .synod/cluster.json)' };
const json: OptionSpec = { type: 'boolean', help: 'print JSON' };
const client = { config, json } as const;
const timeoutMs = (what: string, ms: number): OptionSpec => ({
  type: 'string',
  value: 'MS',
  // Grouped by hand: toLocaleString loads ICU's locale data, about 50 ms of every start of the CLI.
  help: `how long to wait for ${what}, in ms (default ${String(ms).replace(/\B(?=(\d{3})+$)/g, ',')})`,
});
const peer: OptionSpec = { type: 'string', value: 'HOST:PORT', help: "the new member's address for its peers" };
const clientAddress: OptionSpec = { type: 'string', value: 'HOST:PORT', help: "the new member's address for clients" };

const member = (name: string, words: readonly string[], summary: string, options: OptionTable = {}): CommandSpec => ({
  name: `member ${name}`,
  words,
  summary,
  options: { ...client, 'timeout-ms': timeoutMs('the change', 60_000), ...options },
  run: (args) => memberCommand('member', args),
});

/** The commands, in the order help lists them. */
export const commands: readonly CommandSpec[] = [
  {
    name: 'cluster up',
    words: [],
    summary: 'run a local cluster until Ctrl-C (writes DIR/cluster.json, secrets and data the first time)',
    options: {
      dir: { type: 'string', value: 'DIR', help: 'where the cluster file, secrets and data go (default .synod)' },
      nodes: { type: 'string', value: 'N', help: 'members of a new cluster, 1 to 9 (default 3)' },
      shards: { type: 'string', value: 'N', help: 'a new cluster keeps its keys in N ranges, each its own group (default one group, not sharded)' },
    },
    run: clusterUp,
  },
  {
    name: 'serve',
    words: [],
    summary: 'run one member of a cluster file until SIGINT or SIGTERM',
    details: [
      '/metrics, /healthz and /readyz over HTTP on --metrics or the member\'s "metrics" address, if any.',
      'With --join: start a new member and have the cluster add it (a voter once caught up, unless --observer).',
      "With --join --zk: it answers ZooKeeper clients there too (an observer does, as ZooKeeper's observers do).",
    ],
    options: {
      config,
      id: { type: 'string', value: 'ID', help: 'the member to run (required)' },
      metrics: { type: 'string', value: 'HOST:PORT', help: 'serve /metrics, /healthz and /readyz here (default the member\'s "metrics" address, else none)' },
      'ready-lag-max': { type: 'string', value: 'N', help: '/readyz fails beyond N slots of lag (default 1,000)' },
      'tick-ms': { type: 'string', value: 'MS', help: "the protocol tick, in ms (default the runtime's)" },
      'snapshot-every': { type: 'string', value: 'N', help: 'take a snapshot every N applied slots (default 10,000)' },
      'zk-node-check-ms': { type: 'string', value: 'MS', help: 'how often the leader deletes ZooKeeper containers and TTL nodes due, in ms (default 60,000)' },
      verbose: { type: 'boolean', help: 'log at info and debug too (default warn and above)' },
      join: { type: 'boolean', help: 'a new member, not in the cluster file: have the cluster add it' },
      peer: { type: 'string', value: 'HOST:PORT', help: 'with --join: where it listens for peers' },
      client: { type: 'string', value: 'HOST:PORT', help: 'with --join: where it listens for clients' },
      'data-dir': { type: 'string', value: 'DIR', help: 'with --join: its data directory' },
      observer: { type: 'boolean', help: 'with --join: stay an observer (do not become a voter)' },
      zk: { type: 'string', value: 'HOST:PORT', help: "with --join: answer ZooKeeper clients here (the cluster file's members must carry the tree)" },
      'timeout-ms': timeoutMs('the join', 300_000),
    },
    run: async (args) => {
      await serve(args);
      return 0;
    },
  },
  {
    name: 'put',
    words: ['KEY', '[VALUE]'],
    summary: 'write VALUE (- reads it from stdin) or --file FILE to KEY',
    options: {
      ...client,
      file: { type: 'string', value: 'FILE', help: "the value is FILE's bytes" },
      'expected-version': { type: 'string', value: 'N', help: "write only if KEY's version is N (0: only if absent)" },
      sequential: { type: 'boolean', help: 'KEY is a prefix: write KEY followed by the next sequence number' },
    },
    run: (args) => clientCommand('put', args),
  },
  {
    name: 'get',
    words: ['KEY'],
    summary: "print KEY's value (exit status 1 if absent)",
    options: {
      ...client,
      serializable: { type: 'boolean', help: "read the connected member's copy, which may lag (default linearizable)" },
      revision: { type: 'string', value: 'N', help: 'read as of revision N' },
    },
    run: (args) => clientCommand('get', args),
  },
  {
    name: 'del',
    words: ['KEY'],
    summary: 'delete KEY (exit status 1 if absent)',
    options: { ...client, 'expected-version': { type: 'string', value: 'N', help: "delete only if KEY's version is N" } },
    run: (args) => clientCommand('del', args),
  },
  {
    name: 'range',
    words: ['[PREFIX]'],
    summary: 'print the keys under PREFIX (default all), or from --start to --end',
    options: {
      ...client,
      start: { type: 'string', value: 'KEY', help: 'the first key (with --end)' },
      end: { type: 'string', value: 'KEY', help: 'the key after the last (with --start)' },
      limit: { type: 'string', value: 'N', help: 'at most N keys' },
      revision: { type: 'string', value: 'N', help: 'read as of revision N' },
    },
    run: (args) => clientCommand('range', args),
  },
  {
    name: 'txn',
    words: ['JSON'],
    summary: 'run a transaction: if every compare holds, the success ops, else the failure ops (- reads JSON from stdin)',
    details: [
      `e.g. '{"compare":[{"key":"k","target":"version","op":"==","value":0}],"success":[{"op":"put","key":"k","value":"v"}]}'`,
      'compare targets: version, value, modRevision, createRevision; ops: ==, !=, <, >; txn ops: put, delete, range',
    ],
    options: client,
    run: (args) => clientCommand('txn', args),
  },
  {
    name: 'watch',
    words: ['KEY|PREFIX'],
    summary: 'print changes to KEY, or to the keys under PREFIX with --prefix, until Ctrl-C',
    options: {
      ...client,
      prefix: { type: 'boolean', help: 'KEY is a prefix' },
      from: {
        type: 'string',
        value: 'REVISION',
        help: 'start at REVISION (default now); on a sharded cluster GROUP:REVISION,... (each range its own, as events print them)',
      },
      count: { type: 'string', value: 'N', help: 'stop after N events' },
    },
    run: (args) => clientCommand('watch', args),
  },
  {
    name: 'compact',
    words: ['REVISION'],
    summary: 'forget the history before REVISION (reads and watches of older revisions fail)',
    options: client,
    run: (args) => clientCommand('compact', args),
  },
  {
    name: 'status',
    words: [],
    summary: "every member's role, leader, commit index, applied index and lag (exit status 1 if one is unreachable)",
    options: client,
    run: (args) => clientCommand('status', args),
  },
  {
    name: 'session list',
    words: [],
    summary: 'the live sessions: id, TTL, keys it owns',
    options: client,
    run: (args) => sessionCommand(args),
  },
  {
    name: 'session revoke',
    words: ['ID'],
    summary: 'end session ID now, deleting its ephemeral keys',
    options: client,
    run: (args) => sessionCommand(args),
  },
  member('list', [], 'who votes, who observes, where each listens'),
  member('add', ['ID'], 'add a member: an observer, promoted once caught up unless --observer', {
    peer,
    client: clientAddress,
    observer: { type: 'boolean', help: 'leave it an observer' },
  }),
  member('promote', ['ID'], 'make the observer ID a voter once it caught up'),
  member('demote', ['ID'], 'make the voter ID an observer'),
  member('remove', ['ID'], 'remove ID from the cluster (stop it only once this returned)'),
  member('replace', ['OLD', 'NEW'], "NEW (an observer, added first if it is not one) takes the voter OLD's place in one change", {
    peer,
    client: clientAddress,
  }),
  {
    name: 'leader transfer',
    words: ['ID'],
    summary: 'hand leadership to the voter ID',
    options: { ...client, 'timeout-ms': timeoutMs('the transfer', 60_000) },
    run: (args) => memberCommand('leader', args),
  },
  {
    name: 'user put',
    words: ['NAME'],
    summary: "add or replace a user of the replicated state (with the cluster file's root rights)",
    options: {
      ...client,
      roles: { type: 'string', value: 'R1,R2', help: 'its roles, comma-separated' },
      'secret-file': { type: 'string', value: 'FILE', help: 'a file holding its secret, 32 characters or more' },
      'certificate-names': { type: 'string', value: 'N1,N2', help: 'TLS client certificate names (CN or alternative names) that log in as it' },
    },
    run: (args) => authCommand('user', args),
  },
  {
    name: 'user delete',
    words: ['NAME'],
    summary: 'remove a user; its connections are closed at their next request',
    options: client,
    run: (args) => authCommand('user', args),
  },
  {
    name: 'user list',
    words: [],
    summary: 'the users: roles, whether each has a secret, certificate names (never a secret)',
    options: client,
    run: (args) => authCommand('user', args),
  },
  {
    name: 'role put',
    words: ['NAME', 'PERMISSIONS'],
    summary: 'add or replace a role with exactly these permissions',
    details: ['PERMISSIONS is a JSON list, e.g. \'[{"prefix":"app/","access":"readwrite"},{"key":"config","access":"read"}]\''],
    options: client,
    run: (args) => authCommand('role', args),
  },
  { name: 'role delete', words: ['NAME'], summary: 'remove a role, and from every user holding it', options: client, run: (args) => authCommand('role', args) },
  { name: 'role list', words: [], summary: 'the roles and their permissions', options: client, run: (args) => authCommand('role', args) },
  {
    name: 'recover',
    words: [],
    summary: 'a majority is gone for good: make the stopped survivor --id the only voter',
    options: {
      config,
      id: { type: 'string', value: 'ID', help: 'the surviving member (required)' },
      'force-new-cluster': { type: 'boolean', help: 'required: says you know what it does (docs/operations.md, "Losing a majority")' },
      'data-dir': { type: 'string', value: 'DIR', help: "its data directory (default the cluster file's)" },
    },
    run: recover,
  },
  {
    name: 'snapshot save',
    words: ['FILE'],
    summary: 'a consistent snapshot of the cluster, through the leader, to a new FILE (with a SHA-256)',
    options: { config, 'timeout-ms': timeoutMs('the snapshot', 120_000) },
    run: snapshotCommand,
  },
  {
    name: 'snapshot restore',
    words: ['FILE'],
    summary: "seed the data directory of a new cluster (the cluster file's: a new id, one member) with FILE's KV state",
    options: {
      config,
      id: { type: 'string', value: 'ID', help: "the new cluster's member (default the cluster file's only one)" },
      'data-dir': { type: 'string', value: 'DIR', help: "its data directory (must be the cluster file's)" },
    },
    run: snapshotCommand,
  },
  {
    name: 'snapshot info',
    words: ['FILE'],
    summary: 'check FILE and say what it holds',
    options: {},
    run: snapshotCommand,
  },
];
