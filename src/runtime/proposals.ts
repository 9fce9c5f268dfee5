/**
 * A node's proposals: admitting a command, handing it to the leader (this node's core,
 * or a forward), retrying it until it is applied or its wait ends, and settling its
 * waiters with the outcome the applier reports.
 */
import { LazyMap, LazySet } from '../core/lazy-map.js';
import { ConfigError, InvariantError, type NodeId, type Replica } from '../core/index.js';
import { assert } from '../core/assert.js';
import { type Applier, refusal } from './applier.js';
import type { Outcome } from './dedup-table.js';
import {
  decodeEnvelope,
  encodeEnvelope,
  encodeEnvelopeAround,
  envelopeIdBytesMax,
  envelopeKey,
  requestKey,
  stampEnvelope,
  stampEnvelopeInPlace,
} from './envelope.js';
import { AbortedError, CommandTooLargeError, NotLeaderError, OverloadedError, ResultDroppedError, ResultExpiredError } from './errors.js';
import { type MetricsRecorder, TimeList } from './metrics.js';
import type { ResolvedOptions } from './options.js';
import type { ForwardMessage, ForwardRefusedMessage } from './runtime-messages.js';
import { type Waiter, createWaiter } from './waiter.js';

/** Options of one {@link SynodNode.propose} call. */
export interface ProposeOptions {
  /** Stops waiting when it fires (the command may still be applied). */
  readonly signal?: AbortSignal;
  /** How long to wait. Default the node's `proposeTimeoutMs`. */
  readonly timeoutMs?: number;
  /**
   * The request's identity for exactly-once. A retry with the same `clientId` and
   * `seq`, on any node, is applied at most once, and gets the first one's result.
   * `ackedBelow` (default 0) tells the cluster the client waits for no request with a
   * lower `seq`, so their results can be forgotten. Default: the node's own client id
   * and its next sequence number.
   */
  readonly request?: { readonly clientId: string; readonly seq: number; readonly ackedBelow?: number };
}

/** The parts of a node's options proposals read. @internal */
export type ProposalsOptions<Command, Result> = Pick<
  ResolvedOptions<Command, Result>,
  'id' | 'clock' | 'codec' | 'commandBytesMax' | 'pendingProposalsMax' | 'followerProposals' | 'limits' | 'retryTicks'
>;

/** What proposals need from their node. @internal */
export interface ProposalsHost<Command, Result> {
  /** The core, to propose to while this node leads (there once the node started). */
  core(): Pick<Replica, 'role' | 'propose'>;
  /** The node this one believes leads. */
  leader(): NodeId | undefined;
  /** Ticks since the node started: retries are counted in them. */
  ticks(): number;
  /** What was applied here (exactly-once outcomes), whether a command only reads, and the log time to stamp. */
  readonly applier: Pick<Applier<Command, Result>, 'known' | 'isReadOnly' | 'isReadOnlyPayload' | 'stamp'>;
  send(message: ForwardMessage | ForwardRefusedMessage): void;
  /** Runs the drive loop soon (this turn): forwards gathered go out at its end. */
  drainSoon(): void;
  /**
   * Runs the drive loop after this turn's I/O callbacks, so that the requests arriving
   * together (many client connections readable at once) share one slot.
   */
  drainAfterIo(): void;
  /** A message that fails validation: counted and logged, never stepped. */
  dropMalformed(message: ForwardMessage | ForwardRefusedMessage): void;
}

interface PendingProposal<Result> {
  readonly key: string;
  readonly clientId: string;
  readonly seq: number;
  readonly envelope: Uint8Array;
  /** The command only reads (`StateMachine.readOnly`): it takes no exactly-once entry, and a retry runs it again. */
  readonly readOnly: boolean;
  readonly waiters: Waiter<Result>[];
  /** The tick it was last handed to a leader (here or by forwarding); -1 when it waits for one. */
  submittedTick: number;
  /** Times it was handed to a leader. */
  attempts: number;
  /** When it was first proposed, on the clock's `now()`: its commit latency is measured from here. */
  readonly startedMs: number;
}

