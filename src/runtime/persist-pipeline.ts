import { type PersistBatch, mayPrecedePersist, mergePersistBatches } from '../core/index.js';
import { assert } from '../core/assert.js';
import type { NodeMessage } from './runtime-messages.js';

/** One output's share of the pipeline: what to write, and what may be sent after. */
interface Stage {
  readonly seq: number;
  readonly batch: PersistBatch | undefined;
  readonly messages: readonly NodeMessage[];
}

/** What the pipeline needs from its node. */
export interface PipelineDriver {
  write(batch: PersistBatch): Promise<void>;
  /** Every write up to output `seq` is durable. */
  persisted(seq: number, outputs: number, elapsedMs: number): void;
  send(message: NodeMessage): void;
  /** A write failed: the node must stop. */
  failed(error: unknown): void;
  now(): number;
}

/**
 * Persist before you speak (docs/protocol.md), with group commit. Outputs enter in the
 * order the core produced them; each output's messages that report acceptor state
 * leave only once its own write and every earlier one is durable. The rest (a leader's
 * accepts, heartbeats, commits; see `mayPrecedePersist`) leave at once, so the leader's
 * write overlaps its followers'. While a write is in flight, later outputs queue, and
 * the next write carries all of their state merged into one batch: one storage write,
 * then the whole group's waiting messages.
 * @internal
 */
export class PersistPipeline {
  private readonly stages: Stage[] = [];
  private writing: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly driver: PipelineDriver) {}

  /** Whether a write is in flight or outputs wait. */
  get busy(): boolean {
    return this.writing !== undefined || this.stages.length > 0;
  }

  /** Adds one output's persist and messages. */
  push(seq: number, batch: PersistBatch | undefined, messages: readonly NodeMessage[]): void {
    if (this.stopped || (batch === undefined && messages.length === 0)) return;
    assert(batch === undefined || seq > 0, 'a persist without a sequence number');
    if (batch === undefined && !this.busy) {
      for (const m of messages) this.driver.send(m);
      return;
    }
    let waiting: NodeMessage[] | undefined;
    for (const m of messages) {
      if (mayPrecedePersist(m)) this.driver.send(m);
      else (waiting ??= []).push(m);
    }
    if (batch === undefined && waiting === undefined) return;
    this.stages.push({ seq, batch, messages: waiting ?? [] });
    this.pump();
  }

  /** Stops sending; `flush()` may still write what waits. */
  stop(): void {
    this.stopped = true;
  }

  /** Resolves once every queued batch is written (messages are not sent after `stop()`). */
  async flush(): Promise<void> {
    while (this.writing !== undefined) await this.writing;
    const batches = this.stages.flatMap((s) => (s.batch === undefined ? [] : [s.batch]));
    this.stages.length = 0;
    if (batches.length > 0) await this.driver.write(mergePersistBatches(batches));
  }

  private pump(): void {
    if (this.writing !== undefined) return;
    while (this.stages.length > 0 && this.stages[0]!.batch === undefined) {
      const stage = this.stages.shift()!;
      if (!this.stopped) for (const m of stage.messages) this.driver.send(m);
    }
    let last = -1;
    for (let i = this.stages.length - 1; i >= 0; i--) {
      if (this.stages[i]!.batch !== undefined) {
        last = i;
        break;
      }
    }
    if (last < 0 || this.stopped) return;
    const group = this.stages.splice(0, last + 1);
    const batches: PersistBatch[] = [];
    for (const s of group) if (s.batch !== undefined) batches.push(s.batch);
    const seq = group[group.length - 1]!.seq;
    const started = this.driver.now();
    this.writing = this.driver.write(mergePersistBatches(batches)).then(
      () => {
        this.writing = undefined;
        if (this.stopped) return;
        for (const s of group) for (const m of s.messages) this.driver.send(m);
        this.driver.persisted(seq, batches.length, this.driver.now() - started);
        this.pump();
      },
      (error: unknown) => {
        this.writing = undefined;
        this.stopped = true;
        this.stages.length = 0;
        this.driver.failed(error);
      },
    );
  }
}
