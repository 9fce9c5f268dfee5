/**
 * Generated register histories of the shapes that make a linearizability checker
 * work, for the comparison with Porcupine: each one what a correct register (or, for
 * the failing shapes, a register with one corrupted read) returns.
 */
import { type Operation, Prng, type RegisterInput, type RegisterOutput, type RegisterValue } from '../../src/testing/index.js';

/** A history of register operations; times are integers (Porcupine's are int64). */
export type RegisterHistory = Operation<RegisterInput, RegisterOutput>[];

/** One shape: a name, how it was made, and its history. */
export interface Shape {
  readonly name: string;
  readonly description: string;
  readonly history: RegisterHistory;
}

interface Plan {
  readonly client: number;
  readonly key: string;
  readonly input: RegisterInput;
  readonly invokedAt: number;
  readonly completedAt: number;
  /** When it takes effect (inside its interval, or later for a timed-out one), or never. */
  readonly effectAt: number | undefined;
  readonly timedOut: boolean;
}

interface Workload {
  readonly operations: number;
  readonly clients: number;
  readonly keys: number;
  /** Fractions of reads and compare-and-sets; the rest are writes. */
  readonly reads: number;
  readonly cas: number;
  /** Fraction of writes and compare-and-sets that time out (end `info`). */
  readonly timeouts: number;
  readonly values: number;
}

/** Sequential clients: think 0-2, an operation lasting 1-20 time units; a timed-out one may take effect up to 100 later. */
function plan(workload: Workload, prng: Prng): Plan[] {
  const clock = new Array<number>(workload.clients).fill(0);
  const plans: Plan[] = [];
  for (let i = 0; i < workload.operations; i++) {
    const client = prng.int(workload.clients);
    const invokedAt = clock[client]! + prng.int(3);
    const completedAt = invokedAt + 1 + prng.int(20);
    clock[client] = completedAt;
    const roll = prng.next();
    const value = prng.int(workload.values);
    const input: RegisterInput =
      roll < workload.reads
        ? { op: 'read' }
        : roll < workload.reads + workload.cas
          ? { op: 'cas', expected: prng.int(workload.values), value }
          : { op: 'write', value };
    const timedOut = input.op !== 'read' && prng.chance(workload.timeouts);
    const inside = invokedAt + prng.next() * (completedAt - invokedAt);
    const effectAt = !timedOut ? inside : prng.chance(0.5) ? inside + prng.next() * 100 : undefined;
    plans.push({ client, key: `k${prng.int(workload.keys)}`, input, invokedAt, completedAt, effectAt, timedOut });
  }
  return plans;
}

/** Applies the plans at their effect instants to one register per key; records what clients saw. */
function record(plans: readonly Plan[]): RegisterHistory {
  const outputs = new Array<RegisterOutput | undefined>(plans.length);
  const state = new Map<string, RegisterValue>();
  const order = plans.map((_, i) => i).filter((i) => plans[i]!.effectAt !== undefined);
  order.sort((a, b) => plans[a]!.effectAt! - plans[b]!.effectAt!);
  for (const i of order) {
    const { key, input } = plans[i]!;
    const current = state.get(key) ?? null;
    if (input.op === 'read') outputs[i] = { type: 'value', value: current };
    else if (input.op === 'write') {
      state.set(key, input.value);
      outputs[i] = { type: 'written' };
    } else {
      const ok = current === input.expected;
      if (ok) state.set(key, input.value);
      outputs[i] = { type: 'cas', ok };
    }
  }
  return plans.map((p, i) =>
    p.timedOut
      ? { client: `c${p.client}`, key: p.key, input: p.input, invokedAt: p.invokedAt, outcome: 'info' as const }
      : { client: `c${p.client}`, key: p.key, input: p.input, invokedAt: p.invokedAt, completedAt: p.completedAt, outcome: 'ok' as const, output: outputs[i]! },
  );
}

