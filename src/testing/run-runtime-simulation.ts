import { type NodeId, SynodError } from '../core/index.js';
import type { ScheduledFault } from './faults.js';
import { Prng } from './prng.js';
import { LivenessFailure } from './run-simulation.js';
import { RuntimeSimulation, type RuntimeSimulationCounts, type RuntimeSimulationOptions, type SimulatedNodeOptions } from './runtime-simulation.js';
import { type NetworkConditions, type SimNetwork, calmNetwork } from './sim-network.js';
import { workload } from './workload.js';
import type { QuorumSpec } from './simulator.js';

/**
 * A whole run of real runtime nodes: a workload of proposals and reads under faults,
 * then a healed network. Times are virtual milliseconds.
 */
export interface RuntimeSimulationConfig {
  /** Seeds the cluster, the network, the disks and the workload. */
  readonly seed: number;
  /** Voting members, 1 to 9. */
  readonly voters: number;
  /** Observers. Default 0. */
  readonly observers?: number;
  /** Spare nodes a `changeMembers` fault may add (see {@link RuntimeSimulationOptions.spares}). Default 0. */
  readonly spares?: number;
  /** The configuration window, in slots. Default the runtime's, 256. */
  readonly windowSlots?: number;
  /** Default majority. */
  readonly quorum?: QuorumSpec;
  /** Commands proposed, spread over the first 80% of the safety phase, each to a random live node (followers forward). */
  readonly proposals: number;
  /** Linearizable reads, at random live nodes over the safety phase. Default half of `proposals`. */
  readonly reads?: number;
  /**
   * Share of proposals made as an explicit request (`{ clientId, seq }` of one of three
   * simulated clients); those that fail are retried with the same identity once the
   * network heals, and must then be applied exactly once. Default 0.5.
   */
  readonly explicitRequestRate?: number;
  /** Length of the safety phase, when faults strike, in ms. */
  readonly safetyMs: number;
  /** Faults, each at a time (ms) of the safety phase. */
  readonly faults: readonly ScheduledFault[];
  /** Longest delay before a write is durable, in ms. Default 5. */
  readonly persistDelayMsMax?: number;
  /** Initial network conditions. Default calm. */
  readonly network?: NetworkConditions;
  /** More node options (limits, timeouts). */
  readonly node?: SimulatedNodeOptions;
  /** How long the healed cluster has to settle every promise, retry and converge, in ms. Default 20,000. */
  readonly livenessMsMax?: number;
  /** How long a fresh proposal to the converged cluster may take to commit, in ms. Default 60,000. */
  readonly probeMsMax?: number;
  /** Trace lines kept, and a sink for every line. */
  readonly trace?: { readonly limit?: number; readonly sink?: (line: string) => void };
}

/** What a run did. */
export interface RuntimeSimulationResult {
  /** Virtual ms run in all. */
  readonly ms: number;
  /** Virtual ms the healed cluster needed to converge. */
  readonly livenessMs: number;
  /**
   * Virtual ms a fresh proposal took to commit once the cluster converged: large when
   * the leader still works off a backlog of duplicate forwards.
   */
  readonly probeMs: number;
  /** Slots chosen, per the acceptors' durable state. */
  readonly chosenSlots: number;
  /** Commands in the converged log. */
  readonly commands: number;
  /** The latest configuration's id: how many membership changes took effect. */
  readonly configurations: number;
  /** The latest configuration's voters. */
  readonly voters: readonly NodeId[];
  readonly counts: RuntimeSimulationCounts;
  readonly network: SimNetwork['counts'];
  readonly checks: RuntimeSimulation['invariants']['counts'];
}

/** One explicit request of a simulated client, and its latest attempt. */
interface Request {
  readonly command: { readonly w: number };
  readonly clientId: string;
  readonly seq: number;
  state: 'pending' | 'failed' | 'ok';
  /** Where the latest attempt runs: a crash of that incarnation fails it. */
  attempt: { node: NodeId; incarnation: number } | undefined;
  result: number | undefined;
}

