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
 * wrong: pop it, unlift it, and try the next call after it. The memo of
 * (linearized bitset, interned state) prunes every configuration already explored.
 *
 * `info` operations return at +infinity, so they are never forced: the search may
 * linearize them or leave them out. It succeeds once every `ok` operation is
 * linearized. `fail` operations never reach this file.
 *
 * One more prune, for `info` operations whose effect is overwritten before anyone sees
 * it: say the last choice linearized `info` operation x from configuration C, and the
 * walk now meets a call y invoked before x that leads from C + x to the state it
 * leads to from C alone. Then C + x + y is dominated by C + y: the same state, the
 * same operations left but x, and x may be left out (it returns at +infinity, so it
 * never holds back another operation). C's walk met y before x, so C + y was already
 * explored (or memoized, or itself dominated) and failed; C + x + y is skipped. With
 * several timed-out writes, this keeps the search from trying every subset of them
 * in front of each read. Only a call invoked earlier is skipped: skipping later ones
 * too would also be sound, but it would leave unread timed-out writes pending for
 * the rest of the walk, and every later configuration would retry them.
 *
 * The search is resumable: {@link PartitionSearch.run} takes a number of steps and
 * can be called again, so the checker can search many keys in turns. States are
 * interned (equal hashes, one id), and once the search backtracks (two steps per
 * operation) each (state, operation) transition is asked of the model once and then
 * looked up, so a step allocates nothing: the stack, the bitset, the memo and the
 * transitions are typed arrays allocated up front or grown by doubling.
 */
import { assert } from '../../core/assert.js';
import type { Budget } from './budget.js';
import type { Operation } from './history.js';
import { linearizabilityLimits } from './limits.js';
import { Memo, slotsFor } from './memo.js';
import type { Model } from './model.js';
import { Carving } from './scratch.js';
import { misfit, Transitions, unknownTransition } from './transitions.js';

/** What `intern` answers when the memory bound forbids a new state. */
const noMemory = -3;

/** What the search of one partition found. @internal */
export type SearchResult = 'linearizable' | 'not-linearizable' | 'unknown';

/** What one turn of a {@link PartitionSearch} ended with. @internal */
export type TurnResult = 'linearizable' | 'not-linearizable' | 'paused' | 'memory bound';

/**
 * Where the search got furthest before a return forced it back: the configuration
 * that reached the latest return entry in time order. Every linearization dies at or
 * before that return. @internal
 */
export interface DeathPoint<S> {
  /** The operation whose return could not be passed (an `ok` operation, by index). */
  readonly stuck: number;
  /** The operations linearized, in order, on the first path that got there. */
  readonly path: readonly number[];
  /** The distinct model states possible there (at most `explainStatesMax`), the path's first. */
  readonly states: readonly S[];
}

/**
 * The entry list, in typed arrays: entry `2i` is operation `i`'s call, `2i + 1` its
 * return, and `2n` the head (a sentinel); `none` ends the list.
 */
interface EntryList {
  readonly next: Int32Array;
  readonly prev: Int32Array;
  /** Position of each entry in time order (the head's is -1). */
  readonly position: Int32Array;
  readonly head: number;
}

const none = -1;