/** `k` concurrent timed-out writes of distinct values, then `reads` reads, each of the value of one of them. */
function timedOutWritesThenReads(k: number, reads: number, prng: Prng, readable: (i: number) => number): RegisterHistory {
  const history: RegisterHistory = [];
  for (let i = 0; i < k; i++) history.push({ client: `w${i}`, key: 'k0', input: { op: 'write', value: i }, invokedAt: i, outcome: 'info' });
  for (let i = 0; i < reads; i++) {
    const at = k + 10 + i * 10 + prng.int(3);
    history.push({
      client: `r${i % 4}`,
      key: 'k0',
      input: { op: 'read' },
      invokedAt: at,
      completedAt: at + 5,
      outcome: 'ok',
      output: { type: 'value', value: readable(i) },
    });
  }
  return history;
}

/**
 * Makes one `ok` read of the last key, the last one or the first after `from`,
 * return a value nobody wrote: the history is then not linearizable.
 */
function corruptRead(history: RegisterHistory, from?: number): RegisterHistory {
  const keys = [...new Set(history.map((o) => o.key))];
  const target = keys[keys.length - 1]!;
  let index = history.length - 1;
  if (from !== undefined) {
    index = from;
    while (index < history.length && !(history[index]!.key === target && history[index]!.input.op === 'read' && history[index]!.outcome === 'ok')) index++;
    if (index === history.length) throw new Error(`no read of ${target} after ${from} to corrupt`);
  }
  while (index >= 0 && !(history[index]!.key === target && history[index]!.input.op === 'read' && history[index]!.outcome === 'ok')) index--;
  if (index < 0) throw new Error(`no read of ${target} to corrupt`);
  const copy = [...history];
  copy[index] = { ...copy[index]!, output: { type: 'value', value: -1 } };
  return copy;
}

/** Every shape of the comparison, from one seed. */
export function shapes(seed: number): Shape[] {
  const prng = new Prng(seed);
  const many = record(plan({ operations: 20_000, clients: 50, keys: 100, reads: 0.5, cas: 0.2, timeouts: 0.01, values: 10 }, prng));
  const casTimeouts = record(plan({ operations: 2_000, clients: 10, keys: 4, reads: 0.4, cas: 0.4, timeouts: 0.1, values: 5 }, prng));
  const oneKey = record(plan({ operations: 10_000, clients: 10, keys: 1, reads: 0.5, cas: 0.2, timeouts: 0.01, values: 10 }, prng));
  const fiftyClients = record(plan({ operations: 5_000, clients: 50, keys: 5, reads: 0.5, cas: 0.2, timeouts: 0.02, values: 10 }, prng));
  return [
    { name: 'many clients, many keys', description: '20,000 ops, 50 clients, 100 keys, 50% read / 20% CAS / 30% write, 1% of writes time out', history: many },
    { name: 'many keys, one bad read', description: 'the same with the last read of the last key corrupted', history: corruptRead(many) },
    { name: 'CAS, many timeouts', description: '2,000 ops, 10 clients, 4 keys, 40% CAS, 10% of writes and CAS time out', history: casTimeouts },
    { name: 'one key, long', description: '10,000 ops, 10 clients, 1 key', history: oneKey },
    {
      name: '50 clients, 5 keys, one bad read',
      description: '5,000 ops, 50 clients, 5 keys, 2% timeouts, the first read of the last key after op 500 corrupted',
      history: corruptRead(fiftyClients, 500),
    },
    { name: '50 clients, 5 keys', description: 'the same, uncorrupted', history: fiftyClients },
    {
      name: '14 timed-out writes, then reads',
      description: '14 concurrent timed-out writes, then 40 reads that all see the last one',
      history: timedOutWritesThenReads(14, 40, prng, () => 13),
    },
    {
      name: '14 timed-out writes, impossible reads',
      description: 'the same, the reads alternating between two values (never linearizable)',
      history: timedOutWritesThenReads(14, 40, prng, (i) => (i % 2 === 0 ? 3 : 5)),
    },
  ];
}
