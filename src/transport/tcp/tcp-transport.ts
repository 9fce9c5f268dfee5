import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import {
  connect as tlsConnect,
  createSecureContext,
  createServer as createTlsServer,
  type PeerCertificate,
  type SecureContext,
  type Server as TlsServer,
  type TLSSocket,
} from 'node:tls';
import type { NodeId } from '../../core/index.js';
import { SynodError } from '../../core/index.js';
import type { NodeMessage, Transport, TransportHandlers } from '../../runtime/index.js';
import { certificateNamesNode } from './certificate-names.js';
import { Connection, type ConnectionHost } from './connection.js';
import { type LinkHost, PeerLink } from './peer-link.js';
import { checkPeer, resolveTcpOptions, type ResolvedTcpOptions, type TcpAddress, type TcpTransportOptions } from './tcp-options.js';
import { newTcpCounters, type TcpCounters, type TcpPeerStats, type TcpTransportStats } from './tcp-stats.js';

/** The transport could not start (its port is taken, say), or was used out of turn. */
export class TransportError extends SynodError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TRANSPORT', message, options);
  }
}

/**
 * A {@link Transport} over TCP, or TLS 1.3, between the nodes of one cluster.
 *
 * - **One connection per pair of nodes.** The node whose id sorts first (JavaScript
 *   string order) dials; the other accepts, and refuses a dial from a node whose id
 *   sorts after its own. The dialer redials with exponential backoff and jitter. The
 *   other side dials too after an idle timeout without a connection, in case the
 *   peer does not know it yet (a member that missed the configuration adding it).
 * - **Authenticated.** A handshake carries the cluster id, both node ids and the
 *   protocol version, then both ends prove the shared `secret` (HMAC-SHA256 over fresh
 *   nonces) and/or present certificates naming their node ids (mutual TLS). Nothing
 *   else is taken: not other clusters, not a message whose `from` is not the
 *   authenticated peer, and ids not in `peers` only up to `unknownPeersMax` (members
 *   this node has not learned of yet).
 * - **Hostile bytes stay out.** Frames are length-prefixed and decoded by the codec;
 *   a bad frame is dropped and counted, and a connection that sends `badFramesMax`
 *   of them is closed. A connection has `handshakeTimeoutMs` to authenticate, and at
 *   most `handshakesMax` may be trying at once.
 * - **Bounded.** Messages sent during one turn of the event loop leave in one write;
 *   a peer that is slow or gone holds at most `queueBytesMax` bytes and
 *   `queueMessagesMax` messages, and more are dropped and counted (Paxos retries what
 *   matters).
 * - **Reachability.** The node hears `peerUnreachable` when a connection to a peer
 *   is lost (or the first dial fails) and `peerReachable` when one is up again.
 *
 * @example
 * ```ts
 * import { createNode } from 'synod';
 * import { FileStorage } from 'synod/file-storage';
 * import { TcpTransport } from 'synod/tcp-transport';
 *
 * const transport = new TcpTransport({
 *   id: 'a',
 *   clusterId: 'orders',
 *   listen: { host: '10.0.0.1', port: 7000 },
 *   peers: { b: { host: '10.0.0.2', port: 7000 }, c: { host: '10.0.0.3', port: 7000 } },
 *   secret: process.env.SYNOD_SECRET, // or tls: { ca, cert, key }
 * });
 * const node = createNode({ id: 'a', members: ['a', 'b', 'c'], transport, storage, stateMachine });
 * await node.start();
 * ```
 */
export class TcpTransport implements Transport {
  private readonly o: ResolvedTcpOptions;
  private readonly counters: TcpCounters = newTcpCounters();
  private readonly links = new Map<NodeId, PeerLink>();
  /** Inbound connections in the synod handshake. */
  private readonly handshaking = new Set<Connection>();
  /**
   * Every inbound connection in a handshake (TLS or synod), by remote address and port:
   * whether it came from a host a peer listens on (see `peerHandshakesMax`).
   */
  private readonly admitted = new Map<string, boolean>();
  /** Inbound sockets still in their TLS handshake, by remote address and port. */
  private readonly tlsHandshaking = new Map<string, { socket: Socket; timer: ReturnType<typeof setTimeout> }>();
  private readonly secureContext: SecureContext | undefined;
  /**
   * Never listens: accepted sockets are handed to it (its documented 'connection'
   * injection) so that Node checks client certificates, while this transport keeps
   * counting and timing every connection itself.
   */
  private readonly tlsServer: TlsServer | undefined;
  private handlers: TransportHandlers | undefined;
  /** Peers cut off by {@link blockPeers}. */
  private blocked: ReadonlySet<NodeId> = new Set();
  private server: Server | undefined;
  private state: 'new' | 'starting' | 'started' | 'closed' = 'new';
  private readonly connectionHost: ConnectionHost;
  private readonly linkHost: LinkHost;

