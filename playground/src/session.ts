/**
 * One run on screen: the real simulator (and, for a replayed schedule, the same
 * simulation run a property test does), stepped one event at a time, with what the
 * user does recorded so the run can be exported and replayed. A violation or a
 * liveness failure stops the session at the event that raised it.
 */
import { SafetyViolation } from '../../src/testing/invariants.js';
import { LivenessFailure, SimulationRun, type SimulationConfig } from '../../src/testing/run-simulation.js';
import { type SimEvent, Simulator } from '../../src/testing/simulator.js';
import type { Action } from './action.js';
import type { LiveReplay, Replay } from './replay-line.js';

/** Why the session stopped for good. */
export interface Stop {
  /** `violation` (a safety invariant broke), `liveness`, `error` (anything else), or `passed`. */
  readonly kind: 'violation' | 'liveness' | 'error' | 'passed';
  /** The broken property (agreement, prefix, …) for a violation. */
  readonly property: string | undefined;
  readonly message: string;
  /** Virtual time and the number of events done when it stopped. */
  readonly at: number;
  readonly event: number;
}

/** Trace lines kept for the panel. */
const traceLinesMax = 300;

/**
 * A cluster on screen and how it got there: see the file's comment. Build one with
 * {@link Session.live} or {@link Session.schedule}.
 */
export class Session {
  readonly sim: Simulator;
  /** The property-test run, when replaying a schedule. */
  readonly run: SimulationRun | undefined;
  /** Events done so far. */
  events = 0;
  /** The last event done. */
  lastEvent: SimEvent | undefined;
  stop: Stop | undefined;
  /** What the user did, with the event count before each action. */
  readonly actions: { readonly at: number; readonly action: Action }[] = [];
  readonly trace: string[] = [];
  /** Actions still to apply, when replaying a hand-made run. */
  private readonly scripted: { readonly at: number; readonly action: Action }[];
  private proposals = 0;

  private constructor(
    readonly replay: Replay,
    config: SimulationConfig | undefined,
  ) {
    const sink = (line: string): void => {
      this.trace.push(line);
      if (this.trace.length > 2 * traceLinesMax) this.trace.splice(0, this.trace.length - traceLinesMax);
    };
    if (config !== undefined) {
      this.run = new SimulationRun({ ...config, trace: { sink } });
      this.sim = this.run.sim;
      this.scripted = [];
    } else {
      const live = replay as LiveReplay;
      this.run = undefined;
      this.sim = new Simulator({ seed: live.seed, voters: live.voters, observers: live.observers, trace: { sink }, traceCommits: true });
      this.scripted = [...live.actions];
    }
  }

  /** A hand-made run: a fresh cluster (or one replaying `replay`'s actions as it goes). */
  static live(replay: LiveReplay): Session {
    return new Session(replay, undefined);
  }

  /** The run a property test does for `config`. */
  static schedule(replay: Replay, config: SimulationConfig): Session {
    return new Session(replay, config);
  }

  /** Whether a property-test schedule drives the run (else the user does). */
  get scheduled(): boolean {
    return this.run !== undefined;
  }

  /** Does one event; returns it, or undefined when the session has stopped. */
  step(): SimEvent | undefined {
    if (this.stop !== undefined) return undefined;
    while (this.scripted.length > 0 && this.scripted[0]!.at <= this.events) this.act(this.scripted.shift()!.action);
    try {
      const event = this.run !== undefined ? this.run.step() : this.sim.step();
      this.events++;
      this.lastEvent = event;
      if (event === undefined && this.run?.done === true)
        this.halt('passed', undefined, 'the schedule passed: safe throughout, and the healed cluster converged');
      return event;
    } catch (e) {
      this.events++;
      this.fail(e);
      return undefined;
    }
  }

  /**
   * Steps until an event that shows (a message delivered, one sent, a role changed),
   * at most `eventsMax` events.
   */
  stepVisible(eventsMax = 500): void {
    for (let i = 0; i < eventsMax && this.stop === undefined; i++) {
      const sent = this.sim.network.counts.sent;
      const event = this.step();
      if (event?.kind === 'delivered' || this.sim.network.counts.sent !== sent) return;
    }
  }

  /** Finishes the tick under way (or does one whole tick). */
  stepTick(): void {
    const before = this.sim.now;
    for (let i = 0; i < 10_000 && this.stop === undefined; i++) {
      this.step();
      if (!this.sim.midTick && this.sim.now > before) return;
    }
  }

  /** Does what the user asked, and records it. */
  act(action: Action): void {
    if (this.stop !== undefined) return;
    this.actions.push({ at: this.events, action });
    try {
      this.apply(action);
    } catch (e) {
      this.fail(e);
    }
  }

  /** The next command's text: `x1`, `x2`, … */
  nextCommand(): string {
    return `x${++this.proposals}`;
  }

  /** The line that replays this session: its source, plus the user's actions for a hand-made run. */
  exportReplay(): Replay {
    if (this.replay.kind !== 'live') return this.replay;
    return { ...this.replay, actions: [...this.actions, ...this.scripted] };
  }

  private apply(action: Action): void {
    const sim = this.sim;
    switch (action.kind) {
      case 'propose': {
        const result = sim.propose(new TextEncoder().encode(action.text), action.to);
        sim.trace.add(sim.now, 'client', `propose ${action.text}: ${result.ok ? 'accepted for a slot' : result.reason}`);
        return;
      }
      case 'crash':
        sim.trace.add(sim.now, 'user', `kill ${action.node}${action.keepUnsynced ? ' (unsynced writes kept)' : ' (unsynced writes lost)'}`);
        return sim.crash(action.node, { keepUnsynced: action.keepUnsynced });
      case 'restart':
        sim.trace.add(sim.now, 'user', `restart ${action.node}`);
        return sim.restart(action.node);
      case 'links':
        sim.network.heal();
        for (const [from, to] of action.cuts) sim.network.cut(from, to);
        sim.trace.add(sim.now, 'user', action.cuts.length === 0 ? 'every link works' : `links cut: ${action.cuts.map(([a, b]) => `${a}->${b}`).join(' ')}`);
        return;
      case 'drop':
        sim.network.drop(action.order);
        sim.trace.add(sim.now, 'user', `drop message #${action.order}`);
        return;
      case 'duplicate':
        sim.network.duplicate(action.order);
        sim.trace.add(sim.now, 'user', `duplicate message #${action.order}`);
        return;
    }
  }

  private fail(e: unknown): void {
    if (e instanceof SafetyViolation) return this.halt('violation', e.property, e.message);
    if (e instanceof LivenessFailure) return this.halt('liveness', undefined, e.message);
    this.halt('error', undefined, e instanceof Error ? `${e.name}: ${e.message}` : String(e));
  }

  private halt(kind: Stop['kind'], property: string | undefined, message: string): void {
    this.stop = { kind, property, message, at: this.sim.now, event: this.events };
  }
}
