/**
 * Properties of the real runtime node in the simulator.
 *
 * 1. Seeded fault schedules (crashes, restarts, partitions, one-way cuts, bridges,
 *    leader crashes and isolation, leadership transfers, slow clocks, lossy and
 *    duplicating networks) through runRuntimeSimulation: Paxos safety from the
 *    acceptors' durable state, persist before send (architecture rule 3), prefix agreement of
 *    applied commands, exactly-once, linearizable reads, then liveness once healed.
 * 2. fast-check's scheduler deciding the order in which every storage write is
 *    reported durable and every message is delivered: the ordering rule ("a promise
 *    or an accept is sent only after the acceptor state it reports is durable") and
 *    agreement must hold for every order, not only the ones the seeded clock produces.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import type { NodeId } from '../../src/core/index.js';
import type { Storage, Transport } from '../../src/runtime/index.js';
import { RuntimeSimulation, assertRuntimeSimulations, runtimeSimulationArbitrary, simulationParameters } from '../../src/testing/index.js';

it('stays safe and converges: real runtime nodes under seeded fault schedules', async () => {
  const arbitrary = runtimeSimulationArbitrary({ voters: [1, 3, 5], observersMax: 1, proposals: 40, faultsMax: 14 });
  await assertRuntimeSimulations(arbitrary, simulationParameters(150, process.env));
}, 600_000);

/** Each storage write is reported durable, and each message delivered, when the scheduler says. */
function scheduled(s: fc.Scheduler, sim: () => RuntimeSimulation, live: (id: NodeId, incarnation: number) => boolean) {
  return {
    storage: (id: NodeId, storage: Storage): Storage => ({
      load: () => storage.load(),
      // The write becomes durable on the simulated disk; when the node hears of it is the scheduler's choice.
      persist: (batch) => storage.persist(batch).then(() => s.schedule(Promise.resolve(), `durable ${id}`)),
      saveSnapshot: (snapshot) => storage.saveSnapshot(snapshot),
      loadSnapshot: () => storage.loadSnapshot(),
      compact: (slot) => storage.compact(slot),
      close: () => storage.close(),
    }),
    transport: (id: NodeId, transport: Transport): Transport => {
      const incarnation = sim().incarnation(id);
      return {
        start: (handlers) =>
          transport.start({
            ...handlers,
            deliver: (m) => {
              void s.schedule(Promise.resolve(), `deliver ${m.type} ${m.from}->${m.to}`).then(() => {
                // A message released after its addressee crashed dies with the process.
                if (live(id, incarnation)) handlers.deliver(m);
              });
            },
          }),
        send: (m) => transport.send(m),
        close: () => transport.close(),
      };
    },
  };
}

it('persist before send and agreement hold for every order in which writes and deliveries resolve (fast-check scheduler)', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.scheduler(),
      fc.integer({ min: 0, max: 0x7fffffff }),
      // Tasks released per millisecond: often none, so writes and deliveries pile up and the scheduler picks among many.
      fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 8 })), { minLength: 1, maxLength: 40 }),
      fc.option(fc.integer({ min: 20, max: 400 }), { nil: undefined }),
      async (s, seed, releases, crashAt) => {
        let sim!: RuntimeSimulation;
        const wrap = scheduled(
          s,
          () => sim,
          (id, incarnation) => sim.isUp(id) && sim.incarnation(id) === incarnation,
        );
        sim = new RuntimeSimulation({ seed, voters: 3, persistDelayMsMax: 3, wrap });
        await sim.start();
        // Scheduled phase: each millisecond the scheduler releases a few of the waiting
        // writes and deliveries, in an order of its choosing; the rest wait longer.
        let step = 0;
        let crashed: NodeId | undefined;
        for (let ms = 0; ms < 600; ms++) {
          if (ms % 50 === 10) sim.propose(sim.name(ms % 3), { ms }).catch(() => {});
          if (crashAt !== undefined && ms === crashAt) {
            crashed = sim.leader() ?? sim.name(0);
            sim.crash(crashed);
          }
          if (crashed !== undefined && ms === (crashAt ?? 0) + 100) {
            await sim.restart(crashed);
            crashed = undefined;
          }
          for (let k = releases[step++ % releases.length]!; k > 0 && s.count() > 0; k--) await s.waitNext(1);
          await sim.advance(1);
        }
        // Then the scheduler releases everything it holds, still in its own order: the cluster settles.
        if (crashed !== undefined) await sim.restart(crashed);
        const settledAll = async (): Promise<boolean> => {
          for (let ms = 0; ms < 10_000; ms++) {
            while (s.count() > 0) await s.waitNext(1);
            if (sim.pending().length === 0 && sim.converged()) return true;
            await sim.advance(1);
          }
          return false;
        };
        expect(await settledAll(), sim.describe()).toBe(true);
        sim.finish();
        expect(sim.invariants.counts.sends).toBeGreaterThan(0);
      },
    ),
    { numRuns: Number(process.env['SYNOD_SCHEDULER_RUNS'] ?? 100) },
  );
}, 600_000);
