import { SynodError } from '../core/index.js';
import { assert } from '../core/assert.js';
import type { ScheduledFault } from './faults.js';
import { SafetyViolation } from './invariants.js';
import { type SimNetwork, calmNetwork } from './sim-network.js';
import { type SimEvent, Simulator, type SimulatorOptions } from './simulator.js';

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
  /** Every this many ticks of the safety phase, each node that believes it leads is asked for a read index. Default 3. */
  readonly readEveryTicks?: number;
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
  /** Quiesce messages sent and replicas woken by the played liveness (zeros without quiescence). */
  readonly quiescence: Simulator['quiescenceCounts'];
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
 * The client proposes each command to the leader of the highest ballot and relies on
 * the core's contract for what it queued: the command gets a slot, or comes back in
 * `Output.dropped` when that leader steps down. So it proposes a command again only
 * once it came back, or once the leadership that queued it is no longer the one it
 * sees (that leader crashed or was deposed; a slot it gave the command may have been
 * filled with a no-op). It never proposes again what a leadership still holds: the
 * copies would only lengthen that leader's queue. A command lost while its leadership
 * lasts therefore fails the liveness check instead of being hidden by a retry.
 *
 * Throws {@link SafetyViolation} or {@link LivenessFailure} with the end of the trace
 * in the message; returns statistics otherwise.
 */
export function runSimulation(config: SimulationConfig): SimulationResult {
  const run = new SimulationRun(config);
  try {
    return run.finish();
  } catch (e) {
    if (e instanceof SynodError) {
      const trace = run.sim.trace.tail(60).join('\n');
      e.message = `${e.message}\n  at t=${run.sim.now}; last trace lines:\n${trace}`;
    }
    throw e;
  }
}

/** Ticks between the client's read-index requests during the safety phase: the default of {@link SimulationConfig.readEveryTicks}. */
const readEveryTicks = 3;

/**
 * The run {@link runSimulation} does, one event at a time: the client's workload, the
 * scheduled faults, the reads, and the simulator's events, in the same order and with
 * the same random draws as a whole run. A debugger or the playground steps it and shows
 * the cluster between events; a violation throws from the {@link step} that caused it.
 *
 * @example
 * ```ts
 * const run = new SimulationRun(config);
 * while (!run.done) run.step(); // or run.finish()
 * ```
 */
export class SimulationRun {
  /** The simulator the run drives. */
  readonly sim: Simulator;
  /** The safety or the liveness phase, or done. */
  phase: 'safety' | 'liveness' | 'done' = 'safety';
  /** Safety ticks begun. */
  private safetyTick = 0;
  private livenessStart = 0;
  private livenessTicks = 0;
  private nextFault = 0;
  private result: SimulationResult | undefined;
  private readonly faults: readonly ScheduledFault[];
  private readonly total: number;
  private readonly applied: Uint8Array;
  private appliedCount = 0;
  /** The node (index in `sim.ids`) whose leadership holds each command, or -1: see {@link runSimulation}. */
  private readonly queuedAt: Int8Array;
  /** The ballot round of that leadership. */
  private readonly queuedRound: Float64Array;
  private readonly nodeIndex = new Map<string, number>();
  private released = 0;
  private readonly submitPhase: number;

  constructor(private readonly config: SimulationConfig) {
    this.sim = new Simulator(config);
    this.total = config.proposals;
    this.applied = new Uint8Array(this.total);
    this.queuedAt = new Int8Array(this.total).fill(-1);
    this.queuedRound = new Float64Array(this.total);
    this.sim.ids.forEach((id, i) => this.nodeIndex.set(id, i));
    this.submitPhase = Math.max(1, Math.floor(config.safetyTicks * 0.8));
    this.faults = [...config.faults].sort((a, b) => a.at - b.at);
    const byKey = new Map<string, number>();
    for (let i = 0; i < this.total; i++) byKey.set(`c${i}`, i);
    const decoder = new TextDecoder();
    this.sim.onApply = (_node, _slot, command) => {
      const i = byKey.get(decoder.decode(command));
      if (i !== undefined && this.applied[i] === 0) {
        this.applied[i] = 1;
        this.appliedCount++;
      }
    };
    this.sim.onDropped = (commands, node) => {
      const at = this.nodeIndex.get(node)!;
      for (const c of commands) {
        const i = byKey.get(decoder.decode(c));
        // Given back by the leader that held it: propose it again. A copy another leader holds stays there.
        if (i !== undefined && this.queuedAt[i] === at) this.queuedAt[i] = -1;
      }
    };
  }

  /** Whether the run is over (it passed; a failure throws instead). */
  get done(): boolean {
    return this.result !== undefined;
  }

  /** Proposals applied by some replica so far. */
  get appliedProposals(): number {
    return this.appliedCount;
  }

