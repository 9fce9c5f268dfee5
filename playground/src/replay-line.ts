/**
 * The lines a run can be replayed from, parsed from whatever the user pastes (a whole
 * failure report, or one line of it) and written back out.
 *
 * - `SYNOD_REPLAY='{"seed":…,"path":"…"}'`: what a failing simulation property prints;
 *   it names a schedule only together with the suite (the arbitrary) that drew it, so
 *   the playground adds `"suite"` when it exports one.
 * - `schedule: {…}`: the shrunk configuration the same report prints: a schedule in full.
 * - `SYNOD_PLAYGROUND='{…}'`: a run made by hand in the playground: seed, cluster size
 *   and every action with the event it came before.
 */
import type { SimulationConfig } from '../../src/testing/run-simulation.js';
import type { Action } from './action.js';

/** A fast-check replay: seed and shrink path, and the suite when known. */
interface SuiteReplay {
  readonly kind: 'suite';
  readonly seed: number;
  readonly path: string;
  readonly suite: string | undefined;
}

/** A schedule given in full. */
interface ScheduleReplay {
  readonly kind: 'schedule';
  readonly config: SimulationConfig;
}

/** A hand-made playground run. */
export interface LiveReplay {
  readonly kind: 'live';
  readonly seed: number;
  readonly voters: number;
  readonly observers: number;
  /** Each action and the number of events done before it. */
  readonly actions: readonly { readonly at: number; readonly action: Action }[];
}

/** Any of the three kinds of replay line. */
export type Replay = SuiteReplay | ScheduleReplay | LiveReplay;

/** A pasted text that holds no replay line, or a malformed one. */
export class ReplayLineError extends Error {
  override readonly name = 'ReplayLineError';
}

/**
 * Reads the replay in `text`: a playground line first, then a full schedule, then a
 * fast-check seed and path (which needs a suite).
 */
export function parseReplay(text: string): Replay {
  const live = /SYNOD_PLAYGROUND='([^']*)'/.exec(text);
  if (live !== null) return liveReplay(json(live[1]!));
  const schedule = /^\s*schedule: (\{.*\})\s*$/m.exec(text);
  if (schedule !== null) return { kind: 'schedule', config: json(schedule[1]!) as SimulationConfig };
  const replay = /SYNOD_REPLAY='([^']*)'/.exec(text) ?? /(\{\s*"seed"[^}]*\})/.exec(text);
  if (replay !== null) {
    const r = json(replay[1]!) as { seed?: unknown; path?: unknown; suite?: unknown };
    if (typeof r.seed !== 'number' || !Number.isInteger(r.seed)) throw new ReplayLineError('the replay line has no integer "seed"');
    if (r.path !== undefined && (typeof r.path !== 'string' || !/^(\d+(:\d+)*)?$/.test(r.path)))
      throw new ReplayLineError(`"path" must look like "12:0:3", not ${JSON.stringify(r.path)}`);
    return { kind: 'suite', seed: r.seed, path: (r.path as string | undefined) ?? '', suite: typeof r.suite === 'string' ? r.suite : undefined };
  }
  throw new ReplayLineError("no replay found: paste the SYNOD_REPLAY='…' line (or the whole report) a failing simulation printed");
}

/** The line that replays `replay`. */
export function formatReplay(replay: Replay): string {
  switch (replay.kind) {
    case 'suite':
      return `SYNOD_REPLAY='${JSON.stringify({ seed: replay.seed, path: replay.path, ...(replay.suite !== undefined ? { suite: replay.suite } : {}) })}'`;
    case 'schedule':
      return `schedule: ${JSON.stringify(replay.config)}`;
    case 'live':
      return `SYNOD_PLAYGROUND='${JSON.stringify({ seed: replay.seed, voters: replay.voters, observers: replay.observers, actions: replay.actions.map((a) => [a.at, a.action]) })}'`;
  }
}

function json(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new ReplayLineError(`the replay line is not JSON: ${(e as Error).message}`);
  }
}

function liveReplay(value: unknown): LiveReplay {
  const v = value as { seed?: unknown; voters?: unknown; observers?: unknown; actions?: unknown };
  if (typeof v.seed !== 'number' || typeof v.voters !== 'number' || typeof v.observers !== 'number' || !Array.isArray(v.actions)) {
    throw new ReplayLineError('a playground line needs "seed", "voters", "observers" and "actions"');
  }
  const actions = (v.actions as unknown[]).map((a) => {
    if (!Array.isArray(a) || typeof a[0] !== 'number' || typeof a[1] !== 'object' || a[1] === null)
      throw new ReplayLineError('each action is [event, {kind, …}]');
    return { at: a[0], action: a[1] as Action };
  });
  return { kind: 'live', seed: v.seed, voters: v.voters, observers: v.observers, actions };
}
