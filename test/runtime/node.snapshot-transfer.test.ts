/**
 * A snapshot streamed in a window of chunks, through a simulated network that loses,
 * duplicates and reorders them: the lagging node installs exactly the snapshot the
 * leader took (RuntimeSimulation checks every restored snapshot against the log the
 * replicas applied), over many seeds; a transfer whose bytes are damaged on the way
 * is refused, counted, and never installed; and the sender keeps the log after the
 * snapshot it sends, so the receiver goes on from there with one snapshot.
 */
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { NodeId } from '../../src/core/index.js';
import { SnapshotError, type SnapshotReader, type SnapshotWriter, type Storage, type Transport } from '../../src/runtime/index.js';
import type { ApplyMeta } from '../../src/runtime/index.js';
import { RecordingStateMachine, RuntimeSimulation, type VirtualClock } from '../../src/testing/index.js';

const seeds = [1, 2, 3, 4, 5, 6, 7, 8];

/** Snapshots every 5 slots, none of the log kept below them, 32-byte chunks, 8 in flight. */
const snapshot = { everySlots: 5, trailingSlots: 0, chunkBytes: 32, inflightBytesMax: 256 };

/** Pieces read and written through the streaming storage below, over all nodes; transfers whose CRC the runtime checked in the storage's place. */
const streamed = { reads: 0, writes: 0, commits: 0, checkedByCaller: 0, crcByCaller: 0 };

/**
 * The simulated storage with snapshots by pieces: reads that resolve later (on a
 * microtask, as a file's would on the event loop), writes gathered until the commit
 * saves them whole. The runtime then takes its streaming paths under the simulator's faults.
 */
function streaming(_id: NodeId, inner: Storage): Storage {
  return {
    load: () => inner.load(),
    persist: (batch) => inner.persist(batch),
    saveSnapshot: (snapshot) => inner.saveSnapshot(snapshot),
    loadSnapshot: () => inner.loadSnapshot(),
    compact: (slot) => inner.compact(slot),
    close: () => inner.close(),
    async openSnapshot(options): Promise<SnapshotReader | undefined> {
      const whole = await inner.loadSnapshot();
      if (whole === undefined) return undefined;
      // Left to the caller: the reader offers the data's CRC (and checks nothing itself).
      if (options?.checkedByCaller === true) streamed.checkedByCaller++;
      return {
        slot: whole.slot,
        byteLength: whole.data.byteLength,
        ...(options?.checkedByCaller === true ? { dataCrc32: crc32(whole.data) } : {}),
        async read(offset, length) {
          await Promise.resolve();
          streamed.reads++;
          return whole.data.slice(offset, offset + length);
        },
        close: async () => undefined,
      };
    },
    createSnapshot(slot, byteLength, options): SnapshotWriter {
      const data = new Uint8Array(byteLength);
      let written = 0;
      const byCaller = options?.dataCrc32ByCaller === true;
      return {
        async write(bytes) {
          data.set(bytes, written);
          written += bytes.byteLength;
          streamed.writes++;
        },
        async commit(dataCrc32) {
          if (written !== byteLength) throw new Error(`${written} of ${byteLength} bytes written`);
          // The CRC the runtime gives is the one of the bytes it wrote.
          if (byCaller) {
            if (dataCrc32 !== crc32(data)) throw new Error(`commit: CRC-32 ${dataCrc32} given, the bytes have ${crc32(data)}`);
            streamed.crcByCaller++;
          }
          streamed.commits++;
          await inner.saveSnapshot({ slot, data });
        },
        abort: async () => undefined,
      };
    },
  };
}