/**
 * The proposals pending on a node, by request, and the forwards it gathers for the
 * leader. A proposal is handed to the leader once, and again on a leader change, when
 * the leader gives it back, or after `retryTicks` without news; the same request
 * proposed twice shares one entry (its waiters wait together). It settles when the
 * applier reports its request applied, or when the exactly-once table already knows it.
 * @internal
 */
export class Proposals<Command, Result> {
  private readonly pending = new LazyMap<string, PendingProposal<Result>>();
  /** This node's own client's pending proposals by seq, lowest first: the first is `ackedBelow`. */
  private readonly ownPending = new LazyMap<number, PendingProposal<Result>>();
  private readonly forwards = new LazyMap<NodeId, Uint8Array[]>();
  /**
   * Requests this node proposed in its current leadership and has not applied yet: a
   * follower's resend of one of them is already in the pipeline and is not queued again.
   */
  private readonly inPipeline = new LazySet<string>();
  private clientId = '';
  /** Set at start from the wall clock, so a restart with a fixed `clientId` never reuses a sequence number. */
  private nextSeq = 1;
  /** While a committed batch is applied: when it came out of the core, on the clock's `now()`. */
  private applyingSince: number | undefined;
  /** The start times of the proposals the batch being applied settled, timed when it ends. */
  private readonly settledInApply = new TimeList();

  constructor(
    private readonly options: ProposalsOptions<Command, Result>,
    private readonly recorder: MetricsRecorder,
    private readonly host: ProposalsHost<Command, Result>,
  ) {}

  /** Proposals waiting. */
  get size(): number {
    return this.pending.size;
  }

  /** At start: this node's own client id, and the first sequence number it uses. */
  start(clientId: string, firstSeq: number): void {
    assert(clientId.length > 0, 'a node started with an empty client id');
    assert(Number.isSafeInteger(firstSeq) && firstSeq >= 1, `a node started at sequence number ${firstSeq}`);
    this.clientId = clientId;
    this.nextSeq = firstSeq;
  }