/**
 * Runs real runtime nodes through one simulated scenario: proposals (to leaders and
 * followers, half with an explicit request identity) and reads while `faults` strike,
 * every safety check of {@link RuntimeSimulation} running as events happen; then the
 * network heals, crashed members restart, failed explicit requests are retried, and the
 * cluster must settle every promise and converge within `livenessMsMax`. Finally,
 * every acknowledged proposal must be in every member's replica, and each retried
 * request's result must name the position where it was applied, once.
 *
 * With membership changes, "member" means a member of the latest configuration the
 * chosen log holds, as it stands when each check runs. A removed node is restarted
 * too (a removed voter still answers for the slots it voted in, which a leader may
 * need), and checked for safety like the rest, but not waited for, sent client
 * requests, or required to hold what was chosen after its removal (see
 * {@link RuntimeSimulation.converged}).
 *
 * Throws {@link SafetyViolation} or {@link LivenessFailure} (with the end of the
 * trace); returns statistics otherwise.
 *
 * @example
 * ```ts
 * await runRuntimeSimulation({
 *   seed: 1, voters: 3, proposals: 40, safetyMs: 3_000,
 *   faults: [{ at: 1_000, fault: { kind: 'crashLeader' } }, { at: 2_000, fault: { kind: 'restart', node: 0 } }],
 * });
 * ```
 */
export async function runRuntimeSimulation(config: RuntimeSimulationConfig): Promise<RuntimeSimulationResult> {
  const sim = new RuntimeSimulation({
    seed: config.seed,
    voters: config.voters,
    ...(config.observers !== undefined ? { observers: config.observers } : {}),
    ...(config.spares !== undefined ? { spares: config.spares } : {}),
    ...(config.windowSlots !== undefined ? { windowSlots: config.windowSlots } : {}),
    ...(config.quorum !== undefined ? { quorum: config.quorum } : {}),
    ...(config.persistDelayMsMax !== undefined ? { persistDelayMsMax: config.persistDelayMsMax } : {}),
    ...(config.network !== undefined ? { network: config.network } : {}),
    ...(config.node !== undefined ? { node: config.node } : {}),
    ...(config.trace !== undefined ? { trace: config.trace } : {}),
  });
  try {
    return await drive(sim, config);
  } catch (e) {
    if (e instanceof LivenessFailure) {
      e.message = `${e.message}\n${sim.describe()}\n  at t=${sim.now}; last trace lines:\n${sim.trace.tail(60).join('\n')}`;
    } else if (e instanceof SynodError && !e.message.includes('last trace lines')) {
      e.message = `${e.message}\n  at t=${sim.now}; last trace lines:\n${sim.trace.tail(60).join('\n')}`;
    }
    throw e;
  }
}

