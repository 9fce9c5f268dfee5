import { type NodeId, SynodError } from '../core/index.js';
import type { GroupQuiescence } from '../groups/index.js';
import type { Transport } from '../runtime/index.js';
import type { ScheduledFault } from './faults.js';
import { type GroupOfSimulation, GroupsSimulation, type GroupsSimulationOptions, type SimulatedGroup } from './groups-simulation.js';
import { Prng } from './prng.js';
import { LivenessFailure } from './run-simulation.js';
import type { SimulatedNodeOptions } from './runtime-simulation.js';
import { type NetworkConditions, type SimNetwork, calmNetwork } from './sim-network.js';
import { workload } from './workload.js';

/**
 * A whole run of many groups over shared processes: proposals and reads spread over
 * the groups while faults strike the processes, then a healed network. Times are
 * virtual milliseconds.
 */
export interface GroupsSimulationConfig {
  /** Seeds the hosts, the network, every group's nodes and disks, and the workload. */
  readonly seed: number;
  /** Processes, 1 to 9. */
  readonly hosts: number;
  /** The groups and the hosts their voters run on. */
  readonly groups: readonly SimulatedGroup[];
  /** Commands proposed, each to a group drawn at random and one of its live members, over the first 80% of the safety phase. */
  readonly proposals: number;
  /** Linearizable reads, likewise. Default half of `proposals`. */
  readonly reads?: number;
  /** Length of the safety phase, when faults strike, in ms. */
  readonly safetyMs: number;
  /** Faults, each at a time (ms) of the safety phase, addressed by host index. */
  readonly faults: readonly ScheduledFault[];
  /** Longest delay before a write is durable, in ms. Default 5. */
  readonly persistDelayMsMax?: number;
  /** Initial network conditions. Default calm. */
  readonly network?: NetworkConditions;
  /** More node options for every group's nodes. */
  readonly node?: SimulatedNodeOptions;
  /** Whether messages cross the network through the binary codec. Default true. */
  readonly encode?: boolean;
  /** Whether a group's node may take only its own group's messages (see {@link GroupsSimulationOptions.checkIsolation}). Default true. */
  readonly checkIsolation?: boolean;
  /** How long the healed groups have to settle every promise and converge, in ms. Default 20,000. */
  readonly livenessMsMax?: number;
  /** A decorator around each host's shared transport (see {@link GroupsSimulationOptions.wrapTransport}). */
  readonly wrapTransport?: (host: NodeId, transport: Transport) => Transport;
  /** Trace lines kept, and a sink for every line. */
  readonly trace?: { readonly limit?: number; readonly sink?: (line: string) => void };
  /** Idle groups quiesce, and hosts watch each other for them (see {@link GroupsSimulationOptions.quiescence}). Default off. */
  readonly quiescence?: GroupQuiescence | undefined;
}

/** What a run did. */
export interface GroupsSimulationResult {
  /** Virtual ms run in all. */
  readonly ms: number;
  /** Virtual ms the healed groups needed to settle and converge. */
  readonly livenessMs: number;
  /** Per group: slots chosen (per the acceptors' durable state) and commands in its converged log. */
  readonly groups: readonly { readonly id: number; readonly chosenSlots: number; readonly commands: number; readonly acknowledged: number }[];
  /** What the hosts delivered and dropped, over every incarnation. */
  readonly hosts: GroupsSimulation['hostCounts'];
  readonly network: SimNetwork['counts'];
}

/**
 * Runs many groups over shared processes ({@link GroupsSimulation}) through one
 * scenario: proposals and reads at random groups and members while `faults` strike the
 * processes, every group's safety checks running as events happen; then the network
 * heals, crashed processes restart, and every group must settle every promise and
 * converge within `livenessMsMax`; a fresh proposal to each group must then commit.
 * Each group's commands name the group (`{ g, w }`), so a command that reaches another
 * group's log breaks that group's validity check.
 *
 * Throws `SafetyViolation` (naming the group) or {@link LivenessFailure}, with the
 * end of the trace; returns statistics otherwise.
 *
 * @example
 * ```ts
 * await runGroupsSimulation({
 *   seed: 1, hosts: 4, groups: [{ id: 1, members: [0, 1, 2] }, { id: 2, members: [1, 2, 3] }],
 *   proposals: 20, safetyMs: 1_500, faults: [{ at: 500, fault: { kind: 'crash', node: 1 } }],
 * });
 * ```
 */
