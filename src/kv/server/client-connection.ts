/**
 * One client's connection to a KV server: the handshake, then requests answered in
 * any order (each carries its id), watches pumped from history, and bounds on
 * everything a client can make the server hold.
 */
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ClosedError, type Logger, ResultDroppedError, ResultExpiredError } from '../../runtime/index.js';
import { assert } from '../../core/assert.js';
import { FrameLoop, type FrameLoopError } from '../../connection/frame-loop.js';
import { type Admission, Handshake, HandshakeError, type HandshakeStep } from '../../connection/handshake.js';
import type { PartialFrameBudget } from '../../connection/partial-frame-budget.js';
import { newNonce } from '../../connection/proof.js';
import { CodecError } from '../../encoding/codec-error.js';
import { framePrefixBytes } from '../../encoding/frame-reader.js';
import { AnswerTooLargeError, KvRequestError, PermissionDeniedError } from '../errors.js';
import type { KvCommand, KvResult } from '../kv-command.js';
import { envelopeIdBytesMax } from '../../runtime/envelope.js';
import { replicatedUserSeparator } from '../kv-state-machine.js';
import type { KvNode } from '../kv-node.js';
import type { ShardedKv } from '../shard/sharded-kv.js';
import { checkClientCommand } from '../kv-requests.js';
import { answerFrameBytesMax, decodeClientRequest, frameServerFrame, requestIdOf, snapshotChunkBytesMax } from '../protocol/client-codec.js';
import { errorBodyOf } from '../protocol/client-errors.js';
import type { ClientRequest, RequestIdentity, ServerFrame } from '../protocol/client-frames.js';
import { authenticationRefusal, clientHandshakeBytes, clientHandshakeBytesMax, clientWire } from '../protocol/client-handshake.js';
import type { ServerMetricsRecorder } from './server-metrics.js';
import { ServerWatch, type WatchSink } from './server-watch.js';
import { type RangeWatchSink, ShardedServerWatch } from './sharded-server-watch.js';
import { type AccessControl, type Principal, sharedPrincipal } from './access-control.js';
import type { PrincipalUsage } from './principal-usage.js';
import { authorizeRequest } from './request-authorization.js';

/** What a connection needs from its server. @internal */
export interface ConnectionHost {
  /** The KV node: on a sharded cluster, the meta group's (it keeps the replicated users and roles). */
  readonly kv: KvNode;
  /** The sharded KV the server runs, if sharded: requests are routed through it by key. */
  readonly sharded: ShardedKv | undefined;
  readonly clusterId: string;
  readonly nodeId: string;
  readonly members: readonly string[];
  /** The shared client secret (its clients are the default principal), if any. */
  readonly secret: Uint8Array | undefined;
  /** Whether clients come over TLS (their certificate authenticated them). */
  readonly tls: boolean;
  /** The users and roles (configured and replicated), and the shared secret's principal. */
  readonly access: AccessControl;
  /** What each principal holds on this server, against its quotas. */
  readonly usage: PrincipalUsage;
  readonly logger: Logger;
  readonly limits: ConnectionLimits;
  readonly metrics: ServerMetricsRecorder;
  /** What all the server's client connections may hold of frames not yet read. */
  readonly partialFrames: PartialFrameBudget;
  closed(connection: ClientConnection): void;
  /**
   * Runs `task` once no other connection's runs (a snapshot held and sent: at most one
   * copy of the state at a time, whatever the clients ask).
   */
  oneSnapshotAtATime<T>(task: () => Promise<T>): Promise<T>;
}

/** Bounds on one client connection. */
export interface ConnectionLimits {
  /** Largest frame after the handshake, in bytes. Default 16 MiB. */
  readonly frameBytesMax: number;
  /** Requests in flight; at it the server stops reading the socket until half of them finish. Default 4,096. */
  readonly requestsInFlightMax: number;
  /**
   * Watches open at once, those still being set up included; more are refused
   * (`KvRequestError`), as is a watch whose id is in use. Default 256.
   */
  readonly watchesMax: number;
  /** Malformed frames before the connection is closed (each is answered with a `CODEC` error frame). Default 8. */
  readonly badFramesMax: number;
  /** Time to finish the handshake, in ms. Default 5,000. */
  readonly handshakeTimeoutMs: number;
  /**
   * Time a frame after the handshake may take to arrive whole, from its first byte (or
   * from when the server read on again, if it had stopped reading the connection), in
   * ms; then the connection is closed, saying why. Default 30,000.
   */
  readonly frameCompleteMsMax: number;
  /**
   * Answers a connection may have outstanding, in bytes. At it the server stops reading
   * the connection's requests, and encodes no more answers for it, until the client
   * takes what is queued; watches wait for `drain` too. Outstanding: the answers written
   * and not yet taken by the kernel, plus 64 KiB for each request read whose answer is
   * not written yet (being served, or computed and waiting for room), since its size is
   * not known before. At least the socket's own high-water mark (16 KiB) in effect, since
   * only above that does `drain` come. Default 8 MiB.
   */
  readonly socketBytesHigh: number;
}

