/**
 * One client connection speaking ZooKeeper's protocol: the handshake (new session, or
 * an existing one with its password), then requests answered in order (FIFO per
 * session): reads from this replica's tree, writes through consensus, `sync` through
 * the cluster's read point, watch events as the changes apply.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { KvNode } from '../../kv/kv-node.js';
import type { Clock, Logger } from '../../runtime/index.js';
import { CodecError } from '../../encoding/codec-error.js';
import { ZkErrorCode } from '../zk-error-code.js';
import { zkKvCommand, zkResultOf } from '../zk-extension.js';
import { invalidPath } from '../zk-path.js';
import { answerRead } from '../zk-reads.js';
import type { ZkCommand, ZkResult } from '../zk-command.js';
import type { ZkStateMachine } from '../zk-state-machine.js';
import { type ZkAcl, type ZkId, ZkPerm } from '../zk-types.js';
import { aclAllows } from '../zk-acl.js';
import type { ZkWatchEvent, ZkWatchKind, ZkWatchTable } from '../zk-watch-table.js';
import { digestAuthId } from '../zk-digest.js';
import { decodeConnectRequest, encodeConnectResponse } from '../protocol/zk-connect.js';
import { ZkAddWatchMode, ZkWatcherType, ZkXid } from '../protocol/zk-opcode.js';
import { decodeRequest, type ZkRequest, type ZkWatchSet } from '../protocol/zk-request.js';
import { encodeReply, encodeWatchEvent, type ZkResponseBody } from '../protocol/zk-response.js';
import { ZkConnectionStats, operationName } from './zk-connection-stats.js';

/** Limits of one connection. */
export interface ZkConnectionLimits {
  /** Largest request frame, bytes (ZooKeeper's `jute.maxbuffer`). Default `zkLimits.requestBytesMax`. */
  readonly requestBytesMax: number;
  /** Requests read but not yet answered; at it the socket is not read until half are. Default 1,000. */
  readonly queuedRequestsMax: number;
  /** Bytes of requests read but not yet answered; at it the socket is not read until they are. Default 8 MiB. */
  readonly queuedBytesMax: number;
  /** Watches one connection may hold. Default 65,536. */
  readonly watchesMax: number;
  /** A frame must arrive whole within this long of its first byte, ms, or the connection is closed (the handshake's frame included). Default 30,000 ms. */
  readonly frameCompleteMsMax: number;
  /** Bytes waiting in the socket's send buffer beyond which the connection is closed (a client not reading its events). Default 64 MiB. */
  readonly sendBytesMax: number;
}

/** What a connection needs of its server. @internal */
export interface ZkConnectionHost {
  readonly kv: KvNode;
  readonly machine: ZkStateMachine;
  readonly watches: ZkWatchTable<ZkConnection>;
  readonly limits: ZkConnectionLimits;
  readonly logger: Logger;
  /** The server's clock: latency and `lresp` on `now()`, `est` on `wallTime()`. */
  readonly clock: Clock;
  /** Negotiated timeout for a requested one, ms (clamped to the server's min and max). */
  negotiateTimeoutMs(requestedMs: number): number;
  touch(session: number): void;
  /** The connection now serves `session` (a previous one of the same session here is closed). */
  bind(connection: ZkConnection, session: number): void;
  forget(connection: ZkConnection): void;
  /** The answer to a four-letter word (`ruok`, `srvr`, ...); `dirs` reads the disk, so it may come later. */
  fourLetterWord(word: string): string | Promise<string>;
  /** A request was answered `latencyMs` after it was read (the server's latency figures). */
  answered(latencyMs: number): void;
  /**
   * Takes `bytes` (positive) or gives them back (negative) from the server's bound on
   * bytes held for all clients (frames arriving and requests queued); false if taking
   * them would go over it.
   */
  holdBytes(bytes: number): boolean;
  /** Counts a request received and a frame sent. */
  count(kind: 'received' | 'sent'): void;
}