/** A 32-bit mix (murmur3's finalizer) of `x` with `seed`: the Zobrist code of an operation. */
function mix32(x: number, seed: number): number {
  let h = (x ^ seed) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Removes call entry `call` and its return from the list. */
function lift(list: EntryList, call: number): void {
  const { next, prev } = list;
  const ret = call + 1;
  next[prev[call]!] = next[call]!;
  prev[next[call]!] = prev[call]!;
  next[prev[ret]!] = next[ret]!;
  if (next[ret] !== none) prev[next[ret]!] = prev[ret]!;
}

/** Puts back call entry `call` and its return, undoing {@link lift}. */
function unlift(list: EntryList, call: number): void {
  const { next, prev } = list;
  const ret = call + 1;
  next[prev[ret]!] = ret;
  if (next[ret] !== none) prev[next[ret]!] = ret;
  next[prev[call]!] = call;
  prev[next[call]!] = call;
}

/**
 * Sorts `entries` by time, then by entry: an insertion sort, linear on the nearly
 * sorted order a history comes in (each entry a few places from where it belongs);
 * past `entrySortMovesPerEntry` moves an entry on average, the general sort.
 */
function sortByTime(entries: Int32Array, times: Float64Array): void {
  const movesMax = entries.length * linearizabilityLimits.entrySortMovesPerEntry;
  let moves = 0;
  for (let i = 1; i < entries.length; i++) {
    const entry = entries[i]!;
    const time = times[entry]!;
    let j = i - 1;
    for (; j >= 0; j--) {
      const before = entries[j]!;
      if (times[before]! < time || (times[before] === time && before < entry)) break;
      entries[j + 1] = before;
    }
    entries[j + 1] = entry;
    moves += i - 1 - j;
    if (moves > movesMax) {
      entries.sort((a, b) => times[a]! - times[b]! || a - b);
      return;
    }
  }
}

/**
 * Links the entry list `list` (its arrays carved, their contents unset) of `n`
 * operations in time order, from each entry's time in `times` (+infinity for the return
 * of an `info` operation, whose `isOk` is 0); `calls` and `returns` are scratch space
 * of `n` each.
 */
function linkEntries(list: EntryList, times: Float64Array, isOk: Uint8Array, calls: Int32Array, returns: Int32Array): void {
  const n = isOk.length;
  const { next, prev, position, head } = list;
  // Returns of ok operations first, then those of info operations (at +infinity, in order).
  let okReturns = 0;
  for (let i = 0; i < n; i++) {
    calls[i] = 2 * i;
    if (isOk[i] === 1) returns[okReturns++] = 2 * i + 1;
  }
  for (let i = 0, info = okReturns; i < n; i++) if (isOk[i] === 0) returns[info++] = 2 * i + 1;
  sortByTime(calls, times);
  sortByTime(returns.subarray(0, okReturns), times);
  position[head] = -1;
  prev[head] = none;
  let last = head;
  // Merged in time order; at equal times calls go first: equal times are concurrent, never ordered.
  for (let p = 0, c = 0, r = 0; p < 2 * n; p++) {
    const entry = r === n || (c < n && times[calls[c]!]! <= times[returns[r]!]!) ? calls[c++]! : returns[r++]!;
    position[entry] = p;
    next[last] = entry;
    prev[entry] = last;
    last = entry;
  }
  next[last] = none;
}

/** Where {@link readOperations} copies the operations of a search to, one slot per operation. */
interface OperationColumns<I, O> {
  /** Entry `2i` is operation `i`'s invocation time, `2i + 1` its completion (+infinity for `info`). */
  readonly times: Float64Array;
  /** 1 for an `ok` operation, 0 for an `info` one. */
  readonly isOk: Uint8Array;
  /** 1 for an `ok` operation the model says changes no state (see `Model.readOnly`). */
  readonly readOnly: Uint8Array;
  readonly inputs: I[];
  /** The output of each `ok` operation. */
  readonly observed: (O | undefined)[];
}

/**
 * Copies what the search reads of `operations` into `columns`, and answers how many
 * are `ok`. The one place the search reads the history's objects, and a loop of its
 * own: an operation of a shape not seen before deoptimizes only this loop, never the
 * search's hot loop.
 */
function readOperations<S, I, O>(operations: readonly Operation<I, O>[], model: Model<S, I, O>, columns: OperationColumns<I, O>): number {
  const { times, isOk, readOnly, inputs, observed } = columns;
  let okCount = 0;
  for (let index = 0; index < operations.length; index++) {
    const operation = operations[index]!;
    const { outcome, input } = operation;
    assert(outcome !== 'fail', () => `searchPartition: operation ${index} failed; fail operations must be dropped first`);
    inputs[index] = input;
    times[2 * index] = operation.invokedAt;
    if (outcome !== 'ok') {
      times[2 * index + 1] = Number.POSITIVE_INFINITY;
      continue;
    }
    times[2 * index + 1] = operation.completedAt!;
    okCount++;
    isOk[index] = 1;
    const output = operation.output!;
    observed[index] = output;
    // A completed read (an operation that, with its output, never changes any state)
    // loses nothing by taking effect as soon as it can: remove it from any later place
    // in a linearization and put it here, and the rest still holds. So it is no
    // choice, and backtracking passes over it.
    if (model.readOnly?.(input, output) === true) readOnly[index] = 1;
  }
  return okCount;
}

/**
 * The resumable search of one partition (one key's `ok` and `info` operations).
 * Holds its memo's bytes reserved from the budget, and its arrays borrowed from the
 * budget's scratch buffers, until {@link release}. @internal
 */
export class PartitionSearch<S, I, O> {
  /** The scratch buffer its entry list, bitset, codes, flags and stack are carved from. */
  private readonly buffer: ArrayBuffer;
  private released = false;
  private readonly list: EntryList;
  private readonly linearized: Uint32Array;
  private readonly code: Uint32Array;
  // The operations' inputs and outputs, copied out once: the hot loop reads no user
  // object but through the model, so a history's new object shapes cannot deoptimize it.
  private readonly inputs: I[];
  private readonly observed: (O | undefined)[];
  private readonly isOk: Uint8Array;
  private readonly readOnly: Uint8Array;
  private readonly memo: Memo;
  /** Interned state hashes: equal states share one id. */
  private readonly stateIds = new Map<string, number>();
  /** The states by id. */
  private readonly states: S[] = [];
  private internedBytes = 0;
  private readonly transitions: Transitions;
  /**
   * Whether transitions are cached: not before the search has taken two steps per
   * operation (a search that does not backtrack never repeats one), then on, and off
   * for good once they prove not to repeat.
   */
  private caching: 'not yet' | 'on' | 'off' = 'not yet';
  /** The search's steps when caching began. */
  private cachingSince = 0;
  private transitionsLearned = 0;
  // The stack of choices, as parallel arrays: the call lifted, and the state id before it.
  private readonly stackCall: Int32Array;
  private readonly stackStateId: Int32Array;
  private depth = 0;
  /** The Zobrist code of `linearized`. */
  private hash = 0;
  private stateId: number;
  private entry: number;
  private okRemaining: number;
  private finished: TurnResult | undefined;
  /** Steps taken by this search. */
  steps = 0;
  // The death point: the furthest return position reached so far, and its operation.
  // Only a search told that position (`explainAt`) copies the path there: copying at
  // every new furthest point would cost the square of the history's length.
  private deathPosition = -1;
  private deathStuck = -1;
  private deathPathTaken = false;
  /** The search's steps when it last recorded the configuration at `explainAt` (each arrival is recorded once). */
  private deathRecordedAtStep = -1;
  /** Set once an explaining search has the path and `explainStatesMax` states: it need not go on. */
  explained = false;
  private deathPath: number[] = [];
  private readonly deathStates: S[] = [];
  private readonly deathStateIds = new Set<number>();

  constructor(
    operations: readonly Operation<I, O>[],
    private readonly model: Model<S, I, O>,
    private readonly budget: Budget,
    /**
     * The furthest return position of an earlier search of the same operations, to
     * record the path and states there; -1 (the default): only find it. Always a
     * number, so the explaining search does not deoptimize the constructor the others share.
     */
    private readonly explainAt = -1,
  ) {
    const n = operations.length;
    const words = Math.max(1, (n + 31) >>> 5);
    const { scratch } = budget;
    const parts: [number, number][] = [
      [4, 2 * n + 1],
      [4, 2 * n + 1],
      [4, 2 * n + 1],
      [4, words],
      [4, n],
      [4, n + 1],
      [4, n + 1],
      [1, n],
      [1, n],
    ];
    this.buffer = scratch.borrow(Carving.bytes(parts));
    const carving = new Carving(this.buffer);
    this.list = { next: carving.int32(2 * n + 1), prev: carving.int32(2 * n + 1), position: carving.int32(2 * n + 1), head: 2 * n };
    this.linearized = carving.uint32(words);
    this.code = carving.uint32(n);
    this.stackStateId = carving.int32(n + 1);
    this.stackCall = carving.int32(n + 1);
    this.isOk = carving.uint8(n);
    this.readOnly = carving.uint8(n);
    assert(carving.used === Carving.bytes(parts), () => `carved ${carving.used} bytes of ${Carving.bytes(parts)}`);
    const sorting = scratch.borrow(
      Carving.bytes([
        [8, 2 * n],
        [4, n],
        [4, n],
      ]),
    );
    const sortingCarving = new Carving(sorting);
    const times = sortingCarving.float64(2 * n);
    this.inputs = new Array<I>(n);
    this.observed = new Array<O | undefined>(n);
    const okCount = readOperations(operations, model, { times, isOk: this.isOk, readOnly: this.readOnly, inputs: this.inputs, observed: this.observed });
    for (let index = 0; index < n; index++) this.code[index] = mix32(index, 0x9e3779b9);
    linkEntries(this.list, times, this.isOk, sortingCarving.int32(n), sortingCarving.int32(n));
    scratch.giveBack(sorting);
    this.memo = new Memo(n, budget);
    this.transitions = new Transitions(budget, slotsFor(n));
    this.okRemaining = okCount;
    const init = model.init();
    this.stateId = this.intern(model.hash(init), init);
    this.entry = this.list.next[this.list.head]!;
    // One store whatever the case: a store only a rare search makes (one with no ok
    // operation, met while shrinking) would deoptimize the constructor.
    this.finished = this.okRemaining === 0 ? 'linearizable' : this.stateId === noMemory ? 'memory bound' : undefined;
  }

  /** Bytes this search holds (memo and interned states). */
  get bytesHeld(): number {
    return this.memo.bytesHeld + this.transitions.bytesHeld + this.internedBytes;
  }

  /**
   * Searches for at most `stepsMax` steps, each also spent from the budget: the
   * verdict, `'paused'` (out of steps here or in the budget; call again), or
   * `'memory bound'` (the memo may not grow; final). An explaining search also
   * pauses once it is `explained`.
   */
  run(stepsMax: number): TurnResult {
    if (this.finished !== undefined) return this.finished;
    assert(!this.released, 'a released search was run again');
    let left = stepsMax;
    for (;;) {
      // An explaining search's loop stops in front of the return at `explainAt`, and
      // the configuration there is recorded here, out of the loop (see `walk`).
      const atDeathPoint = this.explainAt >= 0 && this.entry !== none && this.list.position[this.entry] === this.explainAt;
      if (atDeathPoint && this.deathRecordedAtStep !== this.steps) {
        this.recordDeath();
        if (this.explained) return 'paused';
      }
      const before = this.steps;
      // At most a turn's steps at a time: the loop compares its count with a small
      // integer, never with the +infinity an explaining search is given.
      const result = this.walk(Math.min(left, linearizabilityLimits.partitionTurnSteps), atDeathPoint);
      left -= this.steps - before;
      if (result !== 'paused' || left <= 0 || this.budget.spentOn !== undefined) return result;
    }
  }

  /**
   * The search's loop: at most `stepsMax` steps (see {@link run}). An explaining search
   * stops in front of the return at `explainAt` for {@link run} to record where it is,
   * unless `pastDeathPoint` (it has just been recorded). That is checked with locals
   * only and recorded out of the loop: a path of its own through the loop, or a field
   * the loop reads that changes, would deoptimize the loop (in V8) for every search
   * after this one, and the keys of the next check would run several times slower
   * until it is compiled again.
   */
  private walk(stepsMax: number, pastDeathPoint: boolean): TurnResult {
    const { explainAt } = this;
    let recorded = pastDeathPoint;
    const { linearized, code, isOk, readOnly, list, stackCall, stackStateId } = this;
    const { next, head, position } = list;
    let { entry, stateId, hash, okRemaining, depth } = this;
    let result: TurnResult = 'paused';
    let taken = 0;
    for (;;) {
      if (taken === stepsMax) break;
      if (position[entry] === explainAt && !recorded) break;
      if (!this.budget.spend()) break;
      recorded = false;
      taken++;
      assert(entry !== none, () => `linearizability search ran off the list with ${okRemaining} ok operations left`);
      const index = entry >>> 1;
      if ((entry & 1) === 0) {
        const nextId = this.transition(stateId, index, taken);
        if (nextId === noMemory) {
          result = 'memory bound';
          break;
        }
        if (nextId !== misfit && depth > 0 && position[entry]! < position[stackCall[depth - 1]!]! && isOk[stackCall[depth - 1]! >>> 1] === 0) {
          // The last choice was an info operation invoked after this one: if this one
          // leaves the same state without it, taking both is dominated by taking this
          // one alone, tried before it (see above).
          const without = this.transition(stackStateId[depth - 1]!, index, taken);
          if (without === noMemory) {
            result = 'memory bound';
            break;
          }
          if (without === nextId) {
            entry = next[entry]!;
            continue;
          }
        }
        if (nextId !== misfit) {
          const word = index >>> 5;
          const bit = 1 << (index & 31);
          linearized[word]! |= bit;
          const nextHash = (hash ^ code[index]!) >>> 0;
          const seen = this.memo.insert(nextHash, nextId, linearized);
          if (seen === 'memory bound') {
            linearized[word]! &= ~bit;
            result = 'memory bound';
            break;
          }
          if (seen === 'new') {
            stackCall[depth] = entry;
            stackStateId[depth] = stateId;
            depth++;
            stateId = nextId;
            hash = nextHash;
            lift(list, entry);
            if (isOk[index] === 1 && --okRemaining === 0) {
              result = 'linearizable';
              break;
            }
            entry = next[head]!;
            continue;
          }
          linearized[word]! &= ~bit;
        }
        entry = next[entry]!;
        continue;
      }
      // A return: its operation cannot wait any longer, so undo the last choice.
      assert(isOk[index] === 1, () => `reached the return of operation ${index} (info) with ${okRemaining} ok operations left`);
      this.noteDeath(entry);
      let forced: boolean;
      let undone = none;
      do {
        if (depth === 0) {
          result = 'not-linearizable';
          break;
        }
        depth--;
        undone = stackCall[depth]!;
        const op = undone >>> 1;
        stateId = stackStateId[depth]!;
        linearized[op >>> 5]! &= ~(1 << (op & 31));
        hash = (hash ^ code[op]!) >>> 0;
        unlift(list, undone);
        if (isOk[op] === 1) okRemaining++;
        forced = readOnly[op] === 1;
      } while (forced);
      if (result === 'not-linearizable') break;
      entry = next[undone]!;
    }
    this.entry = entry;
    this.stateId = stateId;
    this.hash = hash;
    this.okRemaining = okRemaining;
    this.depth = depth;
    this.steps += taken;
    if (result !== 'paused') this.finished = result;
    return result;
  }

  /** The furthest return position reached (-1 before any); give it to a second search as `explainAt`. */
  get furthestPosition(): number {
    return this.deathPosition;
  }

  /** The operation at the furthest return position (-1 before any). */
  get stuckOperation(): number {
    return this.deathStuck;
  }

  /**
   * Where the search got furthest; only from a search made with `explainAt`, once it
   * answered `'not-linearizable'` or is `explained`.
   */
  deathPoint(): DeathPoint<S> {
    assert(
      this.explainAt >= 0 && (this.explained || this.finished === 'not-linearizable'),
      () => `no death point: explainAt ${this.explainAt}, search ${this.finished ?? 'unfinished'}`,
    );
    assert(this.deathPathTaken, () => `the explaining search never reached ${this.explainAt}`);
    assert(this.deathStuck >= 0, 'a failed search never reached a return');
    return { stuck: this.deathStuck, path: this.deathPath, states: this.deathStates };
  }

  /** Gives the memo's and the interned states' bytes back to the budget, and its arrays to the scratch buffers; once. */
  release(): void {
    assert(!this.released, 'a search released twice');
    this.released = true;
    this.budget.scratch.giveBack(this.buffer);
    this.memo.release();
    this.transitions.release();
    this.budget.releaseBytes(this.internedBytes);
    this.internedBytes = 0;
    this.stateIds.clear();
    this.states.length = 0;
  }

  /**
   * Caches a transition just asked of the model; false if the memory bound forbids it.
   * A history whose states keep changing (a versioned key: every write a new state)
   * rarely repeats one, and caching costs more than it saves: once the cache holds as
   * many transitions as `transitionsProbation`, it stays on only if the search has
   * taken at least twice as many steps since it began caching, a sign that transitions
   * repeat.
   */
  private remember(stateId: number, op: number, nextId: number, steps: number): boolean {
    if (!this.transitions.set(stateId, op, nextId)) return false;
    this.transitionsLearned++;
    if (this.transitionsLearned === linearizabilityLimits.transitionsProbation && steps - this.cachingSince < 2 * this.transitionsLearned) {
      this.caching = 'off';
      this.transitions.release();
    }
    return true;
  }

  /**
   * The id of the state operation `index` leads to from state `stateId`, {@link misfit}
   * if it does not fit there, or {@link noMemory}; asks the model only once per pair
   * while transitions are cached. `taken` is the steps of this turn so far.
   */
  private transition(stateId: number, index: number, taken: number): number {
    if (this.caching === 'on') {
      const known = this.transitions.get(stateId, index);
      if (known !== unknownTransition) return known;
    } else if (this.caching === 'not yet' && this.steps + taken >= 2 * this.inputs.length) {
      this.caching = 'on';
      this.cachingSince = this.steps + taken;
    }
    const { model } = this;
    const state = this.states[stateId]!;
    const step = model.step(state, this.inputs[index]!, this.observed[index]);
    // States are values, so the state itself back (after a read) is the same state: no
    // hash to make and look up.
    const nextId = !step.ok ? misfit : step.state === state ? stateId : this.intern(model.hash(step.state), step.state);
    if (nextId === noMemory) return noMemory;
    if (this.caching === 'on' && !this.remember(stateId, index, nextId, this.steps + taken)) return noMemory;
    return nextId;
  }

  /** The id of `state` (whose hash is `hash`), interning it if new; {@link noMemory} if the memory bound forbids it. */
  private intern(hash: string, state: S): number {
    const id = this.stateIds.get(hash);
    if (id !== undefined) return id;
    const bytes = linearizabilityLimits.internedStateBytes + 2 * hash.length;
    if (!this.budget.reserveBytes(bytes)) return noMemory;
    this.internedBytes += bytes;
    this.stateIds.set(hash, this.states.length);
    this.states.push(state);
    return this.states.length - 1;
  }

  /** Notes return `entry` as the furthest position reached if it got at least as far as any before. */
  private noteDeath(entry: number): void {
    const position = this.list.position[entry]!;
    if (position > this.deathPosition) {
      this.deathPosition = position;
      this.deathStuck = entry >>> 1;
    }
  }

  /**
   * Records the configuration in front of the return at `explainAt`: the first path
   * that got there, and each new state, until `explainStatesMax` of them.
   */
  private recordDeath(): void {
    const { depth, stateId } = this;
    this.deathRecordedAtStep = this.steps;
    // The loop notes this return when it passes it, after; note it now too, in case it never does.
    this.noteDeath(this.entry);
    if (!this.deathPathTaken) {
      this.deathPathTaken = true;
      this.deathPath = Array.from(this.stackCall.subarray(0, depth), (call) => call >>> 1);
    }
    if (this.deathStates.length < linearizabilityLimits.explainStatesMax && !this.deathStateIds.has(stateId)) {
      this.deathStates.push(this.states[stateId]!);
      this.deathStateIds.add(stateId);
      this.explained = this.deathStates.length === linearizabilityLimits.explainStatesMax;
    }
  }
}

/**
 * Searches for a linearization of `operations` (one key's `ok` and `info`
 * operations) against `model`, spending `budget`, to the end; gives its memory back
 * before it returns. @internal
 */
export function searchPartition<S, I, O>(operations: readonly Operation<I, O>[], model: Model<S, I, O>, budget: Budget): SearchResult {
  const search = new PartitionSearch(operations, model, budget);
  const result = search.run(Number.POSITIVE_INFINITY);
  search.release();
  return result === 'paused' || result === 'memory bound' ? 'unknown' : result;
}