  /** @throws {@link ConfigError} for an invalid option, naming it. */
  constructor(options: TcpTransportOptions) {
    this.o = resolveTcpOptions(options);
    const tls = this.o.tls;
    if (tls !== undefined) {
      const contextOptions = {
        ca: tls.ca as string | string[],
        cert: tls.cert as string,
        key: tls.key as string,
        passphrase: tls.passphrase,
        minVersion: 'TLSv1.3' as const,
      };
      this.secureContext = createSecureContext(contextOptions);
      this.tlsServer = createTlsServer({ ...contextOptions, requestCert: true, rejectUnauthorized: true, handshakeTimeout: this.o.handshakeTimeoutMs });
      this.tlsServer.on('secureConnection', (socket) => this.onSecureIncoming(socket));
      this.tlsServer.on('tlsClientError', (error, socket) => {
        this.counters.handshakesFailed++;
        this.o.logger.warn({ node: this.o.id, remote: remoteOf(socket), reason: error.message }, 'tcp: TLS handshake failed');
      });
    }
    this.connectionHost = {
      options: this.o,
      counters: this.counters,
      tls: this.secureContext !== undefined,
      refusal: (peer) => this.refusal(peer),
      established: (connection) => this.onEstablished(connection),
      deliver: (_connection, message) => this.deliver(message),
      ended: (connection) => this.onEnded(connection),
    };
    this.linkHost = {
      options: this.o,
      counters: this.counters,
      dial: (peer, address) => this.dial(peer, address),
      reach: (peer, reachable) => this.reach(peer, reachable),
    };
    for (const [peer, address] of Object.entries(this.o.peers)) this.links.set(peer, this.newLink(peer, address));
  }

  /**
   * Listens, then dials the peers this node dials.
   * @throws {@link TransportError} if it cannot listen (the port is taken) or was started before.
   */
  async start(handlers: TransportHandlers): Promise<void> {
    if (this.state !== 'new') throw new TransportError(`TcpTransport ${this.o.id}: start() called on a transport that is ${this.state}`);
    this.state = 'starting';
    this.handlers = handlers;
    const server = createServer({ noDelay: true }, (socket) => this.onIncoming(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      const failed = (error: Error): void =>
        reject(
          new TransportError(`TcpTransport ${this.o.id}: cannot listen on ${this.o.listen.host}:${this.o.listen.port}: ${error.message}`, { cause: error }),
        );
      server.once('error', failed);
      server.listen({ host: this.o.listen.host, port: this.o.listen.port }, () => {
        server.off('error', failed);
        resolve();
      });
    }).catch((error: unknown) => {
      this.state = 'closed';
      throw error;
    });
    server.on('error', (error) => this.o.logger.error({ node: this.o.id, error }, 'tcp: server error'));
    if (this.state !== 'starting') return; // closed while listening
    this.state = 'started';
    for (const link of this.links.values()) link.start();
  }

  /**
   * Fault injection for tests (a nemesis): from now on, drops every message to or from
   * these peers, as a network partition would, and counts them in `messagesBlocked`.
   * Connections stay up, so it is the silent kind of partition. `blockPeers([])` heals.
   *
   * @example
   * ```ts
   * transport.blockPeers(['b', 'c']); // this node hears nothing from b and c, and they nothing from it
   * transport.blockPeers([]);         // healed
   * ```
   */
  blockPeers(peers: Iterable<NodeId>): void {
    this.blocked = new Set(peers);
  }