/** The watch kinds a `setWatches` list re-registers. */
const watchSetKinds: readonly [Exclude<keyof ZkWatchSet, 'relativeZxid'>, ZkWatchKind][] = [
  ['data', 'data'],
  ['exist', 'data'],
  ['child', 'child'],
  ['persistent', 'persistent'],
  ['persistentRecursive', 'recursive'],
];

/** @internal */
export class ZkConnection {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private queued = 0;
  private queuedBytes = 0;
  /** Bytes this connection holds in the server's total (`buffered` plus `queuedBytes`). */
  private heldBytes = 0;
  /** Closes the connection if the frame being received is not whole in time. */
  private frameTimer: ReturnType<typeof setTimeout> | undefined;
  private work: Promise<void> = Promise.resolve();
  private state: 'handshake' | 'open' | 'closed' = 'handshake';
  /** The session, once the handshake is done. */
  session: number | undefined;
  /** The client asked to close its session: the close's own answer still goes out when the session ends. */
  closingSession = false;
  private readonly auth: ZkId[];
  readonly remote: string;
  /** What `cons` prints of this connection. */
  readonly stats = new ZkConnectionStats();
  /** When the connection was accepted, wall-clock ms (`cons`'s `est`). */
  readonly establishedAt: number;
  /** The session's negotiated timeout, ms (0 before the handshake). */
  timeoutMs = 0;
  /** The request being answered: what `cons` and the latency figures note when its answer goes out. */
  private answering: { readonly op: string; readonly xid: number; readonly readAtMs: number } | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly host: ZkConnectionHost,
  ) {
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    this.establishedAt = host.clock.wallTime();
    // Every connection holds its address as an `ip` id (ZooKeeper's IP authentication).
    this.auth = [{ scheme: 'ip', id: (socket.remoteAddress ?? '').replace(/^::ffff:/, '') }];
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => this.close('socket error'));
    socket.on('close', () => this.close('closed by the client'));
    // The connect request is a frame like the others: it too must arrive in time.
    this.armFrameTimer();
  }

  get isOpen(): boolean {
    return this.state !== 'closed';
  }

  /** Whether the socket is being read (`cons` prints `[1]`; `[0]` when paused for a full queue, or closing). */
  get reading(): boolean {
    return this.state !== 'closed' && !this.socket.isPaused();
  }

  /** Requests read and not yet answered (`cons`'s `queued`, the server's `Outstanding`). */
  get outstanding(): number {
    return this.queued;
  }

  /**
   * Closes the connection gracefully (idempotent): what was written still goes out,
   * then the socket ends; a client that does not read it is cut off a second later.
   * The session lives on until it expires or is closed.
   */
  close(why: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.frameTimer !== undefined) clearTimeout(this.frameTimer);
    this.host.logger.debug({ remote: this.remote, session: this.session, why }, 'zk: connection closed');
    this.host.watches.removeWatcher(this);
    this.host.holdBytes(-this.heldBytes);
    this.heldBytes = 0;
    this.host.forget(this);
    // What was written (a last answer, a refused handshake) still goes out; a client that does not read it is cut off.
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1_000).unref();
  }

  /** Whether the ids this connection holds now give READ in `acl` (a watch event's delivery is checked so). */
  mayRead(acl: readonly ZkAcl[]): boolean {
    return aclAllows(acl, ZkPerm.read, this.auth);
  }

  /** Sends watch events (called as changes apply, before any later answer). */
  deliver(events: readonly ZkWatchEvent[], zxid: number): void {
    for (const e of events) this.send(encodeWatchEvent(e.type, e.path, zxid));
  }

  private send(content: Uint8Array): void {
    if (this.state === 'closed') return;
    const frame = Buffer.allocUnsafe(4 + content.byteLength);
    frame.writeInt32BE(content.byteLength, 0);
    frame.set(content, 4);
    this.socket.write(frame);
    this.stats.sent++;
    this.host.count('sent');
    if (this.socket.writableLength > this.host.limits.sendBytesMax) {
      this.host.logger.warn({ remote: this.remote, bytes: this.socket.writableLength }, 'zk: client not reading its answers; closing');
      this.close('send buffer over sendBytesMax');
    }
  }

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    if (
      this.state === 'handshake' &&
      this.stats.received === 0 &&
      this.buffered === 0 &&
      this.chunks.length === 0 &&
      chunk.byteLength >= 4 &&
      isFourLetterWord(chunk)
    ) {
      this.fourLetterWord(chunk.subarray(0, 4).toString('latin1'));
      return;
    }
    if (!this.host.holdBytes(chunk.byteLength)) {
      this.host.logger.warn(
        { remote: this.remote, bytes: chunk.byteLength },
        'zk: the bytes held for all clients would go over bufferedBytesMax; closing this connection',
      );
      return this.close('over bufferedBytesMax');
    }
    this.heldBytes += chunk.byteLength;
    this.chunks.push(chunk);
    this.buffered += chunk.byteLength;
    while (this.buffered >= 4 && this.isOpen) {
      const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
      this.chunks = [all];
      const length = all.readInt32BE(0);
      if (length < 0 || length > this.host.limits.requestBytesMax) {
        this.host.logger.warn({ remote: this.remote, length }, 'zk: request frame over jute.maxbuffer or negative; closing');
        this.close(`frame of ${length} bytes`);
        return;
      }
      if (this.buffered < 4 + length) break;
      const frame = new Uint8Array(all.subarray(4, 4 + length));
      const rest = all.subarray(4 + length);
      this.chunks = rest.byteLength === 0 ? [] : [rest];
      // The frame's length prefix is given back; its content stays held until it is answered.
      this.buffered = rest.byteLength;
      this.release(4);
      this.stats.received++;
      this.host.count('received');
      this.enqueue(frame, this.host.clock.now());
    }
    if (this.buffered === 0) this.disarmFrameTimer();
    else this.armFrameTimer();
  }

  /** Requests run one at a time, in order: a session's reads see its writes (FIFO). */
  private enqueue(frame: Uint8Array, readAtMs: number): void {
    this.queued++;
    this.queuedBytes += frame.byteLength;
    if (this.queued >= this.host.limits.queuedRequestsMax || this.queuedBytes >= this.host.limits.queuedBytesMax) this.socket.pause();
    this.work = this.work
      .then(() => (this.state === 'closed' ? undefined : this.state === 'handshake' ? this.handshake(frame, readAtMs) : this.request(frame, readAtMs)))
      .catch((error: unknown) => {
        if (error instanceof CodecError) this.host.logger.warn({ remote: this.remote, error: error.message }, 'zk: malformed request; closing');
        else this.host.logger.warn({ remote: this.remote, error }, 'zk: request failed; closing');
        this.close(error instanceof Error ? error.message : String(error));
      })
      .finally(() => {
        this.queued--;
        this.queuedBytes -= frame.byteLength;
        this.release(frame.byteLength);
        if (
          this.state !== 'closed' &&
          this.socket.isPaused() &&
          this.queued <= this.host.limits.queuedRequestsMax / 2 &&
          this.queuedBytes < this.host.limits.queuedBytesMax / 2
        )
          this.socket.resume();
      });
  }

  private armFrameTimer(): void {
    if (this.frameTimer !== undefined || !this.isOpen) return;
    this.frameTimer = setTimeout(() => {
      this.host.logger.warn(
        { remote: this.remote, frameCompleteMsMax: this.host.limits.frameCompleteMsMax },
        'zk: a frame did not arrive whole in time; closing',
      );
      this.close('frame not whole within frameCompleteMsMax');
    }, this.host.limits.frameCompleteMsMax);
    this.frameTimer.unref();
  }

  private disarmFrameTimer(): void {
    if (this.frameTimer === undefined) return;
    clearTimeout(this.frameTimer);
    this.frameTimer = undefined;
  }

  /** Gives back bytes held in the server's total. */
  private release(bytes: number): void {
    if (this.state === 'closed') return;
    this.heldBytes -= bytes;
    this.host.holdBytes(-bytes);
  }

  private propose(command: ZkCommand): Promise<ZkResult> {
    return this.host.kv.node.propose(zkKvCommand(command)).then(zkResultOf);
  }

  private async handshake(frame: Uint8Array, readAtMs: number): Promise<void> {
    const connect = decodeConnectRequest(frame);
    const machine = this.host.machine;
    if (connect.lastZxidSeen > machine.zxid) {
      // This replica is behind what the client saw: catch up to the read point, or refuse.
      await this.host.kv.node.read();
      if (connect.lastZxidSeen > machine.zxid) {
        this.host.logger.warn(
          { remote: this.remote, clientZxid: connect.lastZxidSeen, zxid: machine.zxid },
          'zk: client has seen a later zxid than this member; refusing',
        );
        return this.close('client ahead of this replica');
      }
    }
    const expired = () => {
      this.send(encodeConnectResponse({ protocolVersion: 0, timeoutMs: 0, sessionId: 0, password: new Uint8Array(16), readOnly: false }));
      this.close('session expired or password refused');
    };
    let session: { id: number; password: Uint8Array; ttlMs: number };
    if (connect.sessionId === 0) {
      const opened = await this.propose({
        type: 'session-create',
        password: new Uint8Array(randomBytes(16)),
        ttlMs: this.host.negotiateTimeoutMs(connect.timeoutMs),
      });
      if (opened.type !== 'session') {
        this.host.logger.warn({ remote: this.remote, result: opened.type }, 'zk: session refused');
        return this.close(`session refused: ${opened.type === 'invalid' ? opened.reason : opened.type}`);
      }
      session = { id: opened.session, password: opened.password, ttlMs: opened.ttlMs };
    } else {
      // A session opened through another member may not have reached this replica yet.
      if (machine.sessions.get(connect.sessionId) === undefined) await this.host.kv.node.read();
      const known = machine.sessions.get(connect.sessionId);
      if (known === undefined) {
        this.host.logger.warn(
          { remote: this.remote, session: connect.sessionId, zxid: machine.zxid, clientZxid: connect.lastZxidSeen },
          'zk: a client came back with a session this member does not know (expired, or never opened); refusing',
        );
        return expired();
      }
      if (!samePassword(known.password, connect.password)) {
        this.host.logger.warn({ remote: this.remote, session: connect.sessionId }, 'zk: wrong session password; refusing');
        return expired();
      }
      session = known;
    }
    if (!this.isOpen) return;
    this.session = session.id;
    this.timeoutMs = session.ttlMs;
    this.state = 'open';
    this.host.bind(this, session.id);
    this.host.touch(session.id);
    // ZooKeeper counts the handshake as a request answered (`SESS`); its xid is not the client's to see.
    this.answering = { op: 'SESS', xid: -1, readAtMs };
    this.noteAnswer(machine.zxid);
    this.send(encodeConnectResponse({ protocolVersion: 0, timeoutMs: session.ttlMs, sessionId: session.id, password: session.password, readOnly: false }));
  }

  private reply(xid: number, err: number, body?: ZkResponseBody): void {
    this.answer(xid, this.host.machine.zxid, err, body);
  }

  /** Sends the answer to the request being answered, noting it in the connection's and the server's figures. */
  private answer(xid: number, zxid: number, err: number, body?: ZkResponseBody): void {
    this.noteAnswer(zxid);
    this.send(encodeReply(xid, zxid, err, body));
  }

  private noteAnswer(zxid: number): void {
    const answering = this.answering;
    if (answering === undefined || this.state === 'closed') return;
    this.answering = undefined;
    const now = this.host.clock.now();
    this.stats.answered(answering.op, answering.xid, zxid, answering.readAtMs, now);
    this.host.answered(now - answering.readAtMs);
  }

  private async request(frame: Uint8Array, readAtMs: number): Promise<void> {
    const { xid, request } = decodeRequest(frame);
    // As ZooKeeper, an auth packet is answered outside the request pipeline: not in the figures.
    this.answering = request.type === 'auth' ? undefined : { op: operationName(request), xid, readAtMs };
    const session = this.session!;
    this.host.touch(session);
    // An answer from a session that ended (here or elsewhere): tell the client, then close.
    if (this.host.machine.sessions.get(session) === undefined) {
      this.host.logger.info({ remote: this.remote, session }, 'zk: a request of a session that ended; telling its client');
      this.reply(xid, ZkErrorCode.sessionExpired);
      return this.close('session expired');
    }
    switch (request.type) {
      case 'ping':
        return this.reply(ZkXid.ping, 0);
      case 'closeSession': {
        this.closingSession = true;
        await this.propose({ type: 'session-close', session });
        // As ZooKeeper: the answer, then the end of the connection at once (not left for the client to close).
        this.reply(xid, 0);
        return this.close('session closed');
      }
      case 'auth':
        return this.addAuth(request);
      case 'setWatches':
        return this.setWatches(xid, request.watches);
      case 'sync': {
        if (invalidPath(request.path) !== undefined) return this.reply(xid, ZkErrorCode.badArguments);
        await this.host.kv.node.read();
        return this.reply(xid, 0, { type: 'path', path: request.path });
      }
      case 'addWatch': {
        if (invalidPath(request.path) !== undefined) return this.reply(xid, ZkErrorCode.badArguments);
        if (request.mode !== ZkAddWatchMode.persistent && request.mode !== ZkAddWatchMode.persistentRecursive) return this.reply(xid, ZkErrorCode.badArguments);
        if (!this.watch(request.mode === ZkAddWatchMode.persistent ? 'persistent' : 'recursive', request.path)) return this.reply(xid, ZkErrorCode.systemError);
        // ZooKeeper answers addWatch with an ErrorResponse record (err 0); its Java client reads it.
        return this.reply(xid, 0, { type: 'number', n: 0 });
      }
      case 'removeWatches':
      case 'checkWatches':
        return this.removeWatches(xid, request);
      case 'write': {
        const result = await this.propose({ type: 'write', session, auth: this.auth, request: request.request });
        if (result.type === 'no-session') {
          this.reply(xid, ZkErrorCode.sessionExpired);
          return this.close('session expired');
        }
        if (result.type === 'invalid') return this.answer(xid, result.zxid, ZkErrorCode.badArguments);
        if (result.type !== 'written') throw new Error(`zk: a write answered ${result.type}`);
        const err = result.result.op === 'error' ? result.result.err : 0;
        return this.answer(xid, result.zxid, err, { type: 'write', result: result.result });
      }
      case 'unknown':
        this.host.logger.warn({ remote: this.remote, opcode: request.opcode }, 'zk: unknown opcode');
        return this.reply(xid, ZkErrorCode.unimplemented);
      default: {
        const answer = answerRead(this.host.machine, request, session, this.auth);
        if (answer.watch !== undefined && !this.watch(answer.watch.kind, answer.watch.path)) return this.reply(xid, ZkErrorCode.systemError);
        return this.reply(xid, answer.err, answer.body);
      }
    }
  }

  /** Registers a watch; false if the connection holds `watchesMax` already. */
  private watch(kind: ZkWatchKind, path: string): boolean {
    if (this.host.watches.count(this) >= this.host.limits.watchesMax && !this.host.watches.has(kind, path, this)) {
      this.host.logger.warn({ remote: this.remote, watchesMax: this.host.limits.watchesMax }, 'zk: connection at its watch limit');
      return false;
    }
    this.host.watches.add(kind, path, this);
    return true;
  }

  private addAuth(request: Extract<ZkRequest, { type: 'auth' }>): void {
    const text = new TextDecoder().decode(request.auth);
    const at = text.indexOf(':');
    if (request.scheme !== 'digest' || at < 0) {
      this.host.logger.warn({ remote: this.remote, scheme: request.scheme }, 'zk: authentication refused');
      this.reply(ZkXid.auth, ZkErrorCode.authFailed);
      return this.close('authentication failed');
    }
    const id = digestAuthId(text.slice(0, at), text.slice(at + 1));
    if (!this.auth.some((a) => a.scheme === id.scheme && a.id === id.id)) this.auth.push(id);
    this.reply(ZkXid.auth, 0);
  }

  /**
   * Re-registers a reconnected client's watches; one whose change the client missed
   * (after `relativeZxid`) fires at once instead, so nothing is lost across servers.
   */
  private setWatches(xid: number, set: ZkWatchSet): void {
    const tree = this.host.machine.tree;
    const zxid = this.host.machine.zxid;
    const fire: ZkWatchEvent[] = [];
    for (const [list, kind] of watchSetKinds) {
      for (const path of set[list]) {
        if (invalidPath(path) !== undefined) continue;
        const node = tree.get(path);
        if (list === 'data' && node === undefined) fire.push({ type: 2, path });
        else if (list === 'data' && node!.mzxid > set.relativeZxid) fire.push({ type: 3, path });
        else if (list === 'exist' && node !== undefined) fire.push({ type: 1, path });
        else if (list === 'child' && node === undefined) fire.push({ type: 2, path });
        else if (list === 'child' && node!.pzxid > set.relativeZxid) fire.push({ type: 4, path });
        else this.watch(kind, path);
      }
    }
    this.reply(xid, 0);
    this.deliver(fire, zxid);
  }

  private removeWatches(xid: number, request: Extract<ZkRequest, { type: 'removeWatches' | 'checkWatches' }>): void {
    const kinds: ZkWatchKind[] =
      request.watcherType === ZkWatcherType.children
        ? ['child']
        : request.watcherType === ZkWatcherType.data
          ? ['data']
          : request.watcherType === ZkWatcherType.any
            ? ['data', 'child', 'persistent', 'recursive']
            : [];
    if (kinds.length === 0) return this.reply(xid, ZkErrorCode.badArguments);
    const held = kinds.filter((k) => this.host.watches.has(k, request.path, this));
    if (held.length === 0) return this.reply(xid, ZkErrorCode.noWatcher);
    if (request.type === 'removeWatches') for (const k of held) this.host.watches.remove(k, request.path, this);
    this.reply(xid, 0);
  }

  private fourLetterWord(word: string): void {
    // As ZooKeeper, the word is a packet received, on a connection `stat` and `cons` list.
    this.stats.received++;
    this.host.count('received');
    this.state = 'closed';
    const answer = this.host.fourLetterWord(word);
    this.host.forget(this);
    if (typeof answer === 'string') return void this.socket.end(answer);
    answer.then(
      (text) => this.socket.end(text),
      (error: unknown) => {
        this.host.logger.warn({ remote: this.remote, word, error }, 'zk: a four-letter word failed');
        this.socket.destroy();
      },
    );
  }
}

function samePassword(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let diff = 0;
  for (let i = 0; i < a.byteLength; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

const fourLetterWords = new Set([
  'ruok',
  'srvr',
  'stat',
  'mntr',
  'conf',
  'isro',
  'envi',
  'wchs',
  'wchc',
  'wchp',
  'cons',
  'crst',
  'srst',
  'dump',
  'dirs',
  'gtmk',
  'stmk',
  'hash',
]);

function isFourLetterWord(chunk: Buffer): boolean {
  return fourLetterWords.has(chunk.subarray(0, 4).toString('latin1'));
}
