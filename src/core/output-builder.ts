import type { Ballot } from './ballot.js';
import type { ChosenEntry, PersistBatch } from './durable-state.js';
import type { AcceptedEntry, Message } from './messages.js';
import type { CommittedEntry, Output } from './output.js';

/**
 * Collects what the roles produce between two `takeOutput()` calls.
 * @internal
 */
export class OutputBuilder {
  private promised: Ballot | undefined;
  private commitIndex: number | undefined;
  private accepted: AcceptedEntry[] = [];
  private chosen: ChosenEntry[] = [];
  private messages: Message[] = [];
  private committed: CommittedEntry[] = [];
  private dropped: Uint8Array[] = [];
  private seq = 0;

  /** The persist sequence number the next non-empty persist will carry. */
  get nextPersistSeq(): number {
    return this.seq + 1;
  }

  get lastPersistSeq(): number {
    return this.seq;
  }

  persistPromised(ballot: Ballot): void {
    this.promised = ballot;
  }

  persistAccepted(entry: AcceptedEntry): void {
    this.accepted.push(entry);
  }

  persistChosen(entry: ChosenEntry): void {
    this.chosen.push(entry);
  }

  persistCommitIndex(commitIndex: number): void {
    this.commitIndex = commitIndex;
  }

  send(message: Message): void {
    this.messages.push(message);
  }

  commit(entry: CommittedEntry): void {
    this.committed.push(entry);
  }

  drop(commands: readonly Uint8Array[]): void {
    for (const c of commands) this.dropped.push(c);
  }

  get isEmpty(): boolean {
    return (
      !this.hasPersist && this.messages.length === 0 && this.committed.length === 0 && this.dropped.length === 0
    );
  }

  private get hasPersist(): boolean {
    return (
      this.promised !== undefined || this.commitIndex !== undefined || this.accepted.length > 0 || this.chosen.length > 0
    );
  }

  take(): Output {
    let persist: PersistBatch | undefined;
    let persistSeq = 0;
    if (this.hasPersist) {
      persistSeq = ++this.seq;
      persist = {
        ...(this.promised !== undefined ? { promised: this.promised } : {}),
        accepted: this.accepted,
        chosen: this.chosen,
        ...(this.commitIndex !== undefined ? { commitIndex: this.commitIndex } : {}),
      };
    }
    const output: Output = {
      persist,
      persistSeq,
      messages: this.messages,
      committed: this.committed,
      dropped: this.dropped,
    };
    this.promised = undefined;
    this.commitIndex = undefined;
    this.accepted = [];
    this.chosen = [];
    this.messages = [];
    this.committed = [];
    this.dropped = [];
    return output;
  }
}