  /** Queues `message` for `message.to`; drops and counts it if it cannot be sent. Never throws. */
  send(message: NodeMessage): void {
    if (this.blocked.size > 0 && this.blocked.has(message.to)) {
      this.counters.messagesBlocked++;
      return;
    }
    const link = this.state === 'started' ? this.links.get(message.to) : undefined;
    if (link === undefined) {
      this.counters.messagesDropped++;
      return;
    }
    link.send(message);
  }

  /** Closes every connection and stops listening; resolves once no handler will be called again. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    for (const link of this.links.values()) link.close();
    for (const connection of [...this.handshaking]) connection.close('the transport closed');
    for (const { socket, timer } of this.tlsHandshaking.values()) {
      clearTimeout(timer);
      socket.destroy();
    }
    this.tlsHandshaking.clear();
    const server = this.server;
    if (server?.listening === true) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Where this transport listens (the port chosen, if `listen.port` was 0). Once started. */
  address(): TcpAddress {
    const a = this.server?.address();
    if (a === undefined || a === null || typeof a === 'string') throw new TransportError(`TcpTransport ${this.o.id}: not listening`);
    return { host: a.address, port: a.port };
  }

  /** Counts of what this transport has done. */
  get stats(): TcpTransportStats {
    return { ...this.counters, logLinesSuppressed: this.o.logger.suppressed };
  }

  /** What went to and came from each peer this transport knows now (a peer forgotten takes its counts along). */
  peerStats(): Record<NodeId, TcpPeerStats> {
    const stats: Record<NodeId, TcpPeerStats> = {};
    for (const [peer, link] of this.links) stats[peer] = { ...link.counts };
    return stats;
  }

  /** Ids of the peers with an authenticated connection open now. */
  connectedPeers(): NodeId[] {
    return [...this.links.values()].filter((l) => l.connected).map((l) => l.peer);
  }

  /**
   * Adds a peer, or moves a known one to a new address (its connection is dropped and
   * made again). For membership changes.
   * @throws {@link ConfigError} for an invalid address or id.
   */
  setPeer(peer: NodeId, address: TcpAddress): void {
    checkPeer(this.o.id, peer, address, this.o.idBytesMax);
    const link = this.links.get(peer);
    if (link !== undefined) {
      link.moveTo(address);
      return;
    }
    const added = this.newLink(peer, address);
    this.links.set(peer, added);
    if (this.state === 'started') added.start();
  }

  /** Forgets a peer: its connection is closed, its queue dropped, its dials refused. */
  removePeer(peer: NodeId): void {
    this.links.get(peer)?.close();
    this.links.delete(peer);
  }

  private newLink(peer: NodeId, address: TcpAddress | undefined): PeerLink {
    return new PeerLink(peer, address, this.o.id < peer, this.linkHost);
  }

  private onIncoming(socket: Socket): void {
    const remote = remoteOf(socket);
    // Members' connections are counted apart from everyone else's: a flood from other
    // hosts fills its own budget, not theirs.
    const fromPeerHost = this.peerHosts().has(plainHost(socket.remoteAddress));
    let trying = 0;
    for (const peerHost of this.admitted.values()) if (peerHost === fromPeerHost) trying++;
    const max = fromPeerHost ? this.o.peerHandshakesMax : this.o.handshakesMax;
    if (this.state !== 'started' || trying >= max) {
      if (this.state === 'started') {
        this.counters.handshakesFailed++;
        this.counters.handshakesRefusedForLoad++;
        this.o.logger.warn({ node: this.o.id, remote, handshaking: trying, fromPeerHost }, 'tcp: too many connections in their handshake; closed a new one');
      }
      socket.destroy();
      return;
    }
    this.admitted.set(remote, fromPeerHost);
    socket.once('close', () => this.admitted.delete(remote));
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    if (this.tlsServer === undefined) {
      this.handshaking.add(new Connection(this.connectionHost, socket, 'acceptor', remote));
      return;
    }
    const timer = setTimeout(() => socket.destroy(), this.o.handshakeTimeoutMs);
    timer.unref();
    this.tlsHandshaking.set(remote, { socket, timer });
    socket.once('close', () => {
      if (this.tlsHandshaking.get(remote)?.socket !== socket) return;
      clearTimeout(timer);
      this.tlsHandshaking.delete(remote);
    });
    this.tlsServer.emit('connection', socket);
  }

