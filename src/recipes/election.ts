/**
 * Leader election among services on the KV: ZooKeeper's election recipe, on the same
 * line of ephemeral sequential keys as the lock, with an observer for those who only
 * want to know who leads.
 */
import { ConfigError, InvariantError } from '../core/index.js';
import { CompactedError, type KeyValue, type KvApi, type RangeResult, type ReadOptions } from '../kv/index.js';
import { revisionBatches } from './revision-batches.js';
import { TooManyKeysError } from './too-many-keys-error.js';
import { type QueueTurn, type RecipeSession, SequentialQueue, type TurnLoss, type WaitOptions } from './sequential-queue.js';

/** Options of a {@link KvElection}. */
export interface KvElectionOptions {
  /** The election's name: candidates' keys are `<name>/candidate-<10-digit counter>`. Not empty. */
  readonly name: string;
}

/** Options of {@link KvElection.campaign}: give up when `signal` fires or after `timeoutMs` ms (default: wait as long as it takes). */
export type CampaignOptions = WaitOptions;

/** A leader, as the KV records it. */
export interface Leader {
  /** The leader's candidate key. */
  readonly key: string;
  /** What the leader campaigned with (its address, say). */
  readonly value: string;
  /**
   * The store revision that created the leader's key: every later leader's is higher.
   * Use it as a fencing token on what the leader writes (see `KvLock`).
   */
  readonly term: number;
}

const decoder = new TextDecoder();
const leaderOf = (kv: KeyValue): Leader => ({ key: kv.key, value: decoder.decode(kv.value), term: kv.createRevision });

/**
 * Leader election: every candidate campaigns; the one with the lowest candidate key
 * leads; when it resigns or its session ends, the next one in line leads.
 *
 * Guarantees: at every revision of the store at most one candidate leads, and
 * leaders follow one another in campaign order, with rising `term`s; a release or
 * an expiry wakes only the next candidate in line (no herd). The observer sees every
 * change of leader, in order (unless compaction passes its watch: then it reports the
 * leader found by a fresh read).
 *
 * Not guaranteed: that a service believing it leads still does. Like any lease over
 * an asynchronous network (see the caveat on `KvLock`), a paused leader can wake up
 * after its session expired and a successor took over, still believing it leads.
 * `Leadership.lost` and `signal` say so only once it hears from the cluster again.
 * Pass `term` as a fencing token to whatever the leader writes.
 *
 * @example
 * ```ts
 * const session = await kv.createSession({ ttlMs: 5_000 });
 * const election = new KvElection(kv, { name: 'services/scheduler' });
 * const leadership = await election.campaign(session, 'scheduler-2:7000');
 * leadership.signal.addEventListener('abort', () => stopScheduling());
 * startScheduling(leadership.leader.term);
 * // ... later, to hand over:
 * await leadership.resign();
 * ```
 */
export class KvElection {
  private readonly queue: SequentialQueue;

  constructor(
    private readonly kv: KvApi,
    options: KvElectionOptions,
  ) {
    if (options.name === '') throw new ConfigError('KvElection', 'name', 'must not be empty');
    this.queue = new SequentialQueue(kv, `${options.name}/candidate-`);
  }

  /**
   * Runs for leader: joins the line with `value` in `session`, and resolves once this
   * candidate leads. On abort or timeout it withdraws (deletes its key) and rejects
   * with synod's `AbortedError` or `TimeoutError`; if the session ends while it waits,
   * with `QueueEntryGoneError`.
   */
  async campaign(session: RecipeSession, value: string, options: CampaignOptions = {}): Promise<Leadership> {
    const turn = await this.queue.turn(session, value, options, 'KvElection.campaign');
    return new Leadership(turn, { key: turn.entry.key, value, term: turn.entry.createRevision });
  }

  /** The current leader (a linearizable read by default), or undefined if nobody campaigns. */
  async leader(options: ReadOptions = {}): Promise<Leader | undefined> {
    const { head } = await this.queue.head(options);
    return head === undefined ? undefined : leaderOf(head);
  }

  /**
   * Follows the leader: `onChange` is called with the leader at the start, then at each
   * change of leader (and with undefined when nobody campaigns), with the revision at
   * which it happened. Resolves after the first call, made from a linearizable read.
   */
  async observe(onChange: (leader: Leader | undefined, revision: number) => void): Promise<LeaderObserver> {
    return new LeaderObserver(this.kv, this.queue.prefix, await readCandidates(this.kv, this.queue.prefix), onChange);
  }
}

