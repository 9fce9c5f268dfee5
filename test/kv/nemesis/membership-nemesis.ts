/**
 * The membership side of the nemesis: one change at a time, each retried through the
 * leader until the configuration shows it (a timed-out change may have been chosen
 * anyway). A voter is replaced by a spare server with a new id and an empty data
 * directory (added as an observer, then promoted and the old one removed, or put in its
 * place in one joint change; the old one's process killed), a voter is demoted and
 * promoted back, leadership is handed to another voter. After `heal()`, the change under
 * way must finish within 60 s.
 */
import type { ClusterConfig } from '../../../src/cli/cluster-config.js';
import { onLeader } from '../../../src/cli/member-commands.js';
import type { Configuration, MembershipChange } from '../../../src/core/index.js';
import type { KvClient } from '../../../src/kv/client/index.js';
import type { TcpAddress } from '../../../src/transport/tcp/index.js';
import { Prng } from '../../../src/testing/index.js';
import type { ServerProcesses } from './server-processes.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A server that may join later, replacing a voter: its addresses are fixed up front, so clients can be told of them from the start. */
export interface Spare {
  readonly id: string;
  readonly peer: TcpAddress;
  readonly client: TcpAddress;
  readonly dataDir: string;
}

export interface MembershipNemesisOptions {
  readonly config: ClusterConfig;
  readonly servers: ServerProcesses;
  /** Members whose processes should run: a spare joins it, a retired voter leaves it. */
  readonly active: Set<string>;
  /** Taken from the front as they join. */
  readonly spares: Spare[];
  /** Seeds the choice of changes. */
  readonly seed: number;
  /** No change starts after this (performance.now()). */
  readonly endAt: number;
  readonly note: (line: string) => void;
}

export interface MembershipNemesis {
  /** The voters the changes that finished lead to. */
  readonly voters: ReadonlySet<string>;
  /** Changes started so far. */
  changes(): number;
  /** Runs `run` against the leader (the spares' addresses included). */
  ask<T>(run: (kv: KvClient) => Promise<T>): Promise<T>;
  /** The faults are over: the change under way must finish within 60 s from now. */
  heal(): void;
  /** Resolves once the last change has finished. */
  readonly done: Promise<void>;
}

export function startMembershipNemesis(o: MembershipNemesisOptions): MembershipNemesis {
  const { config, servers, active, spares, note } = o;
  const spareClients = spares.map((s) => s.client);
  let giveUpAt = Number.POSITIVE_INFINITY;
  const voters = new Set(Object.keys(config.members));
  const ask = <T>(run: (kv: KvClient) => Promise<T>) => onLeader(config, run, spareClients);
  const ensure = async (what: string, done: (c: Configuration) => boolean, change: MembershipChange | { type: 'transfer'; id: string }) => {
    const startedAt = performance.now();
    for (;;) {
      if (performance.now() > giveUpAt) throw new Error(`membership: ${what} did not finish within 60 s of healing`);
      try {
        const { configuration } = await ask((kv) => kv.members({ timeoutMs: 2_000 }));
        if (done(configuration)) break;
        await ask((kv) =>
          change.type === 'transfer'
            ? kv.transferLeadership(change.id, { timeoutMs: 3_000 }).then(() => undefined)
            : kv.changeMembers(change, { timeoutMs: 5_000 }),
        );
        if (change.type === 'transfer') break;
      } catch {
        await sleep(200);
      }
    }
    note(`membership: ${what} in ${Math.round(performance.now() - startedAt)} ms`);
  };
  const isMember = (c: Configuration, id: string) => c.voters.includes(id) || c.observers.includes(id) || c.leaving?.voters.includes(id) === true;
  let changes = 0;
  const changing = new Prng(o.seed + 1);
  const changeMembers = async () => {
    const kind = changing.int(4);
    const current = [...voters];
    const victim = current[changing.int(current.length)]!;
    changes++;
    const spare = spares.shift();
    if (kind <= 1 && spare !== undefined) {
      note(`membership: replace ${victim} by ${spare.id}`);
      servers.joinArgs.set(
        spare.id,
        JSON.stringify({ peer: `${spare.peer.host}:${spare.peer.port}`, client: `${spare.client.host}:${spare.client.port}`, dataDir: spare.dataDir }),
      );
      active.add(spare.id);
      await servers.start(spare.id);
      const address = `${spare.peer.host}:${spare.peer.port},${spare.client.host}:${spare.client.port}`;
      await ensure(`add observer ${spare.id}`, (c) => isMember(c, spare.id), { type: 'addObserver', id: spare.id, address });
      if (kind === 0) {
        // In two changes: promote, then remove.
        await ensure(`promote ${spare.id}`, (c) => c.voters.includes(spare.id), { type: 'promote', id: spare.id });
        voters.add(spare.id);
        await ensure(`remove ${victim}`, (c) => !isMember(c, victim), { type: 'remove', id: victim });
      } else {
        // In one change, through a joint configuration.
        await ensure(`replace ${victim} by ${spare.id}`, (c) => !isMember(c, victim) && c.voters.includes(spare.id) && c.leaving === undefined, {
          type: 'replace',
          remove: victim,
          add: spare.id,
        });
        voters.add(spare.id);
      }
      voters.delete(victim);
      active.delete(victim);
      note(`membership: retire ${victim}`);
      servers.kill(victim, 'SIGCONT');
      servers.kill(victim, 'SIGKILL');
      return;
    }
    if (spare !== undefined) spares.unshift(spare);
    if (kind === 2) {
      note(`membership: demote and promote ${victim}`);
      await ensure(`demote ${victim}`, (c) => !c.voters.includes(victim) && c.leaving === undefined, { type: 'demote', id: victim });
      voters.delete(victim);
      await sleep(changing.int(2_000));
      await ensure(`promote ${victim}`, (c) => c.voters.includes(victim), { type: 'promote', id: victim });
      voters.add(victim);
    } else {
      await ensure(`transfer leadership to ${victim}`, () => false, { type: 'transfer', id: victim });
    }
  };
  const done = (async () => {
    while (performance.now() < o.endAt) {
      await sleep(1_000 + changing.int(2_000));
      await changeMembers();
    }
  })();
  return {
    voters,
    changes: () => changes,
    ask,
    heal() {
      giveUpAt = performance.now() + 60_000;
    },
    done,
  };
}