  /**
   * Admits `command` (see {@link SynodNode.propose}) and hands it to the leader; the
   * promise settles with its outcome. Throws what refuses it at once.
   */
  propose(command: Command, options: ProposeOptions, timeoutMs: number): Promise<Result> {
    const core = this.host.core();
    if (this.options.followerProposals === 'reject' && core.role !== 'leader') throw new NotLeaderError(this.host.leader(), command);
    let clientId = this.clientId;
    let seq: number;
    let ackedBelow: number;
    const request = options.request;
    if (request === undefined) {
      seq = this.nextSeq;
      ackedBelow = this.ownPending.size === 0 ? seq : (this.ownPending.keys().next().value as number);
    } else {
      ({ clientId, seq } = request);
      ackedBelow = request.ackedBelow ?? 0;
      if (typeof clientId !== 'string' || clientId.length === 0) throw new ConfigError('propose', 'request.clientId', 'must be a non-empty string');
      if (new TextEncoder().encode(clientId).byteLength > envelopeIdBytesMax)
        throw new ConfigError('propose', 'request.clientId', `must be at most ${envelopeIdBytesMax} bytes`);
      if (!Number.isSafeInteger(seq) || seq < 0) throw new ConfigError('propose', 'request.seq', 'must be a non-negative integer');
      if (!Number.isSafeInteger(ackedBelow) || ackedBelow < 0 || ackedBelow > seq)
        throw new ConfigError('propose', 'request.ackedBelow', 'must be an integer from 0 to seq');
      if (clientId === this.clientId) throw new ConfigError('propose', 'request.clientId', "must not be this node's own client id");
    }
    const key = requestKey(clientId, seq);
    const readOnly = this.host.applier.isReadOnly(command);
    if (request !== undefined && !readOnly) {
      // A retry of a request this replica applied already: its outcome is known here.
      const known = this.host.applier.known(clientId, seq);
      if (known === 'expired') throw new ResultExpiredError(clientId, seq);
      if (known !== undefined) {
        this.recorder.submitted++;
        if (known === 'dropped') {
          this.recorder.failed++;
          return Promise.reject(new ResultDroppedError(clientId, seq));
        }
        if (known.ok) {
          this.recorder.succeeded++;
          return Promise.resolve(known.value);
        }
        this.recorder.failed++;
        return Promise.reject(known.error);
      }
    }
    const existing = this.pending.get(key);
    if (existing === undefined && this.pending.size >= this.options.pendingProposalsMax) throw new OverloadedError(this.options.pendingProposalsMax, 'node');
    if (options.signal?.aborted === true) throw new AbortedError('propose', { cause: options.signal.reason });
    let envelope = existing?.envelope;
    if (envelope === undefined) {
      const { codec } = this.options;
      const createdAt = this.options.clock.wallTime();
      const origin = this.options.id;
      // A codec that encodes in place leaves room for the header: the command is not copied
      // into its envelope. Each path builds its record as a literal: a spread of a shared
      // header cost the runtime a quarter of its CPU per proposal (issue 18's step 5 A/B).
      envelope =
        codec.encodeAfter === undefined
          ? encodeEnvelope({ clientId, seq, ackedBelow, timestamp: 0, createdAt, origin, payload: codec.encode(command) })
          : encodeEnvelopeAround({ clientId, seq, ackedBelow, timestamp: 0, createdAt, origin }, (headBytes, allocate) =>
              codec.encodeAfter!(command, headBytes, allocate),
            );
      if (envelope.byteLength > this.options.commandBytesMax) throw new CommandTooLargeError(envelope.byteLength, this.options.commandBytesMax);
    }
    const limits = { timeoutMs, signal: options.signal, timer: false };
    const { promise, waiter } = createWaiter<Result>(this.options.clock, 'propose', limits, (w, ok) => {
      if (ok) this.recorder.succeeded++;
      else this.recorder.failed++;
      // The waiter read the clock for its deadline: its start is that reading, no second one.
      // One settled by the batch being applied is timed at the batch's end: one clock read a batch, not a proposal.
      const startedMs = w.deadline - timeoutMs;
      if (this.applyingSince !== undefined) this.settledInApply.push(startedMs);
      else this.recorder.proposeLatency.observe(this.options.clock.now() - startedMs);
      this.waiterDone(p, w);
    });
    const p: PendingProposal<Result> = existing ?? {
      key,
      clientId,
      seq,
      envelope,
      readOnly,
      waiters: [],
      submittedTick: -1,
      attempts: 0,
      startedMs: waiter.deadline - timeoutMs,
    };
    p.waiters.push(waiter);
    this.recorder.submitted++;
    if (existing === undefined) {
      this.pending.set(key, p);
      if (request === undefined) {
        this.ownPending.set(seq, p);
        this.nextSeq++;
      }
      this.submit(p);
    }
    return promise;
  }

  /** A new leader is known: every pending proposal goes to it (the forwards leave at the next {@link flushForwards}). */
  leaderChanged(): void {
    for (const p of this.pending.values()) this.submit(p);
  }

  /** This node's role changed: a new leadership's pipeline holds none of the requests an old one held. */
  roleChanged(): void {
    this.inPipeline.clear();
  }

  /**
   * Once a tick: expires the waiters whose deadline passed (one check a tick rather than
   * a timer each), and hands again to the leader the proposals nothing was heard of
   * since tick `due`.
   */
  retryDue(due: number): void {
    const leading = this.host.core().role === 'leader';
    const now = this.options.clock.now();
    for (const p of this.pending.values()) {
      for (let i = p.waiters.length - 1; i >= 0; i--) {
        const w = p.waiters[i]!;
        if (w.deadline <= now) w.expire();
      }
      if (p.waiters.length === 0) continue;
      // A proposal in this leader's own pipeline commits, or comes back in `dropped`.
      if (leading && this.inPipeline.has(p.key)) continue;
      if (p.submittedTick <= due) this.submit(p);
    }
  }

  /** Commands this node queued as leader and gave back on stepping down. */
  dropped(commands: readonly Uint8Array[]): void {
    const leader = this.host.leader();
    for (const c of commands) {
      const key = envelopeKey(c);
      const p = key === undefined ? undefined : this.pending.get(key);
      if (p !== undefined) this.submit(p);
      else if (leader !== undefined && leader !== this.options.id) this.forward(leader, c);
    }
  }