  /** Runs to the end and returns the statistics; throws on a violation or a liveness failure. */
  finish(): SimulationResult {
    while (this.result === undefined) {
      if (this.sim.midTick || this.prepareTick()) this.sim.tick();
    }
    return this.result;
  }

  /**
   * Does the next event: between ticks, the client's work for the next tick (scheduled
   * faults, proposals, reads) and the start of that tick; within a tick, the simulator's
   * next event. Returns the simulator's event, or undefined once the run is done.
   */
  step(): SimEvent | undefined {
    while (this.result === undefined) {
      if (this.sim.midTick) {
        const event = this.sim.step();
        if (event !== undefined) return event;
      } else if (this.prepareTick()) return this.sim.step();
    }
    return undefined;
  }

  /**
   * Between ticks: the client's work before the next tick. Returns whether that tick is
   * to run; false when this call healed the network (the safety phase is over) or ended
   * the run.
   */
  private prepareTick(): boolean {
    if (this.phase === 'safety') {
      if (this.safetyTick >= this.config.safetyTicks) {
        this.heal();
        return false;
      }
      const t = ++this.safetyTick;
      while (this.nextFault < this.faults.length && this.faults[this.nextFault]!.at <= t) this.sim.inject(this.faults[this.nextFault++]!.fault);
      this.submit();
      if (t % (this.config.readEveryTicks ?? readEveryTicks) === 0) this.sim.readAtLeaders();
      return true;
    }
    if (this.converged()) {
      this.result = this.conclude();
      return false;
    }
    if (this.livenessTicks >= (this.config.livenessTicksMax ?? 3000)) throw this.livenessFailure();
    this.livenessTicks++;
    this.submit();
    return true;
  }

  /** Liveness: heal everything, restart the crashed, and let the cluster finish. */
  private heal(): void {
    assert(this.phase === 'safety', 'the run heals once, after its safety phase');
    const sim = this.sim;
    sim.inject({ kind: 'heal' });
    sim.inject({ kind: 'network', ...calmNetwork });
    sim.ids.forEach((id, i) => {
      if (!sim.isUp(id)) sim.inject({ kind: 'restart', node: i });
    });
    this.livenessStart = sim.now;
    this.released = this.total;
    this.phase = 'liveness';
  }

  private submit(): void {
    const sim = this.sim;
    const total = this.total;
    const leader = sim.leader();
    this.released = Math.min(total, Math.max(this.released, Math.ceil((total * sim.now) / this.submitPhase)));
    if (leader === undefined) return;
    const at = this.nodeIndex.get(leader)!;
    const ballot = sim.replica(leader)!.status.promised;
    assert(ballot.node === leader, () => `leader ${leader} leads in ballot ${ballot.round}.${ballot.node}, not its own`);
    for (let i = 0; i < this.released; i++) {
      // Applied, or held by this very leadership: it gets a slot or comes back in `dropped`.
      if (this.applied[i] === 1 || (this.queuedAt[i] === at && this.queuedRound[i] === ballot.round)) continue;
      const result = sim.propose(commandBytes(i), leader);
      if (!result.ok) {
        if (result.reason === 'not-leader') return;
        continue;
      }
      this.queuedAt[i] = at;
      this.queuedRound[i] = ballot.round;
    }
  }

  private converged(): boolean {
    const sim = this.sim;
    if (this.appliedCount < this.total) return false;
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
  }

  private livenessFailure(): LivenessFailure {
    const sim = this.sim;
    const total = this.total;
    const stuck: string[] = [];
    for (let i = 0; i < total && stuck.length < 5; i++) if (this.applied[i] === 0) stuck.push(`c${i}`);
    const statuses = sim.members().map((id) => {
      const s = sim.replica(id)!.status;
      return `${id}:${s.role} commit=${s.commitIndex} applied=${s.appliedIndex} fp=${sim.fingerprint(id)}`;
    });
    return new LivenessFailure(
      `after ${this.config.livenessTicksMax ?? 3000} healed ticks: ${total - this.appliedCount} of ${total} proposals not applied${stuck.length > 0 ? ` (first: ${stuck.join(', ')})` : ''}; ` +
        `highest applied slot ${sim.invariants.appliedSlots}; replicas ${statuses.join('; ')}`,
    );
  }

  private conclude(): SimulationResult {
    const sim = this.sim;
    // Convergence of state, beyond the applied prefix: same fingerprint everywhere.
    const prints = new Set(sim.members().map((id) => sim.fingerprint(id)));
    if (prints.size !== 1) throw new SafetyViolation('convergence', `replicas applied the same slots but hold different states: ${[...prints].join(' ')}`);
    this.phase = 'done';
    return {
      ticks: sim.now,
      livenessTicks: sim.now - this.livenessStart,
      chosenSlots: sim.invariants.chosenSlots,
      configurations: sim.invariants.latestConfiguration?.id ?? 0,
      network: { ...sim.network.counts },
      checks: { ...sim.invariants.counts },
      quiescence: { ...sim.quiescenceCounts },
    };
  }
}