  /** An inbound socket finished TLS with a certificate our CA signed: now the synod handshake. */
  private onSecureIncoming(socket: TLSSocket): void {
    const remote = remoteOf(socket);
    const pending = this.tlsHandshaking.get(remote);
    if (pending !== undefined) {
      clearTimeout(pending.timer);
      this.tlsHandshaking.delete(remote);
    }
    if (this.state !== 'started') {
      socket.destroy();
      return;
    }
    this.handshaking.add(new Connection(this.connectionHost, socket, 'acceptor', remote));
  }

  private dial(peer: NodeId, address: TcpAddress): Connection {
    const remote = `${address.host}:${address.port}`;
    let socket: Socket;
    if (this.secureContext === undefined) {
      socket = netConnect({ host: address.host, port: address.port, noDelay: true });
    } else {
      socket = tlsConnect({
        host: address.host,
        port: address.port,
        secureContext: this.secureContext,
        rejectUnauthorized: true,
        // The peer must be the node we dial: its certificate names it, whatever its host name.
        checkServerIdentity: (_host: string, cert: PeerCertificate) =>
          certificateNamesNode(cert, peer) ? undefined : new Error(`the certificate at ${remote} does not name ${peer}`),
      });
    }
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    return new Connection(this.connectionHost, socket, 'dialer', remote, peer);
  }

  private refusal(peer: NodeId): string | undefined {
    const link = this.links.get(peer);
    if (link === undefined) return this.unknownPeerRoom() ? undefined : `unknown node id ${JSON.stringify(peer)}`;
    if (link.dials) return `${this.o.id} dials ${peer}, not the other way round`;
    return undefined;
  }

  /** The hosts the known peers listen on, as plain IP addresses. */
  private peerHosts(): Set<string> {
    const hosts = new Set<string>();
    for (const link of this.links.values()) {
      const host = link.listenHost;
      if (host !== undefined) hosts.add(plainHost(host));
    }
    return hosts;
  }

  /** Whether one more unknown peer may connect (see `unknownPeersMax`). */
  private unknownPeerRoom(): boolean {
    let unknown = 0;
    for (const link of this.links.values()) if (!link.known) unknown++;
    return unknown < this.o.unknownPeersMax;
  }

  private onEstablished(connection: Connection): void {
    this.handshaking.delete(connection);
    this.admitted.delete(connection.remote);
    const peer = connection.peer;
    let link = peer === undefined ? undefined : this.links.get(peer);
    if (this.state === 'started' && link === undefined && peer !== undefined && connection.role === 'acceptor' && this.unknownPeerRoom()) {
      // An authenticated member no configuration here names yet: answered over its connection.
      link = this.newLink(peer, undefined);
      this.links.set(peer, link);
      this.o.logger.info({ node: this.o.id, peer, remote: connection.remote }, 'tcp: took a connection from a node not known yet');
    }
    if (this.state !== 'started' || link === undefined) {
      connection.close('the peer is no longer known');
      return;
    }
    link.attach(connection);
  }

  private onEnded(connection: Connection): void {
    this.handshaking.delete(connection);
    const peer = connection.peer;
    const link = peer === undefined ? undefined : this.links.get(peer);
    if (link === undefined) return;
    link.detach(connection);
    // An unknown peer cannot be dialed back: forget it until it dials again.
    if (!link.known && !link.connected) {
      link.close();
      this.links.delete(peer!);
    }
  }

  private deliver(message: NodeMessage): void {
    if (this.state !== 'started') return;
    if (this.blocked.size > 0 && this.blocked.has(message.from)) {
      this.counters.messagesBlocked++;
      return;
    }
    this.counters.messagesDelivered++;
    this.handlers!.deliver(message);
  }

  private reach(peer: NodeId, reachable: boolean): void {
    if (this.state !== 'started') return;
    if (reachable) this.handlers!.peerReachable(peer);
    else this.handlers!.peerUnreachable(peer);
  }
}

/** An IP address as written in `peers`: an IPv4 address seen through an IPv6 socket loses its `::ffff:` prefix. */
function plainHost(address: string | undefined): string {
  const a = (address ?? '').toLowerCase();
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

function remoteOf(socket: Socket): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
}