  /** Sends the forwards gathered in this turn: per leader, messages of at most one slot's commands and bytes. */
  flushForwards(): void {
    if (this.forwards.size === 0) return;
    const { batchCommandsMax, batchBytesMax } = this.options.limits;
    const from = this.options.id;
    for (const [to, commands] of this.forwards) {
      let chunk: Uint8Array[] = [];
      let bytes = 0;
      for (const c of commands) {
        if (chunk.length > 0 && (chunk.length === batchCommandsMax || bytes + c.byteLength > batchBytesMax)) {
          this.host.send({ type: 'forward', from, to, commands: chunk } satisfies ForwardMessage);
          chunk = [];
          bytes = 0;
        }
        chunk.push(c);
        bytes += c.byteLength;
      }
      assert(chunk.length > 0, () => `an empty forward to ${to}`);
      this.host.send({ type: 'forward', from, to, commands: chunk } satisfies ForwardMessage);
    }
    this.forwards.clear();
  }

  /**
   * The applier applied request `seq` of `clientId` (or refused it as a retry) with
   * `outcome`: the proposal of it here, if any, settles.
   */
  applied(clientId: string, seq: number, outcome: Outcome<Result>): void {
    if (this.inPipeline.size === 0 && this.pending.size === 0) return;
    const key = requestKey(clientId, seq);
    this.inPipeline.delete(key);
    const p = this.pending.get(key);
    if (p === undefined) return;
    // Chosen and known here when the batch holding it came out of the core.
    this.recorder.commitLatency.observe((this.applyingSince ?? this.options.clock.now()) - p.startedMs);
    this.settle(p, outcome);
  }

  /** A committed batch starts to be applied, taken from the core at `nowMs`. */
  applyStarted(nowMs: number): void {
    this.applyingSince = nowMs;
  }

  /** The batch is applied, at `nowMs`: the proposals it settled are timed. */
  applyEnded(nowMs: number): void {
    this.applyingSince = undefined;
    this.settledInApply.drain((startedMs) => this.recorder.proposeLatency.observe(nowMs - startedMs));
  }

  /**
   * A snapshot replaced the applied state: requests applied inside it never pass
   * through apply here, so they settle from the restored exactly-once table.
   */
  installed(): void {
    this.inPipeline.clear();
    for (const p of [...this.pending.values()]) {
      // A read takes no entry: it is sent again, and runs again.
      if (p.readOnly) continue;
      const known = this.host.applier.known(p.clientId, p.seq);
      if (known === undefined) continue;
      this.settle(p, known === 'expired' || known === 'dropped' ? refusal(known, p.clientId, p.seq) : known);
    }
  }

  /** The node closes: every waiter rejects with `error()`. */
  close(error: () => Error): void {
    for (const p of [...this.pending.values()]) for (const w of [...p.waiters]) w.reject(error());
    assert(this.pending.size === 0, () => `${this.pending.size} proposals left pending on close`);
  }

  /** A follower forwarded commands: as leader, propose those not queued or applied yet; refuse the rest. */
  onForward(m: ForwardMessage): void {
    if (!Array.isArray(m.commands)) return this.host.dropMalformed(m);
    const { applier } = this.host;
    const core = this.host.core();
    const refused: [string, number][] = [];
    let reason: ForwardRefusedMessage['reason'] = 'not-leader';
    for (const c of m.commands) {
      if (!(c instanceof Uint8Array) || c.byteLength > this.options.commandBytesMax) {
        this.recorder.messagesDropped++;
        continue;
      }
      const stamped = stampEnvelope(c, applier.stamp());
      if (stamped === undefined) {
        this.recorder.messagesDropped++;
        continue;
      }
      let e;
      try {
        e = decodeEnvelope(stamped);
      } catch {
        this.recorder.messagesDropped++;
        continue;
      }
      const key = requestKey(e.clientId, e.seq);
      // Already queued, or applied (the sender will learn the result when it applies the slot);
      // a read, though, keeps no entry and runs again.
      if (core.role === 'leader' && (this.inPipeline.has(key) || (applier.known(e.clientId, e.seq) !== undefined && !applier.isReadOnlyPayload(e.payload))))
        continue;
      const result = core.role === 'leader' ? core.propose([stamped]) : undefined;
      if (result?.ok === true) {
        this.inPipeline.add(key);
        continue;
      }
      refused.push([e.clientId, e.seq]);
      if (result?.ok === false && result.reason === 'overloaded') reason = 'overloaded';
    }
    if (refused.length > 0) {
      const reply: ForwardRefusedMessage = {
        type: 'forwardRefused',
        from: this.options.id,
        to: m.from,
        requests: refused,
        reason,
        leaderHint: this.host.leader(),
      };
      this.host.send(reply);
    }
  }

