#!/usr/bin/env node
/**
 * The `synod` command: run a KV server, try a local cluster, and talk to one.
 *
 *   synod cluster up [--dir .synod] [--nodes 3]
 *   synod serve --config FILE --id ID [--metrics H:P] [--ready-lag-max N] [--tick-ms N] [--verbose]
 *   synod put KEY VALUE [--expected-version N] [--sequential]
 *   synod get KEY [--serializable] [--revision N]
 *   synod del KEY [--expected-version N]
 *   synod range [PREFIX] [--start K --end K] [--limit N] [--revision N]
 *   synod txn JSON
 *   synod watch KEY|PREFIX [--prefix] [--from REVISION] [--count N]
 *   synod status
 *   synod snapshot save FILE | restore FILE [--id ID] [--data-dir D] | info FILE
 *   synod user put|delete|list, synod role put|delete|list (auth-commands.ts)
 *
 * Client commands read the cluster file from `--config` (default .synod/cluster.json);
 * `--json` prints machine-readable output.
 */
import { parseArgs } from './args.js';
import { errorLine } from './error-text.js';
import { clientCommand } from './client-commands.js';
import { clusterUp } from './cluster-up.js';
import { authCommand, authUsage } from './auth-commands.js';
import { memberCommand } from './member-commands.js';
import { recover } from './recover.js';
import { serve } from './serve.js';
import { snapshotCommand } from './snapshot-commands.js';

const usage = `usage: synod <command> [options]
  cluster up [--dir .synod] [--nodes 3]      run a local cluster until Ctrl-C
  serve --config FILE --id ID [--metrics H:P] [--ready-lag-max N]
                                             run one member of a cluster file; /metrics, /healthz and /readyz
                                             over HTTP on --metrics or the member's "metrics" address, if any;
                                             /readyz fails beyond N slots of lag (default 1000)
  put KEY VALUE [--expected-version N] [--sequential]
  get KEY [--serializable] [--revision N]
  del KEY [--expected-version N]
  range [PREFIX] [--start K --end K] [--limit N] [--revision N]
  txn JSON                                   e.g. '{"compare":[{"key":"k","target":"version","op":"==","value":0}],"success":[{"op":"put","key":"k","value":"v"}]}'
  watch KEY|PREFIX [--prefix] [--from REVISION] [--count N]
  status                                     every member: role, leader, commit index, lag
  member list                                who votes, who observes, where each listens
  member add ID --peer H:P --client H:P [--observer]   add a member (an observer, promoted once caught up unless --observer)
  member promote ID | demote ID | remove ID
  member replace OLD NEW [--peer H:P --client H:P]   NEW (an observer, added first if it is not one) takes the voter OLD's place in one change
  leader transfer ID                         hand leadership to the voter ID
  serve --config FILE --id ID --join --peer H:P --client H:P --data-dir D [--observer] [--metrics H:P]
                                             start a new member and have the cluster add it (as a voter once caught up, unless --observer)
  recover --id ID --force-new-cluster [--data-dir D]
                                             a majority is gone for good: make the stopped survivor ID the only voter
  snapshot save FILE [--timeout-ms N]        a consistent snapshot of the cluster, through the leader, to a new FILE (with a SHA-256)
  snapshot restore FILE [--id ID] [--data-dir D]
                                             seed the data directory of a new cluster (the cluster file's: a new id, ID alone) with FILE's KV state
  snapshot info FILE                         check FILE and say what it holds
${authUsage}
client commands: --config FILE (default .synod/cluster.json), --json`;

async function main(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, new Set(['json', 'serializable', 'sequential', 'prefix', 'verbose', 'help', 'observer', 'join', 'force-new-cluster']));
  const [command, sub] = args.positional;
  if (command === undefined || args.options.has('help')) {
    console.log(usage);
    return command === undefined ? 2 : 0;
  }
  if (command === 'serve') {
    await serve(args);
    return 0;
  }
  if (command === 'cluster' && sub === 'up') return clusterUp(args);
  if (['put', 'get', 'del', 'range', 'txn', 'watch', 'status'].includes(command)) return clientCommand(command, args);
  if (command === 'member' || command === 'leader') return memberCommand(command, args);
  if (command === 'recover') return recover(args);
  if (command === 'snapshot') return snapshotCommand(args);
  if (command === 'user' || command === 'role') return authCommand(command, args);
  console.error(usage);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`synod: ${errorLine(error)}`);
    process.exit(1);
  },
);