async function drive(sim: RuntimeSimulation, config: RuntimeSimulationConfig): Promise<RuntimeSimulationResult> {
  const random = new Prng(config.seed ^ 0x2545f491);
  const clients = ['c1', 'c2', 'c3'];
  const seqs = new Map<string, number>();
  const requests: Request[] = [];
  const events = workload(config, random);
  await sim.start();

  // Clients use any live node during the faults, only members once healed.
  let healed = false;
  const live = (): NodeId[] => (healed ? sim.memberIds() : sim.ids).filter((id) => sim.isUp(id));
  const pick = (): NodeId | undefined => {
    const up = live();
    return up.length === 0 ? undefined : up[random.int(up.length)];
  };
  const attempt = (r: Request): void => {
    const node = pick();
    if (node === undefined) return;
    r.state = 'pending';
    r.attempt = { node, incarnation: sim.incarnation(node) };
    sim.propose(node, r.command, { request: { clientId: r.clientId, seq: r.seq } }).then(
      (result) => {
        r.state = 'ok';
        r.result = result;
      },
      () => {
        r.state = 'failed';
      },
    );
  };
  /** An attempt on a node that crashed since will never settle: count it failed. */
  const noticeCrashes = (): void => {
    for (const r of requests) {
      if (r.state === 'pending' && r.attempt !== undefined && (!sim.isUp(r.attempt.node) || sim.incarnation(r.attempt.node) !== r.attempt.incarnation))
        r.state = 'failed';
    }
  };

  // Safety phase: the workload and the faults.
  for (const e of events) {
    if (e.at > sim.now) await sim.advance(e.at - sim.now);
    switch (e.kind) {
      case 'propose': {
        const command = { w: e.i };
        if (random.chance(config.explicitRequestRate ?? 0.5)) {
          const clientId = clients[random.int(clients.length)]!;
          const seq = (seqs.get(clientId) ?? 0) + 1;
          seqs.set(clientId, seq);
          const r: Request = { command, clientId, seq, state: 'failed', attempt: undefined, result: undefined };
          requests.push(r);
          attempt(r);
        } else {
          const node = pick();
          if (node !== undefined) sim.propose(node, command).catch(() => {});
        }
        break;
      }
      case 'read': {
        const node = pick();
        if (node !== undefined) sim.read(node).catch(() => {});
        break;
      }
      case 'fault':
        await sim.inject(e.fault);
        break;
    }
  }
  if (config.safetyMs > sim.now) await sim.advance(config.safetyMs - sim.now);

  // Liveness phase: heal, restart, retry what failed; everything must settle and converge.
  sim.heal();
  sim.network(calmNetwork);
  healed = true;
  // Every node ever started, removed ones too (a spare nobody added stays down).
  const restartAll = async (): Promise<void> => {
    for (const id of sim.ids) if (!sim.isUp(id) && sim.isStartable(id)) await sim.restart(id);
  };
  await restartAll();
  const start = sim.now;
  const livenessMsMax = config.livenessMsMax ?? 20_000;
  const done = (): boolean => requests.every((r) => r.state === 'ok') && sim.pending().length === 0 && sim.converged();
  while (!done() && sim.now - start < livenessMsMax) {
    noticeCrashes();
    for (const r of requests) if (r.state === 'failed') attempt(r);
    await sim.runUntil(done, Math.min(100, livenessMsMax - (sim.now - start)));
  }
  if (!done()) {
    const failed = requests.filter((r) => r.state !== 'ok').map((r) => `${r.clientId}#${r.seq} ${r.state}`);
    const pending = sim.pending();
    throw new LivenessFailure(
      `the healed cluster did not settle and converge within ${livenessMsMax} ms: ` +
        `${failed.length} request(s) not acknowledged${failed.length > 0 ? ` (${failed.slice(0, 5).join(', ')})` : ''}; ` +
        `${pending.length} promise(s) pending${pending.length > 0 ? ` (${pending.slice(0, 3).join('; ')})` : ''}; converged: ${sim.converged()}`,
    );
  }
  // Then a fresh proposal commits too: the healed cluster makes progress. It may queue
  // behind a backlog the leader still works off, so it gets its own, longer wait.
  const probeStart = sim.now;
  const probeMsMax = config.probeMsMax ?? 60_000;
  const sendProbe = async (): Promise<{ node: NodeId; abort: AbortController; promise: Promise<number> }> => {
    // Followers that refuse proposals send the probe to the leader, as a client would.
    const reject = config.node?.followerProposals === 'reject';
    if (reject) await sim.runUntil(() => sim.leader() !== undefined, probeMsMax);
    const node = reject ? (sim.leader() ?? pick()!) : pick()!;
    const abort = new AbortController();
    const promise = sim.propose(node, { probe: true }, { timeoutMs: probeMsMax, signal: abort.signal });
    promise.catch(() => {});
    return { node, abort, promise };
  };
  let probe = await sendProbe();
  const settled = (): boolean => sim.pending().length === 0 && sim.converged();
  while (!settled() && sim.now - probeStart < probeMsMax) {
    // A configuration chosen meanwhile (the second step of a joint change, a change the
    // faults left in flight) may remove the node holding the probe. A removed node hears
    // of no leader, so what it holds only times out: the client gives up on it and asks
    // a member.
    if (!sim.memberIds().includes(probe.node)) {
      probe.abort.abort();
      probe = await sendProbe();
    }
    await sim.runUntil(settled, Math.min(100, probeMsMax - (sim.now - probeStart)));
  }
  if (!settled()) {
    throw new LivenessFailure(`a proposal made to the healed cluster at t=${probeStart} did not commit within ${probeMsMax} ms (${sim.pending().join('; ')})`);
  }
  const probeMs = sim.now - probeStart;
  await sim.settle(probe.promise, 0);
  sim.finish();

  // A retried request's result is the position where it was applied, once, on every member.
  const members = sim.memberIds();
  for (const r of requests) {
    for (const id of members) {
      const at = sim.applied(id)[r.result!];
      if (at === undefined || at.clientId !== r.clientId || at.seq !== r.seq) {
        throw new LivenessFailure(
          `${r.clientId}#${r.seq} resolved with position ${r.result}, but ${id} holds ${at === undefined ? 'nothing' : `${at.clientId}#${at.seq}`} there`,
        );
      }
    }
  }
  const commands = sim.applied(members[0]!).length;
  return {
    ms: sim.now,
    livenessMs: probeStart - start,
    probeMs,
    chosenSlots: sim.invariants.chosenSlots,
    commands,
    configurations: sim.latestConfiguration.id,
    voters: [...sim.latestConfiguration.voters],
    counts: { ...sim.counts, rejections: { ...sim.counts.rejections } },
    network: { ...sim.hub.network.counts },
    checks: { ...sim.invariants.counts },
  };
}