  /**
   * The leader could not take forwarded proposals. Each is retried on the next leader
   * change or after `retryTicks`; only a first attempt refused as overloaded fails at
   * once (a retry's earlier attempt may still be queued at the leader).
   */
  onForwardRefused(m: ForwardRefusedMessage): void {
    if (!Array.isArray(m.requests)) return this.host.dropMalformed(m);
    if (m.reason !== 'overloaded') return;
    for (const r of m.requests) {
      if (!Array.isArray(r) || typeof r[0] !== 'string' || typeof r[1] !== 'number') continue;
      const p = this.pending.get(requestKey(r[0], r[1]));
      if (p !== undefined && p.attempts === 1) this.settle(p, { ok: false, error: new OverloadedError(this.options.limits.proposalQueueMax, 'leader') });
    }
  }

  /** Hands `p` to the leader: this node's core if it leads, else a forward. */
  private submit(p: PendingProposal<Result>): void {
    const core = this.host.core();
    p.submittedTick = this.host.ticks();
    const first = p.attempts++ === 0;
    if (core.role === 'leader') {
      // A retry of a request this leadership holds already (its first attempt timed out
      // and was retried): that copy commits and settles it by key, or comes back in
      // `dropped`. A second copy would only take a slot of its own.
      if (this.inPipeline.has(p.key)) return;
      // A first attempt's envelope is this proposal's alone (never forwarded or proposed
      // yet): it is stamped in place. Later ones are copies, since the log may hold it.
      const stamp = this.host.applier.stamp();
      const stamped = first ? (stampEnvelopeInPlace(p.envelope, stamp) ? p.envelope : undefined) : stampEnvelope(p.envelope, stamp);
      if (stamped === undefined) throw new InvariantError(`this node built a malformed envelope for ${p.key}`);
      const result = core.propose([stamped]);
      if (result.ok) {
        this.inPipeline.add(p.key);
        this.host.drainAfterIo();
        return;
      }
      // Refused for now. Only a first attempt can fail: a retry's earlier attempt may still be applied.
      if (result.reason === 'overloaded') {
        // Not in the pipeline, so retryDue() hands it over again.
        if (first) this.settle(p, { ok: false, error: new OverloadedError(result.limit, 'leader') });
        return;
      }
      if (result.reason === 'too-large') return this.settle(p, { ok: false, error: new CommandTooLargeError(result.bytes, result.limit) });
    }
    const leader = this.host.leader();
    if (leader === undefined || leader === this.options.id) {
      p.submittedTick = -1;
      return;
    }
    this.forward(leader, p.envelope);
  }

  private forward(leader: NodeId, envelope: Uint8Array): void {
    let list = this.forwards.get(leader);
    if (list === undefined) this.forwards.set(leader, (list = []));
    list.push(envelope);
    this.recorder.forwarded++;
    this.host.drainSoon();
  }

  private waiterDone(p: PendingProposal<Result>, w: Waiter<Result>): void {
    const i = p.waiters.indexOf(w);
    if (i >= 0) p.waiters.splice(i, 1);
    if (p.waiters.length === 0) {
      this.pending.delete(p.key);
      if (p.clientId === this.clientId) this.ownPending.delete(p.seq);
    }
  }

  private settle(p: PendingProposal<Result>, outcome: Outcome<Result>): void {
    for (const w of [...p.waiters]) {
      if (outcome.ok) w.resolve(outcome.value);
      else w.reject(outcome.error);
    }
  }
}
