/**
 * The real runtime node (createNode, unchanged) in the simulator: the issue's
 * scenarios, each over many seeds, with every check of RuntimeSimulation running as
 * events happen (persist before send, agreement, prefix agreement of applied
 * commands, exactly-once, linearizable reads, promises that settle).
 */
import { describe, expect, it } from 'vitest';
import { type Configuration, type MembershipChange, type NodeId, SynodError, compareBallots } from '../../src/core/index.js';
import { type ApplyMeta, ClosedError, MembershipError, NotLeaderError, type StateMachine, type Storage, TimeoutError } from '../../src/runtime/index.js';
import { RuntimeSimulation, type RuntimeSimulationOptions, SafetyViolation } from '../../src/testing/index.js';

const seeds = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

async function elected<C = unknown, R = number>(options: RuntimeSimulationOptions<C, R>): Promise<{ sim: RuntimeSimulation<C, R>; leader: NodeId }> {
  const sim = new RuntimeSimulation<C, R>(options);
  await sim.start();
  expect(await sim.runUntil(() => sim.leader() !== undefined, 5_000), `seed ${options.seed}: no leader`).toBe(true);
  return { sim, leader: sim.leader()! };
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Records each promise's outcome as it settles. */
function outcomes<T>(promises: readonly Promise<T>[]): Outcome<T>[] {
  const out: Outcome<T>[] = [];
  for (const [i, p] of promises.entries()) {
    p.then(
      (value) => (out[i] = { ok: true, value }),
      (error: unknown) => (out[i] = { ok: false, error }),
    );
  }
  return out;
}

const settled =
  <T>(out: Outcome<T>[], count: number) =>
  (): boolean =>
    out.filter((o) => o !== undefined).length === count;

function followersOf(sim: RuntimeSimulation<unknown, number>, leader: NodeId): NodeId[] {
  return sim.voterIds.filter((id) => id !== leader);
}

describe('RuntimeSimulation: real runtime nodes on simulated time, network and disks', () => {
  it.each([1, 3, 5])('a %i-voter cluster elects a leader and commits proposals made to any node (12 seeds)', async (voters) => {
    for (const seed of seeds) {
      const { sim } = await elected({ seed, voters, network: { lossRate: 0, duplicateRate: 0.05, delayTicksMax: 2 } });
      const promises = Array.from({ length: 15 }, (_, i) => sim.propose(sim.name(i % voters), { i }));
      const out = outcomes(promises);
      expect(await sim.runUntil(settled(out, 15), 3_000), `seed ${seed}`).toBe(true);
      expect(
        out.every((o) => o.ok),
        `seed ${seed}: ${JSON.stringify(out)}`,
      ).toBe(true);
      expect(await sim.runUntil(() => sim.converged(), 1_000)).toBe(true);
      // Each result is the command's position, the same in every replica.
      for (const id of sim.ids) {
        expect(sim.applied(id).length).toBe(15);
        out.forEach((o, i) => expect(new TextDecoder().decode(sim.applied(id)[(o as { value: number }).value]!.payload)).toBe(JSON.stringify({ i })));
      }
      sim.finish();
    }
  });

  it('leader crash with pending proposals: every promise on a live node settles, and those given to followers commit (12 seeds)', async () => {
    for (const seed of seeds) {
      const { sim, leader } = await elected({ seed, voters: 5 });
      const followers = followersOf(sim, leader);
      const onFollowers = followers.flatMap((f) => [0, 1, 2].map((k) => sim.propose(f, { f, k })));
      const out = outcomes(onFollowers);
      const onLeader = [0, 1, 2].map((k) => sim.propose(leader, { leader, k }));
      onLeader.forEach((p) => p.catch(() => {}));
      await sim.advance(3); // in flight: forwarded, perhaps accepted somewhere, not yet committed everywhere
      sim.crash(leader);
      expect(await sim.runUntil(settled(out, onFollowers.length), 5_000), `seed ${seed}: ${sim.pending().join('; ')}`).toBe(true);
      expect(
        out.filter((o) => !o.ok),
        `seed ${seed}`,
      ).toEqual([]);
      expect(sim.counts.abandoned).toBeLessThanOrEqual(3); // the crashed leader's callers died with it
      expect(sim.pending()).toEqual([]);
      await sim.restart(leader);
      expect(await sim.runUntil(() => sim.converged(), 3_000), `seed ${seed}\n${sim.describe()}`).toBe(true);
      sim.finish();
    }
  });

  it('a partitioned follower heals and catches up; its own proposal commits after the heal (12 seeds)', async () => {
    for (const seed of seeds) {
      const { sim, leader } = await elected({ seed, voters: 3 });
      const cutOff = followersOf(sim, leader)[0]!;
      sim.partition([[cutOff]]);
      const own = outcomes([sim.propose(cutOff, { from: cutOff })]);
      const rest = outcomes(Array.from({ length: 20 }, (_, i) => sim.propose(sim.ids.filter((id) => id !== cutOff)[i % 2]!, { i })));
      expect(await sim.runUntil(settled(rest, 20), 2_000)).toBe(true);
      expect(rest.every((o) => o.ok)).toBe(true);
      const behind = sim.applied(cutOff).length;
      expect(behind).toBeLessThan(sim.applied(leader).length);
      sim.heal();
      expect(await sim.runUntil(() => own[0] !== undefined && sim.converged(), 3_000), `seed ${seed}\n${sim.describe()}`).toBe(true);
      expect(own[0]!.ok, `seed ${seed}`).toBe(true);
      expect(sim.applied(cutOff).length).toBe(21);
      sim.finish();
    }
  });

  it('observers apply every command but never vote: 3 voters + 2 observers commit with one voter down, not with two (8 seeds)', async () => {
    for (const seed of seeds.slice(0, 8)) {
      const { sim, leader } = await elected({ seed, voters: 3, observers: 2 });
      const roles = new Set<string>();
      const watchRoles = (): boolean => {
        for (const o of sim.observerIds) roles.add(String(sim.status(o)?.role));
        return false;
      };
      const [downFirst, downSecond] = followersOf(sim, leader);
      sim.crash(downFirst!);
      const one = outcomes([sim.propose(sim.observerIds[0]!, { step: 'one voter down' })]);
      expect(await sim.runUntil(() => watchRoles() || one[0] !== undefined, 2_000)).toBe(true);
      expect(one[0]!.ok, `seed ${seed}`).toBe(true);
      await sim.runUntil(() => watchRoles() || sim.observerIds.every((o) => sim.applied(o).length === 1), 1_000);
      for (const o of sim.observerIds) expect(sim.applied(o).length).toBe(1);

      sim.crash(downSecond!);
      const two = outcomes([sim.propose(sim.observerIds[1]!, { step: 'two voters down' }, { timeoutMs: 1_500 })]);
      expect(await sim.runUntil(() => watchRoles() || two[0] !== undefined, 2_000)).toBe(true);
      expect(two[0]!.ok).toBe(false);
      expect((two[0] as { error: unknown }).error).toBeInstanceOf(TimeoutError);
      expect(sim.applied(leader).length).toBe(1);
      expect(roles).toEqual(new Set(['observer']));

      await sim.restart(downFirst!);
      await sim.restart(downSecond!);
      const back = outcomes([sim.propose(sim.observerIds[0]!, { step: 'voters back' })]);
      expect(await sim.runUntil(() => watchRoles() || (back[0] !== undefined && sim.converged()), 5_000), `seed ${seed}\n${sim.describe()}`).toBe(true);
      expect(back[0]!.ok).toBe(true);
      expect(roles).toEqual(new Set(['observer']));
      sim.finish();
    }
  });

  it('restart keeps promises: a node never promises below what it promised before, and acknowledged commands survive a whole-cluster restart (12 seeds)', async () => {
    for (const seed of seeds) {
      const { sim } = await elected({ seed, voters: 3, persistDelayMsMax: 20 });
      const out = outcomes(Array.from({ length: 10 }, (_, i) => sim.propose(sim.name(i % 3), { i })));
      expect(await sim.runUntil(settled(out, 10), 3_000)).toBe(true);
      // Crash the leader mid-write too: a new proposal it may have made durable only partly.
      sim.propose(sim.leader()!, { late: true }).catch(() => {});
      await sim.advance(2);
      const promised = new Map(sim.ids.map((id) => [id, sim.durable(id).promised]));
      for (const id of sim.ids) sim.crash(id);
      await sim.advance(50);
      for (const id of sim.ids) await sim.restart(id);
      // Promises are sent only once durable, so a restarted node at or above its durable promise keeps every promise it made.
      for (const id of sim.ids) expect(compareBallots(sim.status(id)!.promised!, promised.get(id)!), `seed ${seed}: ${id}`).toBeGreaterThanOrEqual(0);
      // The commit index is learner state, persisted without a sync (persistNeedsSync): it may
      // be lost, and the new leader then commits the acknowledged slots again.
      const reapplied = () => sim.ids.every((id) => sim.applied(id).length >= 10);
      expect(await sim.runUntil(() => sim.leader() !== undefined && sim.converged() && reapplied(), 5_000), `seed ${seed}\n${sim.describe()}`).toBe(true);
      sim.finish(); // every acknowledged command re-applied from slot 1 on every replica
      expect(sim.invariants.counts.durableWrites).toBeGreaterThan(0);
    }
  });

  it('retry after a timeout under a partition applies once, and the retry gets the result (12 seeds)', async () => {
    for (const seed of seeds) {
      const { sim, leader } = await elected({ seed, voters: 3 });
      const request = { clientId: 'client-1', seq: 1 };
      sim.partition([[leader]]);
      const first = outcomes([sim.propose(leader, { op: 'once' }, { request, timeoutMs: 300 })]);
      expect(await sim.runUntil(() => first[0] !== undefined, 1_000)).toBe(true);
      expect((first[0] as { error: unknown }).error, `seed ${seed}`).toBeInstanceOf(TimeoutError);
      sim.heal();
      const retryOn = sim.ids.find((id) => id !== leader)!;
      const position = await sim.settle(sim.propose(retryOn, { op: 'once' }, { request }), 3_000);
      await sim.runUntil(() => sim.converged(), 1_000);
      for (const id of sim.ids) {
        const applied = sim.applied(id).filter((c) => c.clientId === 'client-1' && c.seq === 1);
        expect(applied.length, `seed ${seed}: ${id}`).toBe(1);
        expect(sim.applied(id)[position]!.clientId).toBe('client-1');
      }
      sim.finish();
    }
  });

  it('a request that timed out but was applied: the retry elsewhere is not applied again and gets the first result (12 seeds)', async () => {
    for (const seed of seeds) {
      const { sim, leader } = await elected({ seed, voters: 3 });
      const [f1, f2] = followersOf(sim, leader);
      await sim.settle(sim.propose(f1!, { op: 'before' }), 2_000);
      const request = { clientId: 'client-2', seq: 7 };
      const first = outcomes([sim.propose(f1!, { op: 'slow' }, { request, timeoutMs: 1 })]);
      await sim.advance(500);
      expect((first[0] as { error: unknown }).error).toBeInstanceOf(TimeoutError);
      const appliedAt = sim.applied(leader).findIndex((c) => c.clientId === 'client-2');
      expect(appliedAt, `seed ${seed}: the first attempt was not applied`).toBeGreaterThanOrEqual(0);
      const position = await sim.settle(sim.propose(f2!, { op: 'slow' }, { request }), 3_000);
      expect(position).toBe(appliedAt);
      await sim.runUntil(() => sim.converged(), 1_000);
      for (const id of sim.ids) expect(sim.applied(id).filter((c) => c.clientId === 'client-2').length).toBe(1);
      sim.finish();
    }
  });

  it('a node closed gracefully rejects its pending promises with ClosedError, then restarts from what it flushed (12 seeds)', async () => {
    let closed = 0;
    for (const seed of seeds) {
      const { sim, leader } = await elected({ seed, voters: 3, persistDelayMsMax: 10 });
      const follower = followersOf(sim, leader)[0]!;
      const out = outcomes(Array.from({ length: 6 }, (_, i) => sim.propose(i % 2 === 0 ? follower : leader, { i })));
      await sim.advance(1);
      await sim.close(follower);
      expect(await sim.runUntil(settled(out, 6), 2_000)).toBe(true);
      out.forEach((o, i) => {
        if (i % 2 === 0 && !o.ok) expect(o.error, `seed ${seed}`).toBeInstanceOf(ClosedError);
        if (i % 2 === 1) expect(o.ok, `seed ${seed}`).toBe(true);
      });
      closed += sim.counts.rejections['CLOSED'] ?? 0;
      await sim.restart(follower);
      expect(await sim.runUntil(() => sim.converged(), 3_000), `seed ${seed}\n${sim.describe()}`).toBe(true);
      sim.finish();
    }
    expect(closed).toBeGreaterThan(0);
  });

  it("simulates the user's own state machine with the real runtime", async () => {
    class Counter implements StateMachine<{ add: number }, number> {
      total = 0;
      apply(command: { add: number }, meta: ApplyMeta): number {
        expect(meta.slot).toBeGreaterThan(0);
        return (this.total += command.add);
      }
    }
    for (const seed of seeds.slice(0, 6)) {
      const { sim, leader } = await elected({
        seed,
        voters: 3,
        stateMachine: () => new Counter(),
        network: { lossRate: 0.1, duplicateRate: 0.1, delayTicksMax: 3 },
      });
      const out = outcomes(Array.from({ length: 12 }, (_, i) => sim.propose(sim.name(i % 3), { add: i + 1 })));
      await sim.advance(40);
      sim.crash(leader);
      await sim.advance(500);
      await sim.restart(leader);
      sim.network({ lossRate: 0, duplicateRate: 0, delayTicksMax: 1 });
      expect(await sim.runUntil(() => sim.pending().length === 0 && sim.converged(), 5_000), `seed ${seed}\n${sim.describe()}`).toBe(true);
      const totals = sim.ids.map((id) => (sim.machine(id) as Counter).total);
      expect(new Set(totals).size).toBe(1);
      const acknowledged = out.flatMap((o, i) => (o?.ok === true ? [i + 1] : [])).reduce((a, b) => a + b, 0);
      expect(totals[0]).toBeGreaterThanOrEqual(acknowledged);
      expect(totals[0]).toBeLessThanOrEqual(78);
      sim.finish();
    }
  });

  it('lets a read-only command (the machine’s readOnly) run again for a retry, and still checks writes apply once', async () => {
    class Reads implements StateMachine<{ add: number } | { read: true }, number> {
      total = 0;
      reads = 0;
      readOnly(command: { add: number } | { read: true }): boolean {
        return 'read' in command;
      }
      apply(command: { add: number } | { read: true }): number {
        if ('read' in command) return (this.reads++, this.total);
        return (this.total += command.add);
      }
    }
    const { sim } = await elected<{ add: number } | { read: true }, number>({ seed: 3, voters: 3, stateMachine: () => new Reads() });
    const read = { request: { clientId: 'reader', seq: 1 } };
    const write = { request: { clientId: 'writer', seq: 1 } };
    expect(await sim.settle(sim.propose('n1', { add: 5 }, write), 2_000)).toBe(5);
    expect(await sim.settle(sim.propose('n2', { add: 5 }, write), 2_000)).toBe(5);
    expect(await sim.settle(sim.propose('n1', { read: true }, read), 2_000)).toBe(5);
    expect(await sim.settle(sim.propose('n2', { read: true }, read), 2_000)).toBe(5);
    expect(await sim.runUntil(() => sim.converged(), 2_000)).toBe(true);
    for (const id of sim.ids) {
      const machine = sim.machine(id) as Reads;
      expect(machine.total, id).toBe(5);
      expect(machine.reads, id).toBe(2);
    }
    sim.finish();
  });

  it('is deterministic: the same seed replays the same run, line for line', async () => {
    const run = async (seed: number): Promise<string[]> => {
      const lines: string[] = [];
      const { sim, leader } = await elected({
        seed,
        voters: 5,
        trace: { sink: (l) => lines.push(l) },
        network: { lossRate: 0.1, duplicateRate: 0.1, delayTicksMax: 4 },
      });
      for (let i = 0; i < 20; i++) sim.propose(sim.name(i % 5), { i }).catch(() => {});
      await sim.advance(100);
      sim.crash(leader);
      await sim.advance(1_000);
      await sim.restart(leader);
      await sim.advance(1_000);
      lines.push(sim.describe(), JSON.stringify(sim.counts), JSON.stringify(sim.applied(leader).map((c) => c.slot)));
      return lines;
    };
    const a = await run(21);
    expect(a.length).toBeGreaterThan(10);
    expect(await run(21)).toEqual(a);
    expect(await run(22)).not.toEqual(a);
  });

  it('the checks can fail: a storage that acknowledges writes before they are durable is caught sending too early', async () => {
    const lying = (_id: NodeId, storage: Storage): Storage => ({
      load: () => storage.load(),
      persist: (batch) => {
        void storage.persist(batch);
        return Promise.resolve(); // "durable" at once: the fsync it skipped is the bug
      },
      saveSnapshot: (s) => storage.saveSnapshot(s),
      loadSnapshot: () => storage.loadSnapshot(),
      compact: (slot) => storage.compact(slot),
      close: () => storage.close(),
    });
    const sim = new RuntimeSimulation({ seed: 1, voters: 3, persistDelayMsMax: 10, wrap: { storage: lying } });
    await sim.start();
    const error = await sim
      .runUntil(() => false, 5_000)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(SafetyViolation);
    expect((error as SafetyViolation).property).toBe('persist-before-send');
    expect(error).toBeInstanceOf(SynodError);
  });

  it('membership: a spare joins empty as an observer, is promoted, a voter is removed; the removed node is not waited for (4 seeds)', async () => {
    for (const seed of [1, 2, 3, 4]) {
      const { sim, leader } = await elected({ seed, voters: 3, spares: 1, windowSlots: 4 });
      for (let i = 0; i < 10; i++) await sim.settle(sim.propose(leader, { i }), 2_000);
      expect(sim.isUp('s1')).toBe(false);
      // Asks whoever leads, again while there is none or it refuses a promotion as `behind`
      // (it promotes only a member it heard report a recent commit index).
      const change = async (c: MembershipChange): Promise<Configuration> => {
        for (let attempt = 0; attempt < 40; attempt++) {
          await sim.runUntil(() => sim.leader() !== undefined, 2_000);
          const done = await sim.settle(sim.changeMembers(sim.leader()!, c), 2_000).catch((error: unknown) => {
            if (error instanceof NotLeaderError || (error instanceof MembershipError && error.reason === 'behind')) return undefined;
            throw error;
          });
          if (done !== undefined) return done;
          await sim.advance(50);
        }
        throw new Error(`seed ${seed}: ${JSON.stringify(c)} never taken\n${sim.describe()}`);
      };
      expect((await change({ type: 'addObserver', id: 's1' })).observers).toEqual(['s1']);
      await sim.startSpare('s1');
      expect((await change({ type: 'promote', id: 's1' })).voters).toContain('s1');
      const victim = followersOf(sim, sim.leader()!)[0]!;
      await change({ type: 'remove', id: victim });
      expect(sim.memberIds(), `seed ${seed}`).toEqual(sim.ids.filter((id) => id !== victim));
      sim.crash(victim);
      for (let i = 0; i < 5; i++) await sim.settle(sim.propose('s1', { after: i }), 2_000);
      expect(await sim.runUntil(() => sim.converged(), 2_000), `seed ${seed}\n${sim.describe()}`).toBe(true);
      expect(sim.status('s1')?.role).toBe('follower');
      expect(sim.applied('s1')).toHaveLength(15);
      sim.finish();
    }
  });
});
