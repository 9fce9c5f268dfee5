import { SynodError } from '../core/index.js';
import type { ScheduledFault } from './faults.js';
import { SafetyViolation } from './invariants.js';
import { type SimNetwork, calmNetwork } from './sim-network.js';
import { Simulator, type SimulatorOptions } from './simulator.js';

/** A whole simulated run: a workload under faults, then a healed network. */
export interface SimulationConfig extends SimulatorOptions {
  /** Commands the client proposes, spread over the first 80% of the safety phase. */
  readonly proposals: number;
  /** Ticks of the safety phase, when faults happen. */
  readonly safetyTicks: number;
  /** Faults, each at a tick of the safety phase. */
  readonly faults: readonly ScheduledFault[];
  /** Ticks the healed cluster has to commit every proposal and converge. Default 3,000. */
  readonly livenessTicksMax?: number;
  /**
   * Ticks after which a client proposes a command again if it was not applied; each
   * further retry of a command waits twice as long, up to 16 times this (a command that
   * is only queued behind a slow pipeline would otherwise be proposed again and again,
   * and its copies fill the leader's queue). A command the leader reports dropped is
   * proposed again at once. Default 60.
   */
  readonly resubmitTicks?: number;
}

/** What a run did. */
export interface SimulationResult {
  /** Ticks run in all. */
  readonly ticks: number;
  /** Ticks the healed cluster needed to converge. */
  readonly livenessTicks: number;
  /** Slots chosen (per the acceptors' durable state). */
  readonly chosenSlots: number;
  /** Membership changes that took effect (the latest configuration's id). */
  readonly configurations: number;
  readonly network: SimNetwork['counts'];
  readonly checks: Simulator['invariants']['counts'];
}

/** The healed cluster did not commit every proposal or converge in time. */
export class LivenessFailure extends SynodError {
  constructor(message: string) {
    super('LIVENESS', message);
  }
}

const encoder = new TextEncoder();

/** The bytes of the simulated client's `i`-th command. */
export function commandBytes(i: number): Uint8Array {
  return encoder.encode(`c${i}`);
}

/**
 * Runs one simulation: a client proposes `proposals` commands while `faults` strike
 * during `safetyTicks`, every safety invariant checked as events happen; then the
 * network heals, crashed nodes restart, and every proposal must be applied and every
 * live replica converge to the same state within `livenessTicksMax`.
 *
 * Throws {@link SafetyViolation} or {@link LivenessFailure} with the end of the trace
 * in the message; returns statistics otherwise.
 */
export function runSimulation(config: SimulationConfig): SimulationResult {
  const sim = new Simulator(config);
  try {
    return drive(sim, config);
  } catch (e) {
    if (e instanceof SynodError) {
      const trace = sim.trace.tail(60).join('\n');
      e.message = `${e.message}\n  at t=${sim.now}; last trace lines:\n${trace}`;
    }
    throw e;
  }
}

function drive(sim: Simulator, config: SimulationConfig): SimulationResult {
  const total = config.proposals;
  const resubmitTicks = config.resubmitTicks ?? 60;
  const applied = new Uint8Array(total);
  let appliedCount = 0;
  const lastSubmitted = new Float64Array(total).fill(-Infinity);
  /** Times each command was proposed since it was last reported dropped: its backoff. */
  const attempts = new Uint8Array(total);
  const byKey = new Map<string, number>();
  for (let i = 0; i < total; i++) byKey.set(`c${i}`, i);
  const decoder = new TextDecoder();
  sim.onApply = (_node, _slot, command) => {
    const i = byKey.get(decoder.decode(command));
    if (i !== undefined && applied[i] === 0) {
      applied[i] = 1;
      appliedCount++;
    }
  };
  sim.onDropped = (commands) => {
    for (const c of commands) {
      const i = byKey.get(decoder.decode(c));
      if (i !== undefined) {
        lastSubmitted[i] = -Infinity;
        attempts[i] = 0;
      }
    }
  };
  let released = 0;
  const submitPhase = Math.max(1, Math.floor(config.safetyTicks * 0.8));
  const submit = (): void => {
    const leader = sim.leader();
    released = Math.min(total, Math.max(released, Math.ceil((total * sim.now) / submitPhase)));
    if (leader === undefined) return;
    for (let i = 0; i < released; i++) {
      if (applied[i] === 1 || sim.now - lastSubmitted[i]! < resubmitTicks * 2 ** Math.min(4, Math.max(0, attempts[i]! - 1))) continue;
      const result = sim.propose(commandBytes(i), leader);
      if (!result.ok) {
        if (result.reason === 'not-leader') return;
        continue;
      }
      lastSubmitted[i] = sim.now;
      attempts[i] = Math.min(255, attempts[i]! + 1);
    }
  };

  const readEveryTicks = 3;
  const faults = [...config.faults].sort((a, b) => a.at - b.at);
  let next = 0;
  for (let t = 1; t <= config.safetyTicks; t++) {
    while (next < faults.length && faults[next]!.at <= t) sim.inject(faults[next++]!.fault);
    submit();
    if (t % readEveryTicks === 0) sim.readAtLeaders();
    sim.tick();
  }

  // Liveness: heal everything, restart the crashed, and let the cluster finish.
  sim.inject({ kind: 'heal' });
  sim.inject({ kind: 'network', ...calmNetwork });
  sim.ids.forEach((id, i) => {
    if (!sim.isUp(id)) sim.inject({ kind: 'restart', node: i });
  });
  const start = sim.now;
  released = total;
  const converged = (): boolean => {
    if (appliedCount < total) return false;
    const target = sim.invariants.appliedSlots;
    let print: string | undefined;
    for (const id of sim.members()) {
      const r = sim.replica(id)!;
      const s = r.status;
      if (s.appliedIndex < target || s.commitIndex !== s.appliedIndex) return false;
      const f = sim.fingerprint(id)!;
      if (print === undefined) print = f;
      else if (print !== f) return false;
    }
    return true;
  };
  const livenessTicksMax = config.livenessTicksMax ?? 3000;
  for (let i = 0; i < livenessTicksMax && !converged(); i++) {
    submit();
    sim.tick();
  }
  if (!converged()) {
    const stuck: string[] = [];
    for (let i = 0; i < total && stuck.length < 5; i++) if (applied[i] === 0) stuck.push(`c${i}`);
    const statuses = sim.members().map((id) => {
      const s = sim.replica(id)!.status;
      return `${id}:${s.role} commit=${s.commitIndex} applied=${s.appliedIndex} fp=${sim.fingerprint(id)}`;
    });
    throw new LivenessFailure(
      `after ${livenessTicksMax} healed ticks: ${total - appliedCount} of ${total} proposals not applied${stuck.length > 0 ? ` (first: ${stuck.join(', ')})` : ''}; ` +
        `highest applied slot ${sim.invariants.appliedSlots}; replicas ${statuses.join('; ')}`,
    );
  }
  // Convergence of state, beyond the applied prefix: same fingerprint everywhere.
  const prints = new Set(sim.members().map((id) => sim.fingerprint(id)));
  if (prints.size !== 1) throw new SafetyViolation('convergence', `replicas applied the same slots but hold different states: ${[...prints].join(' ')}`);
  return {
    ticks: sim.now,
    livenessTicks: sim.now - start,
    chosenSlots: sim.invariants.chosenSlots,
    configurations: sim.invariants.latestConfiguration?.id ?? 0,
    network: { ...sim.network.counts },
    checks: { ...sim.invariants.counts },
  };
}