/**
 * What an answer counts for against `socketBytesHigh` until it is written, in bytes: so
 * at most `socketBytesHigh / answerBytesAssumed` requests (128 at the defaults) are read
 * ahead of their answers. Answers computed meanwhile wait unencoded (a range's keys and
 * values are the store's own, not copies) until the socket has room.
 */
const answerBytesAssumed = 64 * 1024;

/** @internal */
export class ClientConnection {
  /** Reads the client's frames, within the limits, the partial-frame budget and the timeouts. */
  private readonly loop: FrameLoop;
  private readonly handshake: Handshake<Principal>;
  private state: 'handshake' | 'open' | 'closed' = 'handshake';
  private clientId = '';
  /** Who the handshake proved the client to be; checked on every request. */
  private principal: Principal = sharedPrincipal;
  /** Requests being served. */
  private inFlight = 0;
  /** Answers computed and not yet written: they wait, unencoded, for the socket to have room. */
  private unsent: ServerFrame[] = [];
  private badFrames = 0;
  private readonly watches = new Map<number, ServerWatch | ShardedServerWatch>();
  private corked = false;

  constructor(
    private readonly socket: Socket,
    private readonly host: ConnectionHost,
  ) {
    socket.setNoDelay(true);
    const { limits } = host;
    this.loop = new FrameLoop(socket, this.frames, {
      handshakeFrameBytesMax: clientHandshakeBytesMax,
      handshakeTimeoutMs: limits.handshakeTimeoutMs,
      frameBytesMax: limits.frameBytesMax,
      frameCompleteMsMax: limits.frameCompleteMsMax,
      partialFrames: host.partialFrames,
    });
    this.handshake = new Handshake({
      wire: clientWire,
      side: 'first',
      cluster: host.clusterId,
      id: host.nodeId,
      nonce: newNonce(),
      vet: (claim) => this.vet(claim.user),
    });
    socket.on('data', (chunk: Buffer) => this.loop.received(chunk));
    socket.on('drain', () => {
      this.writeAnswers();
      this.resumeReading();
    });
    socket.on('error', () => this.close(undefined));
    socket.on('close', () => this.close(undefined));
    this.onStep(this.handshake.start());
  }

  /** What this connection holds now, for the server's metrics. */
  usage(): { answerBytesQueued: number; requestsUnanswered: number; partialFrameBytes: number; watches: number } {
    return {
      answerBytesQueued: this.socket.writableLength,
      requestsUnanswered: this.inFlight + this.unsent.length,
      partialFrameBytes: this.loop.charged,
      watches: this.watches.size,
    };
  }

