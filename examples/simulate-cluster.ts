/**
 * `npm start`: a 3-replica synod cluster in the deterministic simulator. It elects a
 * leader, commits a stream of commands, crashes the leader, fails over, restarts the
 * old leader (which catches up), and checks every safety invariant on the way.
 * One line per event. Run: `npx tsx examples/simulate-cluster.ts [seed]`.
 */
import { Simulator, commandBytes } from '../src/testing/index.js';

const seed = Number(process.argv[2] ?? 2026);
const print = (line: string): void => console.log(line);
const sim = new Simulator({ seed, voters: 3, trace: { sink: print }, diskDelayTicksMax: 1 });

let proposed = 0;
/** Ticks with a workload, and one progress line every 10 ticks. */
const work = (ticks: number): void => {
  for (let t = 0; t < ticks; t++) {
    proposeSome(3);
    sim.tick();
    if (sim.now % 10 === 0) {
      const leader = sim.leader();
      const s = leader === undefined ? undefined : sim.replica(leader)!.status;
      sim.trace.add(sim.now, leader ?? '-', s === undefined ? 'no leader' : `leads; commit index ${s.commitIndex}, ${proposed} commands proposed`);
    }
  }
};
const proposeSome = (count: number): void => {
  for (let i = 0; i < count; i++) {
    if (sim.propose(commandBytes(proposed)).ok) proposed++;
  }
};
const mustHold = (what: string, ok: boolean): void => {
  if (!ok) {
    console.error(`FAILED: ${what}`);
    process.exit(1);
  }
};

print(`synod simulator: 3 voters (n1, n2, n3), majority quorums, seed ${seed}`);
mustHold(
  'a leader is elected',
  sim.runUntil(() => sim.leader() !== undefined, 200),
);
work(40);
const first = sim.leader()!;

sim.trace.add(sim.now, 'sim', `crash the leader ${first}`);
sim.crash(first);
const crashedAt = sim.now;
mustHold(
  'a new leader takes over',
  sim.runUntil(() => sim.leader() !== undefined && sim.leader() !== first, 300),
);
const second = sim.leader()!;
sim.trace.add(sim.now, 'sim', `failover: ${second} leads after ${sim.now - crashedAt} ticks`);

work(30);
sim.trace.add(sim.now, 'sim', `restart ${first}`);
sim.restart(first);
const converged = (): boolean => {
  const commits = sim.ids.map((id) => sim.replica(id)!.status.appliedIndex);
  const prints = new Set(sim.ids.map((id) => sim.fingerprint(id)));
  return commits.every((c) => c === commits[0]) && prints.size === 1 && commits[0]! > 0;
};
mustHold('every replica converges', sim.runUntil(converged, 500));
const status = sim.replica(second)!.status;
sim.trace.add(sim.now, 'sim', `${first} caught up: all replicas at slot ${status.appliedIndex}, state ${sim.fingerprint(second)}`);

const c = sim.invariants.counts;
print('');
print(`proposed ${proposed} commands; ${sim.invariants.chosenSlots} slots chosen; commit index ${status.commitIndex} on every replica`);
print(`checked: ${c.durableWrites} durable writes, ${c.sends} messages, ${c.applies} applies; no safety invariant broken`);
print(`network: ${sim.network.counts.sent} messages sent, ${sim.network.counts.delivered} delivered`);
