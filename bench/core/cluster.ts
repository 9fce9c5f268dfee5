/**
 * The core benchmark's machinery, shared by `bench/core/run.ts` (which documents the
 * method) and the runtime benchmark's same-run baseline (`batched.ts`): three real
 * `Replica`s on a synchronous FIFO network with instant persistence, and timed rounds
 * of chunked proposals, each on a fresh cluster.
 */
import { performance } from 'node:perf_hooks';
import { type Limits, type Message, type NodeId, type Output, Replica, majority } from '../../src/core/index.js';
import { Prng } from '../../src/testing/prng.js';

export interface Mode {
  readonly name: 'unbatched' | 'batched' | 'one-slot';
  /** Commands in each slot. */
  readonly commandsPerSlot: number;
  /** Slots proposed at once before the network is drained. */
  readonly chunkSlots: number;
  /** Commands in one measured round. */
  readonly commandsPerRound: number;
}

export const modes: readonly Mode[] = [
  { name: 'unbatched', commandsPerSlot: 1, chunkSlots: 64, commandsPerRound: 200_000 },
  { name: 'batched', commandsPerSlot: 64, chunkSlots: 64, commandsPerRound: 2_000_000 },
  // Not a target: one slot in flight, so every accept carries one slot and the
  // per-message cost (guards, output batches, message records) dominates.
  { name: 'one-slot', commandsPerSlot: 1, chunkSlots: 1, commandsPerRound: 50_000 },
];
export const commandBytes = 16;
export const warmupRounds = 2;
const seed = 42;
const ids: readonly NodeId[] = ['a', 'b', 'c'];

function limitsFor(mode: Mode): Partial<Limits> {
  return {
    batchCommandsMax: mode.commandsPerSlot,
    inflightSlotsMax: 4096,
    proposalQueueMax: 1 << 20,
  };
}

/** Distinct 16-byte commands, reused round after round. */
const pool: Uint8Array[] = Array.from({ length: 1 << 16 }, (_, i) => {
  const c = new Uint8Array(commandBytes);
  new DataView(c.buffer).setUint32(0, i);
  return c;
});

/** One chunk's commands, as arrays cut from the pool before timing. */
export function chunksFor(mode: Mode): Uint8Array[][] {
  const size = mode.chunkSlots * mode.commandsPerSlot;
  const chunks: Uint8Array[][] = [];
  for (let start = 0; start + size <= pool.length; start += size) chunks.push(pool.slice(start, start + size));
  return chunks;
}

export class Cluster {
  readonly replicas = new Map<NodeId, Replica>();
  /** The network: a FIFO queue of messages in flight. */
  private queue: Message[] = [];
  private head = 0;
  /** Messages delivered so far. */
  messages = 0;
  /** Commands applied by each replica. */
  readonly appliedCommands = new Map<NodeId, number>();
  /** Folds every applied command in, so applying cannot be optimized away. */
  checksum = 0;

  constructor(limits: Partial<Limits>) {
    const quorum = majority(ids);
    const rng = new Prng(seed);
    for (const id of ids) {
      const random = rng.fork();
      this.replicas.set(id, new Replica({ id, quorum, limits, random: () => random.next() }));
      this.appliedCommands.set(id, 0);
    }
  }

  /** Ticks until one replica leads and every other follows it. */
  elect(): Replica {
    for (let tick = 0; tick < 10_000; tick++) {
      for (const r of this.replicas.values()) {
        r.tick();
        this.drain(r);
      }
      this.deliver();
      const leader = [...this.replicas.values()].find((r) => r.role === 'leader');
      if (leader !== undefined && [...this.replicas.values()].every((r) => r.status.leader === leader.id)) return leader;
    }
    throw new Error('no leader elected in 10,000 ticks');
  }

  /** Does all the work `replica` handed out: persist (instantly), send, apply. */
  drain(replica: Replica): void {
    for (;;) {
      const out = replica.takeOutput();
      if (out.persist === undefined && out.messages.length === 0 && out.committed.length === 0 && out.dropped.length === 0) return;
      if (out.dropped.length > 0) throw new Error(`${replica.id} dropped ${out.dropped.length} commands`);
      if (out.persist !== undefined) replica.persisted(out.persistSeq);
      for (const m of out.messages) this.queue.push(m);
      if (out.committed.length > 0) this.apply(replica, out);
    }
  }

  private apply(replica: Replica, out: Output): void {
    let applied = 0;
    for (const { value } of out.committed) {
      if (value.kind !== 'batch') continue;
      for (const c of value.commands) this.checksum = (this.checksum + c[0]! + c[3]!) | 0;
      applied += value.commands.length;
    }
    replica.applied(out.committed[out.committed.length - 1]!.slot);
    this.appliedCommands.set(replica.id, this.appliedCommands.get(replica.id)! + applied);
  }

  /** Delivers messages, in order, until none is in flight. */
  deliver(): void {
    while (this.head < this.queue.length) {
      const m = this.queue[this.head++]!;
      this.messages++;
      const r = this.replicas.get(m.to)!;
      r.step(m);
      this.drain(r);
    }
    this.queue.length = 0;
    this.head = 0;
  }
}

export interface RoundResult {
  readonly seconds: number;
  readonly commands: number;
  readonly slots: number;
  readonly messages: number;
}

/** A fresh cluster with an elected leader, ready for `mode`. */
export function setUp(mode: Mode): { cluster: Cluster; leader: Replica } {
  const cluster = new Cluster(limitsFor(mode));
  const leader = cluster.elect();
  return { cluster, leader };
}

/** Proposes `chunkCount` chunks one after the other, draining the network after each. */
export function pump(cluster: Cluster, leader: Replica, chunks: readonly Uint8Array[][], chunkCount: number): void {
  for (let i = 0; i < chunkCount; i++) {
    const result = leader.propose(chunks[i % chunks.length]!);
    if (!result.ok) throw new Error(`propose refused: ${JSON.stringify(result)}`);
    cluster.drain(leader);
    cluster.deliver();
  }
}

export function round(mode: Mode, chunks: readonly Uint8Array[][]): RoundResult {
  const { cluster, leader } = setUp(mode);
  const chunkCount = Math.ceil(mode.commandsPerRound / (mode.chunkSlots * mode.commandsPerSlot));
  const slotsBefore = leader.status.commitIndex;
  const messagesBefore = cluster.messages;
  const commandsBefore = cluster.appliedCommands.get(leader.id)!;
  const start = performance.now();
  pump(cluster, leader, chunks, chunkCount);
  const seconds = (performance.now() - start) / 1000;
  const commands = cluster.appliedCommands.get(leader.id)! - commandsBefore;
  const slots = leader.status.commitIndex - slotsBefore;
  const expected = chunkCount * mode.chunkSlots * mode.commandsPerSlot;
  if (commands !== expected) throw new Error(`${mode.name}: leader applied ${commands} commands, expected ${expected}`);
  if (slots * mode.commandsPerSlot !== commands) throw new Error(`${mode.name}: ${slots} slots for ${commands} commands`);
  return { seconds, commands, slots, messages: cluster.messages - messagesBefore };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Warm-up rounds, then `rounds` measured rounds of `mode`: the round of median throughput. */
export function medianRound(mode: Mode, rounds: number): RoundResult {
  const chunks = chunksFor(mode);
  for (let i = 0; i < warmupRounds; i++) round(mode, chunks);
  const results: RoundResult[] = [];
  for (let i = 0; i < rounds; i++) results.push(round(mode, chunks));
  const byRate = [...results].sort((a, b) => a.commands / a.seconds - b.commands / b.seconds);
  return byRate[byRate.length >> 1]!;
}