async function laggingCluster(seed: number, wrapTransport?: (id: NodeId, t: Transport) => Transport, wrapStorage?: (id: NodeId, s: Storage) => Storage) {
  const sim = new RuntimeSimulation({
    seed,
    voters: 3,
    node: { snapshot },
    network: { lossRate: 0.1, duplicateRate: 0.1, delayTicksMax: 4 },
    wrap: { ...(wrapTransport === undefined ? {} : { transport: wrapTransport }), ...(wrapStorage === undefined ? {} : { storage: wrapStorage }) },
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

  it('the same with a storage that reads and writes snapshots by pieces (8 seeds)', async () => {
    for (const seed of seeds) {
      const { sim, lagging, others } = await laggingCluster(seed, undefined, streaming);
      const before = { ...streamed };
      sim.heal();
      expect(await sim.runUntil(() => sim.converged(), 60_000), `seed ${seed}: did not converge`).toBe(true);
      expect(sim.node(lagging)!.metrics().snapshots.installed, `seed ${seed}`).toBeGreaterThan(0);
      expect(sim.applied(lagging).length).toBe(sim.applied(others[0]!).length);
      // The streaming paths were taken: pieces read by the sender, written and committed by the receiver.
      expect(streamed.reads, `seed ${seed}`).toBeGreaterThan(before.reads);
      expect(streamed.writes, `seed ${seed}`).toBeGreaterThan(before.writes);
      expect(streamed.commits, `seed ${seed}`).toBeGreaterThan(before.commits);
      // One CRC pass a side: the sender checks the stored bytes (its reader may have been
      // opened before the heal), the receiver gave its CRC to the commit.
      expect(streamed.checkedByCaller, `seed ${seed}`).toBeGreaterThan(0);
      expect(streamed.crcByCaller, `seed ${seed}`).toBeGreaterThan(before.crcByCaller);
      // Restarted, it restores what the pieces added up to in its storage (checked against the log).
      const restores = sim.counts.restores;
      sim.crash(lagging);
      await sim.restart(lagging);
      expect(sim.counts.restores, `seed ${seed}: no restore from the stored snapshot`).toBeGreaterThan(restores);
      expect(await sim.runUntil(() => sim.converged(), 60_000), `seed ${seed}: did not converge after the restart`).toBe(true);
      sim.finish();
    }
  }, 120_000);

  it('a chunk damaged on the way is refused with a SnapshotError and never installed; the next transfer installs (4 seeds)', async () => {
    for (const seed of seeds.slice(0, 4)) {
      let damage = false;
      let damaged = 0;
      let refused = (): number => 0;
      const warnings: unknown[] = [];
      // Once healed, every chunk 5 sent has one bit flipped after it left its sender, until
      // the lagging node has refused one: a damaged copy that arrives as a duplicate of a
      // good one, or after its transfer ended, is rightly dropped unread, so the first
      // damaged copy alone need not be the one checked (that depends on the schedule).
      const corrupt = (_id: NodeId, t: Transport): Transport => ({
        start: (handlers) => t.start(handlers),
        send: (m) => {
          if (damage && m.type === 'snapshotChunk' && m.offset === 5 * snapshot.chunkBytes && refused() === 0) {
            damaged++;
            const data = m.data.slice();
            data[0] = data[0]! ^ 0x04;
            return t.send({ ...m, data });
          }
          return t.send(m);
        },
        close: () => t.close(),
      });
      const { sim, lagging, others } = await laggingCluster(seed, corrupt);
      refused = () => sim.node(lagging)!.metrics().snapshots.refused;
      sim.node(lagging)!.on('error', (e) => warnings.push(e.error));
      // Nothing lost from now on, so the damaged chunk arrives (duplicated and reordered still).
      sim.network({ lossRate: 0, duplicateRate: 0.1, delayTicksMax: 4 });
      damage = true;
      sim.heal();
      expect(await sim.runUntil(() => sim.converged(), 60_000), `seed ${seed}: did not converge`).toBe(true);
      expect(damaged, `seed ${seed}: no chunk was damaged`).toBeGreaterThan(0);
      const metrics = sim.node(lagging)!.metrics().snapshots;
      expect(metrics.refused, `seed ${seed}`).toBeGreaterThanOrEqual(1);
      expect(
        warnings.some((w) => w instanceof SnapshotError && /fails its CRC/.test(w.message)),
        `seed ${seed}`,
      ).toBe(true);
      expect(metrics.installed).toBeGreaterThan(0);
      expect(sim.applied(lagging).length).toBe(sim.applied(others[0]!).length);
      sim.finish();
    }
  }, 120_000);
});

describe('a state machine that restores in steps', () => {
  /** Restores after `ms` of virtual time (its old state kept whole until then), and counts what it is asked meanwhile. */
  class SlowRestore extends RecordingStateMachine {
    restoring = false;
    appliedWhileRestoring = 0;
    restores = 0;
    constructor(
      private readonly clock: VirtualClock,
      private readonly ms: number,
    ) {
      super();
    }
    override apply(command: unknown, meta: ApplyMeta): number {
      if (this.restoring) this.appliedWhileRestoring++;
      return super.apply(command, meta);
    }
    override restore(data: Uint8Array): Promise<void> {
      this.restoring = true;
      return new Promise((done) => {
        this.clock.setTimer(() => {
          super.restore(data);
          this.restoring = false;
          this.restores++;
          done();
        }, this.ms);
      });
    }
  }

  it('the node keeps voting while it restores, applies nothing and serves nothing until the restore ends, and converges (8 seeds)', async () => {
    for (const seed of seeds) {
      const machines = new Map<NodeId, SlowRestore>();
      let sim!: RuntimeSimulation;
      sim = new RuntimeSimulation({
        seed,
        voters: 3,
        node: { snapshot },
        network: { lossRate: 0.05, duplicateRate: 0.05, delayTicksMax: 3 },
        stateMachine: (id) => {
          const m = new SlowRestore(sim.clock, 300);
          machines.set(id, m);
          return m;
        },
      });
      await sim.start();
      expect(await sim.runUntil(() => sim.leader() !== undefined, 10_000), `seed ${seed}: no leader`).toBe(true);
      const lagging = sim.voterIds.find((id) => id !== sim.leader())!;
      const propose = async (n: number, from: number): Promise<void> => {
        for (let i = from; i < from + n; i++) {
          let ok: boolean | undefined;
          sim.propose(sim.leader() ?? sim.voterIds[0]!, { i }).then(
            () => (ok = true),
            () => (ok = false),
          );
          expect(await sim.runUntil(() => ok !== undefined, 30_000), `seed ${seed}: proposal ${i} did not settle`).toBe(true);
        }
      };
      sim.partition([[lagging], sim.voterIds.filter((id) => id !== lagging)]);
      await propose(30, 0);
      sim.heal();
      // Writes go on while the lagging node receives and restores: they commit with its vote, and wait for its apply.
      const machine = (): SlowRestore => machines.get(lagging)!;
      await propose(1, 100);
      expect(await sim.runUntil(() => machine().restoring, 20_000), `seed ${seed}: no restore began`).toBe(true);
      // The third voter cut off: a write commits only with the restoring node's vote.
      const leader = sim.leader()!;
      const third = sim.voterIds.find((id) => id !== lagging && id !== leader)!;
      sim.partition([[third], [leader, lagging]]);
      let committedWhileRestoring = false;
      sim.propose(leader, { i: 300 }).then(
        () => (committedWhileRestoring = machine().restoring),
        () => undefined,
      );
      await sim.runUntil(() => !machine().restoring, 20_000);
      expect(committedWhileRestoring, `seed ${seed}: no write committed with the vote of the restoring node`).toBe(true);
      sim.heal();
      await propose(10, 200);
      expect(await sim.runUntil(() => sim.converged(), 60_000), `seed ${seed}: did not converge`).toBe(true);
      expect(machine().restores, `seed ${seed}`).toBeGreaterThan(0);
      expect(machine().appliedWhileRestoring, `seed ${seed}: applied while restoring`).toBe(0);
      expect(sim.applied(lagging).length).toBe(sim.applied(sim.voterIds.find((id) => id !== lagging)!).length);
      sim.finish();
    }
  }, 120_000);
});

describe('compaction while a snapshot is sent', () => {
  it('a transfer under way holds back compaction: an observer that missed the values pushed meanwhile goes on from the log after one snapshot (8 seeds)', async () => {
    for (const seed of seeds) {
      let observer: NodeId | undefined;
      let installed = (): number => 0;
      // Every chosen value pushed to the observer before it installed its snapshot is lost.
      const dropPushes = (_id: NodeId, t: Transport): Transport => ({
        start: (handlers) => t.start(handlers),
        send: (m) => (m.type === 'chosen' && m.to === observer && installed() === 0 ? undefined : t.send(m)),
        close: () => t.close(),
      });
      const sim = new RuntimeSimulation({
        seed,
        voters: 3,
        observers: 1,
        // One 32-byte chunk in flight: a transfer of many round trips.
        node: { snapshot: { ...snapshot, chunkBytes: 32, inflightBytesMax: 32 } },
        network: { lossRate: 0, duplicateRate: 0, delayTicksMax: 2 },
        wrap: { transport: dropPushes },
      });
      await sim.start();
      observer = sim.ids.find((id) => !sim.voterIds.includes(id))!;
      installed = () => sim.node(observer!)?.metrics().snapshots.installed ?? 0;
      expect(await sim.runUntil(() => sim.leader() !== undefined, 10_000), `seed ${seed}: no leader`).toBe(true);
      sim.partition([[observer], sim.voterIds]);
      const propose = async (n: number): Promise<void> => {
        for (let i = 0; i < n; i++) {
          let ok: boolean | undefined;
          sim.propose(sim.leader() ?? sim.voterIds[0]!, { i }).then(
            () => (ok = true),
            () => (ok = false),
          );
          expect(await sim.runUntil(() => ok !== undefined, 30_000), `seed ${seed}: a proposal did not settle`).toBe(true);
        }
      };
      await propose(40);
      sim.heal();
      expect(
        await sim.runUntil(() => sim.voterIds.some((id) => (sim.node(id)?.metrics().snapshots.sending ?? 0) > 0), 10_000),
        `seed ${seed}: no transfer`,
      ).toBe(true);
      // Meanwhile the voters snapshot and compact: 20 slots, 4 snapshots, each 5 slots apart.
      await propose(20);
      expect(installed(), `seed ${seed}: installed before the voters snapshotted again`).toBe(0);
      expect(await sim.runUntil(() => sim.converged(), 60_000), `seed ${seed}: did not converge`).toBe(true);
      expect(installed(), `seed ${seed}: snapshots the observer installed`).toBe(1);
      sim.finish();
    }
  }, 120_000);
});