/** Every candidate under `prefix` (a linearizable read). */
async function readCandidates(kv: KvApi, prefix: string): Promise<RangeResult> {
  const result = await kv.range({ prefix });
  if (result.more) throw new TooManyKeysError('LeaderObserver', prefix);
  return result;
}

/** A leadership won by {@link KvElection.campaign}, until `resign()` or its loss. */
export class Leadership {
  /** @internal */
  constructor(
    private readonly turn: QueueTurn,
    /** This leader, as recorded in the KV. */
    readonly leader: Leader,
  ) {}

  /**
   * Resolves with the reason when this service learns it no longer leads: its session
   * ended, its key was deleted, or it can no longer watch it. By then a successor may
   * have led for a while. Stays pending after `resign()`.
   */
  get lost(): Promise<TurnLoss> {
    return this.turn.lost;
  }

  /** Aborts when leadership is lost or resigned: pass it to the leader's work. */
  get signal(): AbortSignal {
    return this.turn.signal;
  }

  /** Whether this service leads as far as it knows. It can be wrong (see {@link KvElection}). */
  get isLeader(): boolean {
    return this.turn.isHeld;
  }

  /** Steps down: deletes the candidate key, so the next candidate in line leads. */
  resign(): Promise<void> {
    return this.turn.leave();
  }
}

/**
 * Follows an election's leader through a watch on its prefix: the candidates read at
 * revision R, then every change from R + 1, so no change of leader is missed. Each
 * revision's changes are applied together, so a leader is never reported between
 * two changes of one transaction.
 */
export class LeaderObserver {
  /** Resolves when the observer stops: `close()`, or its node closed. Rejects on a failure (a read that failed, or `onChange` threw). */
  readonly ended: Promise<void>;
  private readonly candidates = new Map<string, KeyValue>();
  private currentLeader: Leader | undefined;
  private revisionSeen = 0;
  private closed = false;
  private closeWatch: (() => void) | undefined;

  /** @internal */
  constructor(
    private readonly kv: KvApi,
    private readonly prefix: string,
    initial: RangeResult,
    private readonly onChange: (leader: Leader | undefined, revision: number) => void,
  ) {
    this.load(initial, true);
    this.ended = this.run(initial.revision + 1);
    this.ended.catch(() => undefined); // reported through `ended`, never as an unhandled rejection
  }

  /** The leader as of {@link revision}. */
  get leader(): Leader | undefined {
    return this.currentLeader;
  }

  /** The revision the observer's view is at. */
  get revision(): number {
    return this.revisionSeen;
  }

  /** Stops following. */
  close(): void {
    this.closed = true;
    this.closeWatch?.();
  }

  private async run(from: number): Promise<void> {
    while (!this.closed) {
      const watch = this.kv.watch({ prefix: this.prefix }, { fromRevision: from });
      this.closeWatch = () => watch.close();
      if (this.closed) watch.close();
      try {
        for await (const batch of revisionBatches(watch)) {
          for (const event of batch.events) {
            if (event.type === 'put') this.candidates.set(event.kv.key, event.kv);
            else this.candidates.delete(event.kv.key);
          }
          this.settle(batch.revision, false);
        }
        return; // closed, or its node closed
      } catch (error) {
        if (!(error instanceof CompactedError)) throw error;
        // History moved past the watch: read afresh.
        const fresh = await readCandidates(this.kv, this.prefix);
        this.load(fresh, false);
        from = fresh.revision + 1;
      }
    }
  }

  /** Replaces the candidates with a read of them. `initial`: report the leader even if unchanged. */
  private load(read: RangeResult, initial: boolean): void {
    this.candidates.clear();
    for (const kv of read.kvs) this.candidates.set(kv.key, kv);
    this.settle(read.revision, initial);
  }

  /** Recomputes the leader at `revision`; calls `onChange` if it changed (or if `always`). */
  private settle(revision: number, always: boolean): void {
    if (!(revision >= this.revisionSeen)) throw new InvariantError(`LeaderObserver: revision ${revision} after ${this.revisionSeen}`);
    let lowest: KeyValue | undefined;
    for (const kv of this.candidates.values()) if (lowest === undefined || kv.key < lowest.key) lowest = kv;
    const leader = lowest === undefined ? undefined : leaderOf(lowest);
    const changed = leader?.key !== this.currentLeader?.key || leader?.value !== this.currentLeader?.value;
    this.revisionSeen = revision;
    this.currentLeader = leader;
    if ((changed || always) && !this.closed) this.onChange(leader, revision);
  }
}
