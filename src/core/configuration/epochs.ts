import { assert } from '../assert.js';
import type { NodeId } from '../node-id.js';
import type { Quorum } from '../quorum/quorum.js';
import { type Configuration, quorumOf, votersOf } from './configuration.js';

/** A configuration and the slots it governs: from `from` until the next epoch's `from`. */
export interface Epoch {
  /** The first slot this configuration governs. */
  readonly from: number;
  /** The slot the configuration was chosen at; 0 for the one the cluster started with. */
  readonly source: number;
  readonly config: Configuration;
  readonly quorum: Quorum;
  /** Every voter, `leaving` included. */
  readonly voters: readonly NodeId[];
}

/**
 * What a snapshot of the slots up to some slot must carry about configurations: the
 * configuration governing the next slot, and those chosen in the snapshot's slots that
 * govern later ones. A replica restored from it knows which configuration governs every
 * slot up to the snapshot's slot plus the window.
 */
export type ConfigurationState = readonly { readonly from: number; readonly source: number; readonly config: Configuration }[];

/** Builds an epoch. @internal */
function epochOf(from: number, source: number, config: Configuration): Epoch {
  return Object.freeze({ from, source, config, quorum: quorumOf(config), voters: votersOf(config) });
}

/**
 * The configurations of the log, derived from its chosen prefix alone: a configuration
 * chosen at slot `i` governs from `i + windowSlots`, and only if its id is one more
 * than the last configuration's (a change built on a configuration that another change
 * replaced first is void, the same way on every replica). Fed the committed slots in
 * order, it knows which configuration governs every slot up to the commit index plus
 * the window.
 * @internal
 */
export class Epochs {
  /** In `from` order; the first governs everything up to the second's `from`. */
  private list: Epoch[];
  /** Committed slots up to this one were folded in. */
  private foldedThrough: number;
  /** Counts changes to the list, so a reader knows when to look again. */
  version = 0;

  constructor(state: ConfigurationState, foldedThrough: number) {
    assert(state.length > 0, 'a configuration state holds at least one configuration');
    this.list = state.map((e) => epochOf(e.from, e.source, e.config));
    for (let i = 1; i < this.list.length; i++) {
      const [a, b] = [this.list[i - 1]!, this.list[i]!];
      assert(
        b.from > a.from && b.config.id === a.config.id + 1,
        () => `configuration ${b.config.id} from slot ${b.from} does not follow ${a.config.id} from slot ${a.from}`,
      );
    }
    this.foldedThrough = foldedThrough;
  }

  /** The window every configuration of this cluster shares. */
  get windowSlots(): number {
    return this.list[0]!.config.windowSlots;
  }

  /** The latest configuration: chosen last, governing now or once the window has passed. */
  get latest(): Epoch {
    return this.list[this.list.length - 1]!;
  }

  /** The highest slot whose configuration is known. */
  get knownThrough(): number {
    return this.foldedThrough + this.windowSlots;
  }

  /** The configuration governing `slot` (at most {@link knownThrough}). */
  at(slot: number): Epoch {
    if (slot > this.knownThrough) assert(false, `the configuration of slot ${slot} is unknown: slots are folded through ${this.foldedThrough}`);
    const list = this.list;
    for (let i = list.length - 1; i > 0; i--) if (list[i]!.from <= slot) return list[i]!;
    return list[0]!;
  }

  /** The configurations governing slots `first..last`, in order (`last` at most {@link knownThrough}). */
  between(first: number, last: number): Epoch[] {
    const out: Epoch[] = [];
    for (let i = 0; i < this.list.length; i++) {
      const e = this.list[i]!;
      const end = i + 1 < this.list.length ? this.list[i + 1]!.from - 1 : Infinity;
      if (end >= first && e.from <= last) out.push(e);
    }
    return out;
  }

  /** The last slot `epoch` governs, as far as is known (Infinity for the latest). */
  lastSlotOf(epoch: Epoch): number {
    const i = this.list.indexOf(epoch);
    assert(i >= 0, () => `epoch of configuration ${epoch.config.id} is not in the log`);
    return i + 1 < this.list.length ? this.list[i + 1]!.from - 1 : Infinity;
  }

  /**
   * Slot `slot` is committed, holding `config` if it is a configuration. Called for
   * every committed slot in order. Returns whether a new configuration was taken.
   */
  fold(slot: number, config: Configuration | undefined): boolean {
    if (slot <= this.foldedThrough) return false;
    if (slot !== this.foldedThrough + 1) assert(false, `configurations folded through ${this.foldedThrough}, then slot ${slot}`);
    this.foldedThrough = slot;
    if (config === undefined) return false;
    const latest = this.latest;
    if (config.id !== latest.config.id + 1 || config.windowSlots !== latest.config.windowSlots) return false;
    const from = slot + latest.config.windowSlots;
    assert(from > latest.from, () => `configuration ${config.id} from slot ${from} does not follow slot ${latest.from}`);
    this.list.push(epochOf(from, slot, config));
    this.version++;
    return true;
  }

  /** A snapshot of slots up to `slot` was installed: the log jumps there. */
  restore(state: ConfigurationState, slot: number): void {
    const fresh = new Epochs(state, slot);
    this.list = fresh.list;
    this.foldedThrough = slot;
    this.version++;
  }

  /** Slots up to this one were folded in. */
  get folded(): number {
    return this.foldedThrough;
  }

  /**
   * What a snapshot of slots up to `slot` (folded already) must carry: the epochs
   * chosen at or before `slot` that govern some slot after it.
   */
  stateAt(slot: number): ConfigurationState {
    assert(slot <= this.foldedThrough, () => `configuration state at slot ${slot}, but only ${this.foldedThrough} are folded`);
    const known = this.list.filter((e) => e.source <= slot);
    let first = 0;
    for (let i = 0; i < known.length; i++) if (known[i]!.from <= slot + 1) first = i;
    return known.slice(first).map((e) => ({ from: e.from, source: e.source, config: e.config }));
  }

  /** Forgets the epochs no snapshot from `slot` on can need: those replaced before `slot + 1`. */
  forgetThrough(slot: number): void {
    let first = 0;
    for (let i = 0; i < this.list.length; i++) if (this.list[i]!.from <= slot + 1) first = i;
    if (first > 0) {
      this.list = this.list.slice(first);
      this.version++;
    }
  }
}
