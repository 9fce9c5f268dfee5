/**
 * Replay in the playground is the replay a property test means: the schedule rebuilt
 * from a printed `{seed, path}` is fast-check's shrunk counterexample, and the
 * playground's session, stepped event by event, stops at the same violation the
 * property reported, at the same virtual time. The failure comes from a deliberately
 * broken core (see broken-core.ts), loaded through Vite only here.
 */
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplayLineError, formatReplay, parseReplay } from '../../playground/src/replay-line.js';
import { scheduleOf } from '../../playground/src/schedule.js';
import { Session } from '../../playground/src/session.js';
import { simulationSuites } from '../../src/testing/index.js';
import { loadBroken } from './broken-core.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('replay lines', () => {
  it('reads the line a failing property prints, the full schedule, and a playground export', () => {
    const report = `simulation failed after 6 schedule(s), shrunk 38 time(s)\nreplay: SYNOD_REPLAY='{"seed":1,"path":"5:2:3"}' npx vitest run <this test file>\nschedule: {"seed":0,"voters":3,"proposals":2,"safetyTicks":30,"faults":[]}\nagreement: …`;
    expect(parseReplay(report)).toEqual({ kind: 'schedule', config: { seed: 0, voters: 3, proposals: 2, safetyTicks: 30, faults: [] } });
    expect(parseReplay(report.split('\n')[1]!)).toEqual({ kind: 'suite', seed: 1, path: '5:2:3', suite: undefined });
    const live = { kind: 'live', seed: 4, voters: 3, observers: 1, actions: [{ at: 12, action: { kind: 'propose', text: 'x1' } }] } as const;
    expect(parseReplay(formatReplay(live))).toEqual(live);
    const suite = { kind: 'suite', seed: 9, path: '1:0', suite: 'majority' } as const;
    expect(parseReplay(formatReplay(suite))).toEqual(suite);
  });

  it('refuses text without a replay, and malformed paths, with a typed error', () => {
    expect(() => parseReplay('hello')).toThrow(ReplayLineError);
    expect(() => parseReplay(`SYNOD_REPLAY='{"seed":1,"path":"a:b"}'`)).toThrow(/path/);
    expect(() => parseReplay(`SYNOD_REPLAY='{"path":"1"}'`)).toThrow(/seed/);
    expect(() => scheduleOf('nope', 1, '')).toThrow(ReplayLineError);
  });

  it("rebuilds fast-check's shrunk counterexample from seed and path, without running the property", () => {
    // A property that fails on clusters with 5 voters and 3 faults or more: fast-check
    // finds one and shrinks it; the playground must rebuild exactly that value.
    const details = fc.check(
      fc.property(simulationSuites.majority(), (c) => c.voters < 5 || c.faults.length < 3),
      { seed: 77, numRuns: 200 },
    );
    expect(details.failed).toBe(true);
    expect(details.counterexamplePath).toMatch(/:/);
    expect(scheduleOf('majority', details.seed, details.counterexamplePath!)).toEqual(details.counterexample![0]);
  });
});

describe('a hand-made run', () => {
  // What the user did is recorded with the event it came before; the exported line
  // must rebuild the very same cluster (the simulator is deterministic).
  it('exports to a line that replays it exactly', () => {
    const s = Session.live({ kind: 'live', seed: 5, voters: 3, observers: 1, actions: [] });
    const play = (n: number): void => {
      for (let i = 0; i < n; i++) s.step();
    };
    play(200);
    s.act({ kind: 'propose', text: s.nextCommand() });
    while (s.sim.network.inFlight.length < 2) s.step();
    const flying = s.sim.network.inFlight;
    s.act({ kind: 'drop', order: flying[0]!.order });
    s.act({ kind: 'duplicate', order: flying[flying.length - 1]!.order });
    s.act({ kind: 'links', cuts: [['n1', 'n2']] });
    play(40);
    s.act({ kind: 'crash', node: 'n3', keepUnsynced: false });
    s.act({ kind: 'propose', text: s.nextCommand() });
    play(80);
    s.act({ kind: 'restart', node: 'n3' });
    s.act({ kind: 'links', cuts: [] });
    play(200);
    const line = formatReplay(s.exportReplay());
    const again = Session.live(parseReplay(line) as Parameters<typeof Session.live>[0]);
    while (again.events < s.events) again.step();
    expect(again.trace).toEqual(s.trace);
    for (const id of s.sim.ids) expect(again.sim.replica(id)?.status).toEqual(s.sim.replica(id)?.status);
    expect(s.trace.join('\n')).toMatch(/propose x2/);
    expect(s.stop).toBeUndefined();
  });
});

describe('a failing schedule from a broken core', () => {
  type Testing = typeof import('../../src/testing/index.js');
  type Playground = { Session: typeof Session; scheduleOf: typeof scheduleOf };
  let broken: { modules: unknown[]; close(): Promise<void> } | undefined;

  beforeAll(async () => {
    broken = await loadBroken(root, ['/src/testing/index.ts', '/playground/src/session.ts', '/playground/src/schedule.ts']);
  }, 30_000);
  afterAll(() => broken?.close());

  it('the playground stops at the event that broke agreement, with the message the property printed', () => {
    const [testing, session, schedule] = broken!.modules as [Testing, Pick<Playground, 'Session'>, Pick<Playground, 'scheduleOf'>];
    let report = '';
    try {
      testing.assertSimulations(testing.simulationSuites.majority(), { seed: 1, numRuns: 300 });
    } catch (e) {
      report = (e as Error).message;
    }
    expect(report, 'the broken core must fail the property').toMatch(/SYNOD_REPLAY=/);
    const replay = parseReplay(report.split('\n').find((l) => l.startsWith('replay:'))!);
    expect(replay.kind).toBe('suite');
    if (replay.kind !== 'suite') return;
    const violation = report.split('\n')[3]!;
    const at = /at t=(\d+)/.exec(report)![1];

    const config = schedule.scheduleOf('majority', replay.seed, replay.path);
    const s = session.Session.schedule({ ...replay, suite: 'majority' }, config);
    let steps = 0;
    while (s.stop === undefined && steps++ < 1_000_000) s.step();
    expect(s.stop?.kind).toBe('violation');
    expect(s.stop!.property).toBe('agreement');
    expect(s.stop!.message).toBe(violation);
    expect(String(s.stop!.at)).toBe(at);
    // And the unbroken core passes the same schedule.
    const healthy = Session.schedule({ ...replay, suite: 'majority' }, scheduleOf('majority', replay.seed, replay.path));
    while (healthy.stop === undefined) healthy.step();
    expect(healthy.stop!.kind).toBe('passed');
  });
});
