import type { Ballot } from './ballot.js';
import type { PersistBatch } from './durable-state.js';
import type { AcceptedEntry, ChosenEntry, CommittedEntry } from './entries.js';
import type { Message } from './messages.js';
import type { NodeId } from './node-id.js';
import type { Output, ReadIndexResult } from './output.js';

/**
 * What `take()` returns when nothing happened: shared, so the poll that ends every
 * drain loop allocates nothing, and frozen, lists included, so no driver can fill it.
 */
const emptyOutput: Output = Object.freeze({
  persist: undefined,
  persistSeq: 0,
  messages: Object.freeze([]),
  committed: Object.freeze([]),
  dropped: Object.freeze([]),
  reads: Object.freeze([]),
  snapshotsTo: Object.freeze([]),
});

/**
 * Collects what the roles produce between two `takeOutput()` calls. Each list is
 * created on its first item and handed over whole, so every output owns its lists:
 * `takeOutput()` runs after every input, and most outputs are empty or nearly so.
 * (Empty lists of a non-empty output are fresh rather than a shared frozen `[]`:
 * V8 in Node 20 allocates an iterator for every `for...of` over a frozen array, and
 * drivers loop over every list.)
 * @internal
 */
export class OutputBuilder {
  private promised: Ballot | undefined;
  private commitIndex: number | undefined;
  private accepted: AcceptedEntry[] | undefined;
  private chosen: ChosenEntry[] | undefined;
  private messages: Message[] | undefined;
  private committed: CommittedEntry[] | undefined;
  private dropped: Uint8Array[] | undefined;
  private reads: ReadIndexResult[] | undefined;
  private snapshotsTo: NodeId[] | undefined;
  private seq = 0;

  /** The persist sequence number the next non-empty persist will carry. */
  get nextPersistSeq(): number {
    return this.seq + 1;
  }

  get lastPersistSeq(): number {
    return this.seq;
  }

  /** The persist sequence number that makes everything recorded so far durable: the next one if this output persists, else the last. */
  get recordedPersistSeq(): number {
    return this.hasPersist ? this.seq + 1 : this.seq;
  }

  persistPromised(ballot: Ballot): void {
    this.promised = ballot;
  }

  persistAccepted(entry: AcceptedEntry): void {
    this.accepted = append(this.accepted, entry);
  }

  persistChosen(entry: ChosenEntry): void {
    this.chosen = append(this.chosen, entry);
  }

  persistCommitIndex(commitIndex: number): void {
    this.commitIndex = commitIndex;
  }

  send(message: Message): void {
    this.messages = append(this.messages, message);
  }

  commit(entry: CommittedEntry): void {
    this.committed = append(this.committed, entry);
  }

  drop(commands: readonly Uint8Array[]): void {
    for (const c of commands) this.dropped = append(this.dropped, c);
  }

  read(result: ReadIndexResult): void {
    this.reads = append(this.reads, result);
  }

  /** `to` needs a snapshot: named once per output however often it asks. */
  sendSnapshot(to: NodeId): void {
    if (this.snapshotsTo?.includes(to) === true) return;
    this.snapshotsTo = append(this.snapshotsTo, to);
  }

  get isEmpty(): boolean {
    return (
      !this.hasPersist &&
      this.messages === undefined &&
      this.committed === undefined &&
      this.dropped === undefined &&
      this.reads === undefined &&
      this.snapshotsTo === undefined
    );
  }

  private get hasPersist(): boolean {
    return this.promised !== undefined || this.commitIndex !== undefined || this.accepted !== undefined || this.chosen !== undefined;
  }

  take(): Output {
    if (this.isEmpty) return emptyOutput;
    let persist: PersistBatch | undefined;
    let persistSeq = 0;
    if (this.hasPersist) {
      persistSeq = ++this.seq;
      persist = persistBatch(this.promised, inSlotOrder(this.accepted ?? []), inSlotOrder(this.chosen ?? []), this.commitIndex);
    }
    const output: Output = {
      persist,
      persistSeq,
      messages: this.messages ?? [],
      committed: this.committed ?? [],
      dropped: this.dropped ?? [],
      reads: this.reads ?? [],
      snapshotsTo: this.snapshotsTo ?? [],
    };
    this.promised = undefined;
    this.commitIndex = undefined;
    this.accepted = undefined;
    this.chosen = undefined;
    this.messages = undefined;
    this.committed = undefined;
    this.dropped = undefined;
    this.reads = undefined;
    this.snapshotsTo = undefined;
    return output;
  }
}

/**
 * `list` with `item` added. A new list starts as a one-item literal: most outputs carry
 * one or two items of a kind, and an empty `[]` reserves room for 17 on its first push.
 */
function append<T>(list: T[] | undefined, item: T): T[] {
  if (list === undefined) return [item];
  list.push(item);
  return list;
}

/**
 * `entries` in strictly increasing slot order, as a PersistBatch promises, the last
 * entry of a slot winning. One output can record slots out of order: an accept for
 * slots 100-127, then one for slot 98 (a new leader re-proposing) in the same turn.
 */
function inSlotOrder<T extends { readonly slot: number }>(entries: T[]): T[] {
  let ordered = true;
  for (let i = 1; i < entries.length && ordered; i++) ordered = entries[i]!.slot > entries[i - 1]!.slot;
  if (ordered) return entries;
  const bySlot = new Map<number, T>();
  for (const e of entries) bySlot.set(e.slot, e);
  return [...bySlot.values()].sort((a, b) => a.slot - b.slot);
}

/** A persist batch with only the optional fields that are set, in a fixed key order. */
function persistBatch(
  promised: Ballot | undefined,
  accepted: readonly AcceptedEntry[],
  chosen: readonly ChosenEntry[],
  commitIndex: number | undefined,
): PersistBatch {
  if (promised === undefined) return commitIndex === undefined ? { accepted, chosen } : { accepted, chosen, commitIndex };
  return commitIndex === undefined ? { promised, accepted, chosen } : { promised, accepted, chosen, commitIndex };
}
