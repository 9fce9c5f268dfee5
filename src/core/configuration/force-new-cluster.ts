import { assert } from '../assert.js';
import { compareBallots } from '../ballot.js';
import type { DurableState, PersistBatch } from '../durable-state.js';
import type { AcceptedEntry, ChosenEntry } from '../entries.js';
import { ConfigError } from '../errors.js';
import type { NodeId } from '../node-id.js';
import { type Value, noop } from '../value.js';
import { type Configuration, checkConfiguration } from './configuration.js';
import { type ConfigurationState, Epochs } from './epochs.js';

/** What {@link forceNewCluster} decided, to report to the operator. */
export interface ForcedCluster {
  /** Write it to the survivor's storage (one batch), then start it. */
  readonly batch: PersistBatch;
  /** The single-member configuration that governs from {@link from}. */
  readonly configuration: Configuration;
  readonly from: number;
  /** The survivor's commit index before: slots up to it were known chosen. */
  readonly commitIndexBefore: number;
  /** Slots above it that held an accepted value, now taken as chosen. */
  readonly adopted: number;
  /** Slots above it that held nothing, now no-ops (a value another voter had there is lost). */
  readonly holes: number;
}

/**
 * Lost-quorum recovery (etcd's `--force-new-cluster`, hashicorp/raft's
 * `RecoverCluster`): rewrites one survivor's durable state so that it restarts as the
 * only voter of its cluster, keeping every entry it holds. Every value it accepted
 * above its commit index (the highest ballot it holds for the slot) is taken as chosen,
 * a slot it holds nothing for becomes a no-op, and a configuration with `id` as the one
 * voter is chosen after them, with the window filled by no-ops so it governs at once.
 *
 * This breaks the protocol's rule on purpose and can lose acknowledged writes that other
 * voters held and this one did not. Run it only when a majority of the voters is gone
 * for good, never while they may come back: a returning old majority would go on
 * choosing in the old configuration beside this one.
 *
 * `snapshot`: the slot of the survivor's snapshot and the configurations it carried
 * (none, for a cluster whose members never changed: then `first` is its first one).
 */
export function forceNewCluster(
  state: DurableState,
  snapshot: { readonly slot: number; readonly configuration: ConfigurationState | undefined },
  first: Configuration,
  id: NodeId,
): ForcedCluster {
  const api = 'forceNewCluster';
  if (typeof id !== 'string' || id === '') throw new ConfigError(api, 'id', 'must be a non-empty string');
  const epochs = new Epochs(snapshot.configuration ?? [{ from: 1, source: 0, config: checkConfiguration(api, first) }], snapshot.slot);
  const chosen = new Map<number, Value>(state.chosen.map((e) => [e.slot, e.value]));
  const best = new Map<number, AcceptedEntry>();
  for (const e of state.accepted) {
    const held = best.get(e.slot);
    if (held === undefined || compareBallots(e.ballot, held.ballot) > 0) best.set(e.slot, e);
  }
  const commitBefore = Math.max(state.commitIndex, snapshot.slot);
  let last = commitBefore;
  for (const slot of [...chosen.keys(), ...best.keys()]) if (slot > last) last = slot;
  const out: ChosenEntry[] = [];
  let adopted = 0;
  let holes = 0;
  for (let slot = snapshot.slot + 1; slot <= last; slot++) {
    // Up to the commit index the values are known chosen (learned, or accepted in the
    // ballot that announced it); above it, what this node accepted is all there is.
    const value = chosen.get(slot) ?? best.get(slot)?.value;
    if (slot > commitBefore) {
      if (value === undefined) holes++;
      else adopted++;
    } else assert(value !== undefined, () => `slot ${slot} is below the commit index ${commitBefore} but holds no value`);
    const v = value ?? noop;
    if (slot > commitBefore) out.push({ slot, value: v });
    epochs.fold(slot, v.kind === 'config' ? v.config : undefined);
  }
  const latest = epochs.latest.config;
  const configuration = checkConfiguration(api, {
    id: latest.id + 1,
    voters: [id],
    quorum: 'majority',
    observers: [],
    addresses: latest.addresses[id] === undefined ? {} : { [id]: latest.addresses[id] },
    windowSlots: latest.windowSlots,
  });
  const at = last + 1;
  out.push({ slot: at, value: { kind: 'config', config: configuration } });
  for (let slot = at + 1; slot < at + latest.windowSlots; slot++) out.push({ slot, value: noop });
  const commitIndex = at + latest.windowSlots - 1;
  return { batch: { accepted: [], chosen: out, commitIndex }, configuration, from: commitIndex + 1, commitIndexBefore: commitBefore, adopted, holes };
}
