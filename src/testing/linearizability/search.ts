/**
 * The search for a linearization of one partition: Wing & Gong's algorithm with
 * Lowe's just-in-time refinements ("Testing for linearizability", 2017), as in
 * Porcupine and Knossos.
 *
 * The history is a doubly linked list of call and return entries in time order. The
 * search walks it from the head: at a call, it tries to linearize that operation
 * now (apply it to the model state; the observed output must match), and if the
 * pair (set of linearized operations, model state) is new, it lifts the call and its
 * return out of the list, pushes the choice and restarts from the head. At a return,
 * the operation whose return it is cannot be delayed further, so the last choice was
 * wrong: pop it, unlift it, and try the next call after it. The memo cache of
 * (linearized bitset, state hash) prunes every configuration already explored.
 *
 * `info` operations return at +infinity, so they are never forced: the search may
 * linearize them or leave them out. It succeeds once every `ok` operation is
 * linearized. `fail` operations never reach this file.
 */
import { assert } from '../../core/assert.js';
import type { Budget } from './budget.js';
import type { Operation } from './history.js';
import type { Model } from './model.js';

/** What the search of one partition found. @internal */
export type SearchResult = 'linearizable' | 'not-linearizable' | 'unknown';

class Entry {
  prev: Entry | null = null;
  next: Entry | null = null;
  match: Entry | null = null;

  constructor(
    /** The operation's index, or -1 for the list head. */
    readonly op: number,
    readonly isCall: boolean,
  ) {}
}

/** A 32-bit mix (murmur3's finalizer) of `x` with `seed`: the Zobrist code of an operation. */
function mix32(x: number, seed: number): number {
  let h = (x ^ seed) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function sameBits(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Removes a call entry and its return from the list. */
function lift(call: Entry): void {
  const ret = call.match!;
  call.prev!.next = call.next;
  call.next!.prev = call.prev;
  ret.prev!.next = ret.next;
  if (ret.next !== null) ret.next.prev = ret.prev;
}

/** Puts back a call entry and its return, undoing {@link lift}. */
function unlift(call: Entry): void {
  const ret = call.match!;
  ret.prev!.next = ret;
  if (ret.next !== null) ret.next.prev = ret;
  call.prev!.next = call;
  call.next!.prev = call;
}

/** Builds the entry list of `operations` in time order; returns its head (a sentinel). */
function entryList<I, O>(operations: readonly Operation<I, O>[]): Entry {
  const points: { time: number; entry: Entry }[] = [];
  operations.forEach((operation, index) => {
    const call = new Entry(index, true);
    const ret = new Entry(index, false);
    call.match = ret;
    ret.match = call;
    const returnsAt = operation.outcome === 'info' ? Number.POSITIVE_INFINITY : operation.completedAt!;
    points.push({ time: operation.invokedAt, entry: call }, { time: returnsAt, entry: ret });
  });
  // Calls before returns at equal times: equal times are concurrent, never ordered.
  points.sort((a, b) => a.time - b.time || Number(a.entry.isCall ? 0 : 1) - Number(b.entry.isCall ? 0 : 1) || a.entry.op - b.entry.op);
  const head = new Entry(-1, false);
  let last = head;
  for (const { entry } of points) {
    last.next = entry;
    entry.prev = last;
    last = entry;
  }
  return head;
}

/**
 * Searches for a linearization of `operations` (one key's `ok` and `info`
 * operations) against `model`, spending `budget`. @internal
 */
export function searchPartition<S, I, O>(operations: readonly Operation<I, O>[], model: Model<S, I, O>, budget: Budget): SearchResult {
  assert(
    operations.every((operation) => operation.outcome !== 'fail'),
    'searchPartition: fail operations must be dropped first',
  );
  let okRemaining = operations.filter((operation) => operation.outcome === 'ok').length;
  if (okRemaining === 0) return 'linearizable';

  const head = entryList(operations);
  const linearized = new Uint32Array((operations.length + 31) >>> 5);
  const code1 = operations.map((_, index) => mix32(index, 0x9e3779b9));
  const code2 = operations.map((_, index) => mix32(index, 0x7f4a7c15));
  let hash1 = 0;
  let hash2 = 0;
  const seen = new Map<string, Uint32Array[]>();
  const chosen: { call: Entry; stateBefore: S; forced: boolean }[] = [];
  let state = model.init();
  let entry = head.next;

  for (;;) {
    if (!budget.spend()) return 'unknown';
    assert(entry !== null, () => `linearizability search ran off the list with ${okRemaining} ok operations left`);
    const index = entry.op;
    const operation = operations[index]!;
    if (entry.isCall) {
      const step = model.step(state, operation.input, operation.outcome === 'ok' ? operation.output : undefined);
      if (step.ok) {
        const word = index >>> 5;
        const bit = 1 << (index & 31);
        linearized[word]! |= bit;
        const next1 = (hash1 ^ code1[index]!) >>> 0;
        const next2 = (hash2 ^ code2[index]!) >>> 0;
        const key = `${next1}.${next2}.${model.hash(step.state)}`;
        const bucket = seen.get(key);
        if (bucket === undefined || !bucket.some((bits) => sameBits(bits, linearized))) {
          if (bucket === undefined) seen.set(key, [linearized.slice()]);
          else bucket.push(linearized.slice());
          // A completed read (an operation that, with its output, never changes any
          // state) loses nothing by taking effect as soon as it can: remove it from any
          // later place in a linearization and put it here, and the rest still holds.
          // So it is no choice, and backtracking passes over it.
          const forced = operation.outcome === 'ok' && model.readOnly !== undefined && model.readOnly(operation.input, operation.output!);
          chosen.push({ call: entry, stateBefore: state, forced });
          state = step.state;
          hash1 = next1;
          hash2 = next2;
          lift(entry);
          if (operation.outcome === 'ok') {
            okRemaining--;
            if (okRemaining === 0) return 'linearizable';
          }
          entry = head.next;
          continue;
        }
        linearized[word]! &= ~bit;
      }
      entry = entry.next;
      continue;
    }
    // A return: its operation cannot wait any longer, so undo the last choice.
    assert(operation.outcome === 'ok', () => `reached the return of operation ${index} (${operation.outcome}) with ${okRemaining} ok operations left`);
    let last: (typeof chosen)[number] | undefined;
    do {
      last = chosen.pop();
      if (last === undefined) return 'not-linearizable';
      const undone = last.call.op;
      state = last.stateBefore;
      linearized[undone >>> 5]! &= ~(1 << (undone & 31));
      hash1 = (hash1 ^ code1[undone]!) >>> 0;
      hash2 = (hash2 ^ code2[undone]!) >>> 0;
      unlift(last.call);
      if (operations[undone]!.outcome === 'ok') okRemaining++;
    } while (last.forced);
    entry = last.call.next;
  }
}
