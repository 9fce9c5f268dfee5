/**
 * A snapshot streamed in a window of chunks, through a simulated network that loses,
 * duplicates and reorders them: the lagging node installs exactly the snapshot the
 * leader took (RuntimeSimulation checks every restored snapshot against the log the
 * replicas applied), over many seeds; and a transfer whose bytes are damaged on the way
 * is refused, counted, and never installed.
 */
import { describe, expect, it } from 'vitest';
import type { NodeId } from '../../src/core/index.js';
import { SnapshotError, type Transport } from '../../src/runtime/index.js';
import { RuntimeSimulation } from '../../src/testing/index.js';

const seeds = [1, 2, 3, 4, 5, 6, 7, 8];

/** Snapshots every 5 slots, none of the log kept below them, 32-byte chunks, 8 in flight. */
const snapshot = { everySlots: 5, trailingSlots: 0, chunkBytes: 32, inflightBytesMax: 256 };

async function laggingCluster(seed: number, wrapTransport?: (id: NodeId, t: Transport) => Transport) {
  const sim = new RuntimeSimulation({
    seed,
    voters: 3,
    node: { snapshot },
    network: { lossRate: 0.1, duplicateRate: 0.1, delayTicksMax: 4 },
    ...(wrapTransport === undefined ? {} : { wrap: { transport: wrapTransport } }),
  });
  await sim.start();
  expect(await sim.runUntil(() => sim.leader() !== undefined, 10_000), `seed ${seed}: no leader`).toBe(true);
  const leader = sim.leader()!;
  const lagging = sim.voterIds.find((id) => id !== leader)!;
  sim.partition([[lagging], sim.voterIds.filter((id) => id !== lagging)]);
  // One at a time, so that each takes a slot of its own (proposals made together share one).
  for (let i = 0; i < 40; i++) {
    let ok: boolean | undefined;
    sim.propose(sim.leader() ?? leader, { i }).then(
      () => (ok = true),
      () => (ok = false),
    );
    expect(await sim.runUntil(() => ok !== undefined, 30_000), `seed ${seed}: proposal ${i} did not settle`).toBe(true);
  }
  // Leadership may have moved meanwhile; the others hold snapshots that cover slots the lagging node lacks.
  const others = sim.voterIds.filter((id) => id !== lagging);
  expect(await sim.runUntil(() => others.every((id) => (sim.node(id)?.metrics().snapshots.saved ?? 0) > 0), 10_000), `seed ${seed}: no snapshots`).toBe(true);
  return { sim, lagging, others };
}

describe('snapshot transfer through a lossy, duplicating, reordering network', () => {
  it('the lagging node installs exactly the snapshot the leader took, in a window of chunks (8 seeds)', async () => {
    for (const seed of seeds) {
      const { sim, lagging, others } = await laggingCluster(seed);
      const restores = sim.counts.restores;
      sim.heal();
      expect(await sim.runUntil(() => sim.converged(), 60_000), `seed ${seed}: did not converge`).toBe(true);
      expect(sim.node(lagging)!.metrics().snapshots.installed, `seed ${seed}`).toBeGreaterThan(0);
      // Each restore was checked against the applied log as it happened.
      expect(sim.counts.restores).toBeGreaterThan(restores);
      expect(sim.applied(lagging).length).toBe(sim.applied(others[0]!).length);
      sim.finish();
    }
  }, 120_000);

  it('a chunk damaged on the way is refused with a SnapshotError and never installed; the next transfer installs (4 seeds)', async () => {
    for (const seed of seeds.slice(0, 4)) {
      let damage = false;
      const warnings: unknown[] = [];
      // Once healed, the first chunk 5 sent has one bit flipped after it left its sender.
      const corrupt = (_id: NodeId, t: Transport): Transport => ({
        start: (handlers) => t.start(handlers),
        send: (m) => {
          if (damage && m.type === 'snapshotChunk' && m.offset === 5 * snapshot.chunkBytes) {
            damage = false;
            const data = m.data.slice();
            data[0] = data[0]! ^ 0x04;
            return t.send({ ...m, data });
          }
          return t.send(m);
        },
        close: () => t.close(),
      });
      const { sim, lagging, others } = await laggingCluster(seed, corrupt);
      sim.node(lagging)!.on('error', (e) => warnings.push(e.error));
      // Nothing lost from now on, so the damaged chunk arrives (duplicated and reordered still).
      sim.network({ lossRate: 0, duplicateRate: 0.1, delayTicksMax: 4 });
      damage = true;
      sim.heal();
      expect(await sim.runUntil(() => sim.converged(), 60_000), `seed ${seed}: did not converge`).toBe(true);
      expect(damage, `seed ${seed}: no chunk was damaged`).toBe(false);
      const metrics = sim.node(lagging)!.metrics().snapshots;
      expect(metrics.refused, `seed ${seed}`).toBe(1);
      expect(warnings.some((w) => w instanceof SnapshotError && /fails its CRC/.test(w.message)), `seed ${seed}`).toBe(true);
      expect(metrics.installed).toBeGreaterThan(0);
      expect(sim.applied(lagging).length).toBe(sim.applied(others[0]!).length);
      sim.finish();
    }
  }, 120_000);
});