  /** Ends the connection; a reason is logged and told to the client (unless `told` already). */
  close(reason: string | undefined, told = false): void {
    if (this.state === 'closed') return;
    if (reason !== undefined && this.state === 'handshake') this.host.metrics.handshakesRefused++;
    // A refused handshake is an operator's business (a wrong secret, a stray client): warn, rate-limited by the server's logger.
    if (reason !== undefined && this.state === 'handshake')
      this.host.logger.warn(
        { node: this.host.nodeId, remote: `${this.socket.remoteAddress}:${this.socket.remotePort}`, reason },
        'kv server: client refused at the handshake',
      );
    else if (reason !== undefined)
      this.host.logger.info({ node: this.host.nodeId, client: this.clientId || undefined, reason }, 'kv server: client connection closed');
    if (reason !== undefined && !told && !this.socket.destroyed) {
      // The client is told why: during the handshake by a refusal, after it by an error frame with id 0 (no request has it).
      if (this.state === 'handshake') this.sendRaw(clientHandshakeBytes({ kind: 'refuse', reason }));
      else this.send({ kind: 'error', id: 0, error: errorBodyOf(new ClosedError(`the server closed this connection: ${reason}`)) });
    }
    this.state = 'closed';
    this.loop.stop();
    for (const watch of this.watches.values()) {
      watch.stop();
      this.host.usage.endWatch(this.principal);
    }
    this.watches.clear();
    // Answers computed and not sent are dropped; those still being served are dropped as they come.
    this.unsent = [];
    // end() flushes what is queued (a refusal's reason); a peer that never reads is cut off.
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1_000).unref();
    this.host.closed(this);
  }

  /** What the frame loop hands on: a frame (the handshake's until open), or why it stopped. */
  private readonly frames = {
    onFrame: (bytes: Uint8Array, start: number, end: number): void => {
      const frame = bytes.subarray(start, end);
      if (this.state === 'handshake') this.onStep(this.handshake.receive(frame));
      else if (this.state === 'open') this.onRequestFrame(frame);
    },
    onFailure: (error: FrameLoopError): void => {
      if (error.failure === 'partial-frames') this.host.metrics.partialFrameCloses++;
      else if (error.failure === 'frame-timeout') this.host.metrics.frameTimeouts++;
      this.close(error.failure === 'handshake-timeout' ? 'handshake timed out' : error.message);
    },
  };

  /** Writes what a handshake step sends; then the connection opens, or closes (the step told the client why). */
  private onStep(step: HandshakeStep<Principal>): void {
    for (const frame of step.send) this.sendRaw(frame);
    if (step.failed !== undefined) return this.close(step.failed.message, true);
    const done = step.done;
    if (done === undefined) return;
    this.clientId = done.peer;
    this.principal = done.grant;
    this.state = 'open';
    this.loop.opened();
  }

  /**
   * Who a client claiming `user` (or none: the shared secret) is, and the secret its
   * proof must verify with; under TLS its certificate says (and a hello may name the
   * user too, but then the certificate's).
   */
  private vet(user: string | undefined): Admission<Principal> | HandshakeError {
    if (this.host.tls) {
      const found = this.certificatePrincipal();
      if (typeof found === 'string') return new HandshakeError('identity', found);
      if (user !== undefined && user !== found.name)
        return new HandshakeError('identity', 'authentication failed: the hello names another user than the certificate');
      return { accepted: undefined, prove: undefined, grant: found };
    }
    // An unknown user, a user without a secret, or no shared secret: one answer for all, so names cannot be probed.
    const known = user === undefined ? undefined : this.host.access.user(user);
    const secret = user === undefined ? this.host.secret : known?.secret;
    if (secret === undefined) return new HandshakeError('proof', authenticationRefusal);
    return { accepted: [secret], prove: secret, grant: known?.principal ?? this.host.access.shared };
  }

  /**
   * The principal of a TLS client, by the names in its certificate (the CA already
   * checked it), or why it is refused. A certificate that names no user is the default
   * principal on a server without `auth` (as before users), and refused on one with.
   */
  private certificatePrincipal(): Principal | string {
    const access = this.host.access;
    const cert = (this.socket as TLSSocket).getPeerCertificate?.();
    const names: string[] = [];
    const cn = cert?.subject?.CN;
    if (typeof cn === 'string') names.push(cn);
    else if (Array.isArray(cn)) names.push(...(cn as string[]));
    for (const entry of (cert?.subjectaltname ?? '').split(', ')) {
      const match = /^(DNS|URI):(.+)$/.exec(entry);
      if (match !== null) names.push(match[2]!);
    }
    // The CN is often a subjectAltName too: each name once.
    const unique = [...new Set(names)];
    const user = access.userOfCertificate(unique);
    if (user === undefined && !access.configured) return access.shared;
    if (user === undefined) return `authentication failed: the certificate (${unique.join(', ') || 'no names'}) names no user`;
    if ('ambiguous' in user) return `authentication failed: the certificate names several users (${user.ambiguous.join(', ')})`;
    return user;
  }

  private onRequestFrame(frame: Uint8Array): void {
    let request: ClientRequest;
    try {
      request = decodeClientRequest(frame);
    } catch (error) {
      if (!(error instanceof CodecError)) throw error;
      this.badFrames++;
      this.host.metrics.badFrames++;
      this.host.logger.warn({ node: this.host.nodeId, client: this.clientId, error: error.message }, 'kv server: malformed frame from a client');
      // Answered, so the client need not wait for its timeout: under the request's id if
      // the header holds one, else 0 (no request has it).
      this.send({ kind: 'error', id: requestIdOf(frame) ?? 0, error: errorBodyOf(error) });
      if (this.badFrames >= this.host.limits.badFramesMax) this.close(`${this.badFrames} malformed frames`);
      return;
    }
    if (request.kind === 'unwatch') {
      const watch = this.watches.get(request.id);
      if (watch !== undefined) this.dropWatch(watch);
      return;
    }
    // Its roles may have changed since the handshake (a replicated user's), or its user gone.
    const principal = this.host.access.current(this.principal);
    if (principal === undefined) return this.close(`user ${this.principal.name} no longer exists`);
    this.principal = principal;
    const bytes = frame.byteLength;
    try {
      this.host.usage.beginRequest(principal, bytes);
    } catch (error) {
      // Refused before it is served: it holds nothing here.
      this.send({ kind: 'error', id: request.id, error: errorBodyOf(error) });
      return;
    }
    this.inFlight++;
    if (this.answersFull()) {
      this.host.metrics.answerPauses++;
      this.pauseReading();
    } else if (this.inFlight >= this.host.limits.requestsInFlightMax) {
      this.pauseReading();
    }
    this.serve(request).then(
      (answer) => {
        this.host.usage.endRequest(principal, bytes);
        this.finish(answer);
      },
      (error: unknown) => {
        this.host.usage.endRequest(principal, bytes);
        if (error instanceof PermissionDeniedError) this.host.metrics.permissionDenied++;
        this.finish({ kind: 'error', id: request.id, error: errorBodyOf(error) });
      },
    );
  }

  private async serve(request: Exclude<ClientRequest, { kind: 'unwatch' }>): Promise<ServerFrame | undefined> {
    // Before anything is read or proposed: a client without permission changes nothing and sees nothing.
    authorizeRequest(this.principal, request);
    const sharded = this.host.sharded;
    if (sharded !== undefined) return this.serveSharded(request, sharded);
    const kv = this.host.kv;
    switch (request.kind) {
      case 'command':
        return this.command(request, async (command, options) => {
          const refused = await this.refuseSessionUse(command);
          return refused ?? kv.submitClientCommand(command, options);
        });
      case 'range': {
        const result = await kv.range(request.range, {
          consistency: request.linearizable ? 'linearizable' : 'serializable',
          ...(request.limit === 0 ? {} : { limit: request.limit }),
          ...(request.revision === 0 ? {} : { revision: request.revision }),
        });
        return { kind: 'range', id: request.id, result };
      }
      case 'watchRanges':
        throw new KvRequestError('watchRanges', 'this cluster is not sharded: watch it with one revision (watch)');
      case 'watch': {
        const watch = this.openWatch(request, () => new ServerWatch(request.id, kv.machine, request.range, this.watchSink));
        // By default from this replica's next revision as the request arrives: a write the
        // client sends after it (or is told of after it) applies here later, so it is never
        // missed. A read point instead could be passed by such a write on its way to the leader.
        const from = request.fromRevision === 0 ? kv.machine.revision + 1 : request.fromRevision;
        // 'watching' goes out before any event: the client learns where the watch starts.
        this.send({ kind: 'watching', id: request.id, fromRevision: from });
        watch.start(from);
        return undefined;
      }
      case 'member':
        return this.member(request);
      case 'snapshot':
        return this.host.oneSnapshotAtATime(() => this.sendSnapshot(request));
      case 'sessions':
        return { kind: 'sessions', id: request.id, list: await kv.listSessions({ consistency: request.linearizable ? 'linearizable' : 'serializable' }) };
      case 'status':
        return this.status(request.id, kv);
      case 'ranges': {
        const s = kv.node.status();
        const size = kv.machine.view.size;
        const range = {
          group: 0,
          start: '',
          ...(s.leader === undefined ? {} : { leader: s.leader }),
          revision: kv.machine.revision,
          keys: size.keys,
          valueBytes: size.valueBytes,
        };
        return { kind: 'ranges', id: request.id, ranges: [range] };
      }
    }
  }

  /**
   * A request to a sharded cluster: keys are routed to their ranges by the sharded KV.
   * `status` and the members are the meta group's; sessions, watches, membership
   * changes and snapshots are refused with `KvRequestError`, for now.
   */
  private async serveSharded(request: Exclude<ClientRequest, { kind: 'unwatch' }>, sharded: ShardedKv): Promise<ServerFrame | undefined> {
    switch (request.kind) {
      case 'command':
        return this.command(request, (command, options) => sharded.submitClientCommand(command, options));
      case 'range': {
        const result = await sharded.range(request.range, {
          consistency: request.linearizable ? 'linearizable' : 'serializable',
          ...(request.limit === 0 ? {} : { limit: request.limit }),
          ...(request.revision === 0 ? {} : { revision: request.revision }),
        });
        // Each range counts its own revisions: a read of several has no one revision (0).
        const revision = result.parts.length === 1 ? result.parts[0]!.revision : 0;
        return { kind: 'range', id: request.id, result: { kvs: result.kvs, more: result.more, count: result.count, revision } };
      }
      case 'ranges':
        return { kind: 'ranges', id: request.id, ranges: sharded.rangeStatus() };
      case 'status':
        return this.status(request.id, this.host.kv);
      case 'member':
        if (request.action === 'list') return this.member(request);
        throw new KvRequestError('member', 'membership changes are not served by a sharded cluster yet');
      case 'watchRanges':
        this.openWatch(request, () => new ShardedServerWatch(request.id, request.range, this.rangeWatchSink)).start(sharded, request.from);
        return undefined;
      case 'watch':
        throw new KvRequestError('watch', 'a sharded cluster counts revisions per range: watch it range by range (watchRanges)');
      case 'snapshot':
      case 'sessions':
        throw new KvRequestError(request.kind, `${request.kind === 'sessions' ? 'sessions are' : 'a snapshot is'} not served by a sharded cluster yet`);
    }
  }

  /**
   * A client's command, checked, in its principal's namespace, entered by `submit`
   * (checked and authorized already, it goes in as the bytes it came in, unless
   * rewritten for its principal).
   */
  private async command(
    request: Extract<ClientRequest, { kind: 'command' }>,
    submit: (command: KvCommand, options: { readonly request?: RequestIdentity; readonly timeoutMs?: number }) => Promise<KvResult>,
  ): Promise<ServerFrame> {
    // The leader's own duties: a client that could enter them would keep dead sessions alive.
    checkClientCommand(request.command);
    // A replicated user's command is checked again as it applies, by its identity: it must carry one.
    if (this.principal.replicated && request.request === undefined)
      throw new KvRequestError('command', `user ${this.principal.name}'s commands carry a request identity`);
    const options = {
      ...(request.request === undefined ? {} : { request: this.identityOf(request.request) }),
      ...(request.timeoutMs === 0 ? {} : { timeoutMs: request.timeoutMs }),
    };
    const result = await submit(this.commandOf(request.command), options).catch((error: unknown) => {
      // The client hears of its own client id, not of the namespace it was kept under.
      if (request.request !== undefined && error instanceof ResultExpiredError) throw new ResultExpiredError(request.request.clientId, error.seq);
      if (request.request !== undefined && error instanceof ResultDroppedError) throw new ResultDroppedError(request.request.clientId, error.seq);
      throw error;
    });
    if (result.type === 'quota-exceeded' && result.quota === 'sessionsMax') this.host.usage.trip('sessionsMax');
    // Who changed the users and roles, for the audit trail (secrets are never logged).
    const command = request.command;
    if (result.type === 'auth' && command.type !== 'auth-list') {
      const name =
        command.type === 'auth-user-put' ? command.user.name : command.type === 'auth-role-put' ? command.role.name : 'name' in command ? command.name : '';
      this.host.logger.info(
        { node: this.host.nodeId, by: this.principal.name, change: command.type, name, authRevision: result.revision },
        'kv server: users and roles changed',
      );
    }
    return { kind: 'result', id: request.id, result };
  }

  /** This server's view of `kv`'s group: its role, leader, indexes and revision. */
  private status(id: number, kv: KvNode): ServerFrame {
    const s = kv.node.status();
    return {
      kind: 'status',
      id,
      status: {
        node: s.id,
        leader: s.leader,
        role: s.role ?? 'starting',
        members: s.configuration?.voters ?? this.host.members,
        commitIndex: s.commitIndex,
        appliedIndex: s.appliedIndex,
        revision: kv.machine.revision,
        compactRevision: kv.machine.compactRevision,
      },
    };
  }

  /**
   * A request identity in this principal's namespace: a user's client ids are prefixed
   * with its name and a separator (U+0000 for a configured user, U+0001 for a
   * replicated one, whose commands the state machine checks again by it), so no client
   * can send writes under another user's identity (and make that user's writes fail
   * `RESULT_EXPIRED` by moving its floor). The default principal's ids are kept as they
   * are (its dedup entries from before users); none may hold a separator, so it cannot
   * reach into a user's namespace either.
   */
  private identityOf(request: { readonly clientId: string; readonly seq: number; readonly ackedBelow: number }): {
    readonly clientId: string;
    readonly seq: number;
    readonly ackedBelow: number;
  } {
    if (request.clientId.includes('\u0000') || request.clientId.includes(replicatedUserSeparator))
      throw new KvRequestError('command', 'a client id must not hold U+0000 or U+0001');
    if (!this.principal.namespaced) return request;
    const clientId = `${this.principal.name}${this.principal.replicated ? replicatedUserSeparator : '\u0000'}${request.clientId}`;
    const bytes = new TextEncoder().encode(clientId).byteLength;
    if (bytes > envelopeIdBytesMax)
      throw new KvRequestError(
        'command',
        `a client id of user ${this.principal.name} is at most ${envelopeIdBytesMax - (bytes - new TextEncoder().encode(request.clientId).byteLength)} bytes`,
      );
    return { ...request, clientId };
  }

  /**
   * The command as this principal may enter it: a session it creates is owned by it and
   * counted against its `sessionsMax`, with a TTL within its `sessionTtlMsMax`; whatever
   * owner the client wrote is replaced (the default principal's sessions are owned by
   * no one, as before users).
   */
  private commandOf(command: KvCommand): KvCommand {
    if (command.type !== 'session-create') return command;
    const { quotas, name } = this.principal;
    this.host.usage.checkSessionTtl(this.principal, command.ttlMs);
    if (quotas === undefined) return { type: 'session-create', ttlMs: command.ttlMs };
    return { type: 'session-create', ttlMs: command.ttlMs, owner: { user: name, sessionsMax: quotas.sessionsMax } };
  }

  /**
   * Refuses a use of a session this principal does not own (a keepalive, a close, an
   * ephemeral put) with {@link PermissionDeniedError}, or answers `no-session` for one
   * not created yet; undefined if the command may go on. `root` may use any session.
   */
  private async refuseSessionUse(command: KvCommand): Promise<KvResult | undefined> {
    if (this.principal.admin) return undefined;
    const ids: number[] = [];
    if (command.type === 'session-keepalive' || command.type === 'session-close') ids.push(command.session);
    else if (command.type === 'put' && command.session !== undefined) ids.push(command.session);
    else if (command.type === 'txn')
      for (const op of [...command.success, ...command.failure]) if (op.op === 'put' && op.session !== undefined) ids.push(op.session);
    const kv = this.host.kv;
    for (const id of ids) {
      const table = kv.machine.sessionTable;
      // Not created here yet: maybe on the leader. Ids are never reused, so once past
      // the read point an id still not created is one nobody owns yet, and an id
      // created and gone is gone for good (the command is answered `no-session`).
      if (id >= table.nextId) await kv.node.read();
      if (id >= kv.machine.sessionTable.nextId) return { type: 'no-session', session: id };
      const session = kv.machine.sessionTable.get(id);
      if (session !== undefined && session.owner !== this.principal.name) throw new PermissionDeniedError(this.principal.name, 'session', `session ${id}`);
    }
    return undefined;
  }

  /**
   * Takes a watch's slot, or refuses it: `watchesMax` are open (or being set up), or one
   * with this id is.
   */
  private openWatch<W extends ServerWatch | ShardedServerWatch>(request: Extract<ClientRequest, { kind: 'watch' | 'watchRanges' }>, make: () => W): W {
    const { watchesMax } = this.host.limits;
    if (this.watches.size >= watchesMax) {
      this.host.metrics.watchesRefused++;
      throw new KvRequestError(request.kind, `at most ${watchesMax} watches per connection`);
    }
    if (this.watches.has(request.id)) {
      this.host.metrics.watchIdsRefused++;
      throw new KvRequestError(request.kind, `watch ${request.id} is already open`);
    }
    this.host.usage.beginWatch(this.principal);
    const watch = make();
    this.watches.set(request.id, watch);
    assert(this.watches.size <= watchesMax, `${this.watches.size} watches open, over watchesMax ${watchesMax}`);
    return watch;
  }

  /** Stops a watch and frees its slot (if it still holds it: its id may be taken again since). */
  private dropWatch(watch: ServerWatch | ShardedServerWatch): void {
    watch.stop();
    if (this.watches.get(watch.id) === watch) {
      this.watches.delete(watch.id);
      this.host.usage.endWatch(this.principal);
    }
  }

  /** A `member` request: the configuration, or a change to it (the leader's; others refuse with the leader). */
  private async member(request: Extract<ClientRequest, { kind: 'member' }>): Promise<ServerFrame> {
    const node = this.host.kv.node;
    const options = request.timeoutMs === 0 ? {} : { timeoutMs: request.timeoutMs };
    const { target } = request;
    switch (request.action) {
      case 'list':
        break;
      case 'transfer':
        await node.transferLeadership(target, options);
        break;
      case 'addObserver':
        await node.changeMembers({ type: 'addObserver', id: target, ...(request.argument === '' ? {} : { address: request.argument }) }, options);
        break;
      case 'replace':
        await node.changeMembers({ type: 'replace', remove: target, add: request.argument }, options);
        break;
      default:
        await node.changeMembers({ type: request.action, id: target }, options);
    }
    const s = node.status();
    if (s.configuration === undefined) throw new KvRequestError('member', 'the node has not started');
    return { kind: 'members', id: request.id, configuration: s.configuration, from: s.configurationFrom };
  }

  /**
   * A `snapshot` request: a copy of the state at a linearizable point, sent in pieces
   * of at most `snapshotChunkBytesMax`, waiting for the socket to drain between them.
   * Answers nothing more (the last piece says it is complete).
   */
  private async sendSnapshot(request: Extract<ClientRequest, { kind: 'snapshot' }>): Promise<undefined> {
    if (this.state === 'closed') return undefined;
    const snapshot = await this.host.kv.node.exportSnapshot(request.timeoutMs === 0 ? {} : { timeoutMs: request.timeoutMs });
    const { slot, data } = snapshot;
    const sha256 = createHash('sha256').update(data).digest();
    this.host.logger.info({ node: this.host.nodeId, client: this.clientId, slot, bytes: data.byteLength }, 'kv server: sending a snapshot to a client');
    for (let offset = 0; offset < data.byteLength; offset += snapshotChunkBytesMax) {
      if ((this.state as string) === 'closed') return undefined;
      this.send({
        kind: 'snapshotChunk',
        id: request.id,
        slot,
        totalBytes: data.byteLength,
        offset,
        sha256,
        data: data.subarray(offset, offset + snapshotChunkBytesMax),
      });
      if (this.socketFull()) await this.whenWritable();
    }
    return undefined;
  }

  /** Resolves once the socket took what it holds (or closed). */
  private whenWritable(): Promise<void> {
    return new Promise((resolve) => {
      if (this.state === 'closed' || !this.socketFull()) return resolve();
      this.socket.once('drain', resolve);
      this.socket.once('close', resolve);
    });
  }

  /** Whether the socket holds more than `socketBytesHigh` the client has not taken yet (and `drain` will say when it has). */
  private socketFull(): boolean {
    return this.socket.writableNeedDrain && this.socket.writableLength >= this.host.limits.socketBytesHigh;
  }

  /** `socketBytesHigh`, or the socket's own high-water mark if higher (`drain` comes only above it). */
  private answerBytesHigh(): number {
    return Math.max(this.host.limits.socketBytesHigh, this.socket.writableHighWaterMark);
  }

  /** Answer bytes outstanding: queued on the socket, and assumed for each request read and not answered yet. */
  private answerBytesOutstanding(): number {
    return this.socket.writableLength + (this.inFlight + this.unsent.length) * answerBytesAssumed;
  }

  private answersFull(): boolean {
    return this.answerBytesOutstanding() >= this.answerBytesHigh();
  }

  /** Stops reading requests: too many in flight, or answers piling up unread. */
  private pauseReading(): void {
    this.loop.pause();
  }

  /**
   * Reads again once half the requests in flight finished and the answers outstanding
   * fell to half of `socketBytesHigh` (or to the socket's high-water mark: below it no
   * `drain` comes to check again); first the frames already buffered.
   */
  private resumeReading(): void {
    if (!this.loop.paused || this.state === 'closed') return;
    if (this.inFlight >= this.host.limits.requestsInFlightMax / 2) return;
    if (this.answerBytesOutstanding() > Math.max(this.answerBytesHigh() / 2, this.socket.writableHighWaterMark)) return;
    this.loop.resume();
  }

  private readonly watchSink: WatchSink = {
    events: (watch, events, through) => this.sendEvents(watch, { kind: 'events', id: watch.id, events, through }),
    whenWritable: () => this.whenWritable(),
    failed: (id, error) => this.watchFailed(id, error),
  };

  private readonly rangeWatchSink: RangeWatchSink = {
    started: (watch, from) => this.send({ kind: 'rangeWatching', id: watch.id, from }),
    events: (watch, group, events, through) => this.sendEvents(watch, { kind: 'rangeEvents', id: watch.id, group, events, through }),
    whenWritable: () => this.whenWritable(),
    failed: (id, error) => this.watchFailed(id, error),
  };

  /** Sends a watch's events, unless its principal may no longer read its range (then it ends); false once the socket is full. */
  private sendEvents(watch: ServerWatch | ShardedServerWatch, frame: Extract<ServerFrame, { kind: 'events' | 'rangeEvents' }>): boolean {
    // A replicated role revoked since the watch began: it ends before it shows more.
    const principal = this.host.access.current(this.principal);
    if (principal === undefined || !principal.readable.covers(watch.range)) {
      this.dropWatch(watch);
      this.host.metrics.permissionDenied++;
      this.send({
        kind: 'error',
        id: watch.id,
        error: errorBodyOf(new PermissionDeniedError(this.principal.name, 'read', 'the watched range (a role changed)')),
      });
      return true;
    }
    this.send(frame);
    return !this.socketFull();
  }

  private watchFailed(id: number, error: Error): void {
    if (this.watches.delete(id)) this.host.usage.endWatch(this.principal);
    this.send({ kind: 'error', id, error: errorBodyOf(error) });
  }

  private finish(answer: ServerFrame | undefined): void {
    if (this.state === 'closed') return;
    this.inFlight--;
    assert(this.inFlight >= 0, `${this.inFlight} requests in flight`);
    if (answer !== undefined) this.unsent.push(answer);
    this.writeAnswers();
    this.resumeReading();
  }

  /**
   * Encodes and writes the answers waiting, while the socket holds less than
   * `socketBytesHigh`: a client that does not read holds at most that much encoded, and
   * one answer more. Above it the socket's `drain` calls again.
   */
  private writeAnswers(): void {
    const high = this.answerBytesHigh();
    let written = 0;
    while (written < this.unsent.length && this.socket.writableLength < high && this.state !== 'closed') this.send(this.unsent[written++]!);
    if (written > 0) this.unsent = this.unsent.slice(written);
  }

  private send(frame: ServerFrame): void {
    if (this.state === 'closed') return;
    // Framed as encoded: the length prefix is written in place, not by copying the frame.
    let bytes: Uint8Array;
    try {
      bytes = frameServerFrame(frame);
    } catch (error) {
      // A result that cannot be encoded (it broke a limit): tell the client rather than leave it waiting.
      if (frame.kind === 'error') throw error;
      bytes = frameServerFrame({ kind: 'error', id: frame.id, error: errorBodyOf(error) });
    }
    // More than a client takes: it would hang up, dial again and ask again, forever.
    const frameBytes = bytes.byteLength - framePrefixBytes;
    if (frameBytes > answerFrameBytesMax && frame.kind !== 'error') {
      const applied = frame.kind === 'result' && frame.result.type === 'txn' && frame.result.results.some((r) => r.op !== 'range');
      bytes = frameServerFrame({ kind: 'error', id: frame.id, error: errorBodyOf(new AnswerTooLargeError(frameBytes, answerFrameBytesMax, applied)) });
    }
    this.sendRaw(bytes);
  }

  /** Writes a frame (with its length prefix); frames written in one turn leave in one system call. */
  private sendRaw(frame: Uint8Array): void {
    if (this.socket.destroyed) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(frame);
  }
}