export async function runGroupsSimulation(config: GroupsSimulationConfig): Promise<GroupsSimulationResult> {
  const sim = new GroupsSimulation({
    seed: config.seed,
    hosts: config.hosts,
    groups: config.groups,
    ...(config.persistDelayMsMax !== undefined ? { persistDelayMsMax: config.persistDelayMsMax } : {}),
    ...(config.network !== undefined ? { network: config.network } : {}),
    ...(config.node !== undefined ? { node: config.node } : {}),
    ...(config.encode !== undefined ? { encode: config.encode } : {}),
    ...(config.checkIsolation !== undefined ? { checkIsolation: config.checkIsolation } : {}),
    ...(config.wrapTransport !== undefined ? { wrapTransport: config.wrapTransport } : {}),
    ...(config.trace !== undefined ? { trace: config.trace } : {}),
    ...(config.quiescence !== undefined ? { quiescence: config.quiescence } : {}),
  });
  try {
    return await drive(sim, config);
  } catch (e) {
    if (e instanceof LivenessFailure) {
      e.message = `${e.message}\n${sim.describe()}\n  at t=${sim.now}; last host events:\n${sim.trace.tail(30).join('\n')}`;
    } else if (e instanceof SynodError) {
      e.message = `${e.message}\n  last host events:\n${sim.trace.tail(30).join('\n')}`;
    }
    throw e;
  }
}

async function drive(sim: GroupsSimulation, config: GroupsSimulationConfig): Promise<GroupsSimulationResult> {
  const random = new Prng(config.seed ^ 0x5bd1e995);
  const events = workload(config, random);
  await sim.start();

  /** A live member of `group`, drawn at random. */
  const pick = (group: GroupOfSimulation): NodeId | undefined => {
    const up = group.members.filter((id) => group.sim.isUp(id));
    return up.length === 0 ? undefined : up[random.int(up.length)];
  };
  const someGroup = (): GroupOfSimulation => sim.groups[random.int(sim.groups.length)]!;

  // Safety phase: the workload and the faults.
  for (const e of events) {
    if (e.at > sim.now) await sim.advance(e.at - sim.now);
    switch (e.kind) {
      case 'propose': {
        const group = someGroup();
        const node = pick(group);
        if (node !== undefined) group.sim.propose(node, { g: group.id, w: e.i }).catch(() => {});
        break;
      }
      case 'read': {
        const group = someGroup();
        const node = pick(group);
        if (node !== undefined) group.sim.read(node).catch(() => {});
        break;
      }
      case 'fault':
        await sim.inject(e.fault);
        break;
    }
  }
  if (config.safetyMs > sim.now) await sim.advance(config.safetyMs - sim.now);

  // Liveness phase: heal, restart every process; every group must settle and converge.
  sim.heal();
  sim.network(calmNetwork);
  for (const id of sim.hostIds) await sim.restart(id);
  const start = sim.now;
  const livenessMsMax = config.livenessMsMax ?? 20_000;
  const settled = (): boolean => sim.pending().length === 0 && sim.converged();
  if (!(await sim.runUntil(settled, livenessMsMax))) {
    const pending = sim.pending();
    const behind = sim.groups.filter((g) => !g.sim.converged()).map((g) => g.id);
    throw new LivenessFailure(
      `the healed groups did not settle and converge within ${livenessMsMax} ms: ${pending.length} promise(s) pending` +
        `${pending.length > 0 ? ` (${pending.slice(0, 3).join('; ')})` : ''}; groups not converged: ${behind.join(', ') || 'none'}`,
    );
  }
  // Then a fresh proposal to every group commits: each healed group makes progress.
  const probes = sim.groups.map((g) => g.sim.propose(pick(g)!, { g: g.id, probe: true }, { timeoutMs: livenessMsMax }));
  let done = 0;
  // A probe that rejects leaves `done` short: a liveness failure below, never an unhandled rejection.
  for (const p of probes)
    p.then(
      () => done++,
      () => {},
    );
  if (!(await sim.runUntil(() => done === probes.length && settled(), livenessMsMax))) {
    throw new LivenessFailure(`a proposal made to every healed group did not commit in each within ${livenessMsMax} ms (${sim.pending().join('; ')})`);
  }
  const livenessMs = sim.now - start;
  sim.finish();
  return {
    ms: sim.now,
    livenessMs,
    groups: sim.groups.map((g) => ({
      id: g.id,
      chosenSlots: g.sim.invariants.chosenSlots,
      commands: g.sim.applied(g.members[0]!).length,
      acknowledged: g.sim.counts.acknowledged,
    })),
    hosts: { ...sim.hostCounts, dropped: { ...sim.hostCounts.dropped } },
    network: { ...sim.hub.network.counts },
  };
}
