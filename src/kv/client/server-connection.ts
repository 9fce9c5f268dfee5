/**
 * One connection of a {@link KvClient} to one server: the TCP (or TLS) socket, the
 * shared handshake (the server speaks first and proves the secret too) and the shared
 * frame loop; then whole answer frames handed to the client. Node-only (node:net,
 * node:tls). What the connection is for (requests, watches, redials) is the client's.
 */
import { type Socket, connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { FrameLoop } from '../../connection/frame-loop.js';
import { Handshake, type HandshakeError } from '../../connection/handshake.js';
import { newNonce } from '../../connection/proof.js';
import type { TcpAddress, TcpTlsOptions } from '../../transport/tcp/index.js';
import { authenticationRefusal, clientWire } from '../protocol/client-handshake.js';
import { kvClientLimits } from './kv-client-limits.js';

/** Who the client is, and how it connects. @internal */
export interface ServerConnectionSettings {
  readonly clusterId: string;
  readonly clientId: string;
  readonly user: string | undefined;
  /** The secret proved (the shared client secret or the user's); undefined under TLS. */
  readonly secret: Uint8Array | undefined;
  readonly tls: TcpTlsOptions | undefined;
  readonly serverName: string | undefined;
  /** The attempt's whole time (the connection, then the handshake), in ms. */
  readonly connectTimeoutMs: number;
}

/** What a connection reports to its client. @internal */
export interface ServerConnectionHost {
  /** A chunk of bytes arrived (the client times silent connections by them). */
  received(): void;
  /** The handshake succeeded: requests may be written. */
  opened(connection: ServerConnection): void;
  /** One answer frame (without its prefix). */
  frame(bytes: Uint8Array): void;
  /** Why this attempt failed, as `host:port: why`, for the errors of requests that wait in vain. */
  failed(why: string): void;
  /** The server refused this client, or it the server, for a reason asking again cannot cure (the secret, the cluster). */
  refused(why: string): void;
  /** The socket closed (called once). */
  closed(connection: ServerConnection): void;
}

/** @internal */
export class ServerConnection {
  readonly socket: Socket;
  private open = false;
  /** Whether this attempt's failure was recorded (by `fail` or a socket error). */
  private failed = false;
  private readonly where: string;
  private readonly loop: FrameLoop;
  private readonly handshake: Handshake<undefined>;

  constructor(
    address: TcpAddress,
    private readonly settings: ServerConnectionSettings,
    private readonly host: ServerConnectionHost,
  ) {
    this.where = `${address.host}:${address.port}`;
    const socket = connectTo(address, settings);
    this.socket = socket;
    socket.setNoDelay(true);
    const secret = settings.secret;
    // Under TLS (no secret) the server's certificate proved it: its proof is not checked.
    this.handshake = new Handshake({
      wire: clientWire,
      side: 'second',
      cluster: settings.clusterId,
      id: settings.clientId,
      user: settings.user,
      nonce: newNonce(),
      vet: () => ({ accepted: secret === undefined ? undefined : [secret], prove: secret, grant: undefined }),
    });
    this.loop = new FrameLoop(
      socket,
      {
        onFrame: (bytes, start, end) => this.onFrame(bytes.subarray(start, end)),
        onFailure: (error) => this.fail(error.failure === 'handshake-timeout' ? 'connect timed out' : error.message),
      },
      {
        handshakeFrameBytesMax: kvClientLimits.handshakeFrameBytesMax,
        handshakeTimeoutMs: settings.connectTimeoutMs,
        frameBytesMax: kvClientLimits.answerFrameBytesMax,
      },
    );
    socket.on('data', (chunk: Buffer) => {
      host.received();
      this.loop.received(chunk);
    });
    socket.on('error', (error) => {
      this.failed = true;
      host.failed(`${this.where}: ${error.message}`);
    });
    socket.on('close', () => {
      this.loop.stop();
      // Hung up on without a word: under TLS 1.3 that is how a server refuses this client's certificate.
      if (!this.open && !this.failed)
        host.failed(`${this.where}: closed by the server during the handshake${settings.tls === undefined ? '' : ' (did it refuse this client certificate?)'}`);
      host.closed(this);
    });
  }

  private onFrame(frame: Uint8Array): void {
    if (this.socket.destroyed) return;
    if (this.open) return this.host.frame(frame);
    const step = this.handshake.receive(frame);
    for (const bytes of step.send) this.socket.write(bytes);
    if (step.failed !== undefined) return this.handshakeFailed(step.failed);
    if (step.done === undefined) return;
    this.open = true;
    this.loop.opened();
    this.host.opened(this);
  }

  /** Ends this attempt, saying why. */
  private fail(why: string): void {
    this.failed = true;
    this.loop.stop();
    this.host.failed(`${this.where}: ${why}`);
    this.socket.destroy(new Error(why));
  }

  /** The handshake failed: this attempt ends, and the client hears whether asking again can cure it. */
  private handshakeFailed(error: HandshakeError): void {
    const { where } = this;
    const cluster = this.settings.clusterId;
    switch (error.failure) {
      case 'refused':
        this.fail(`refused: ${error.said ?? ''}`);
        if (error.said === authenticationRefusal)
          this.host.refused(`${where} refused this client: ${authenticationRefusal} (is the client secret the servers'?)`);
        return;
      case 'cluster':
        this.fail(`server is in cluster ${error.said}, not ${cluster}`);
        return this.host.refused(`${where} is a server of cluster ${error.said}, not ${cluster}`);
      case 'proof':
        this.fail('the server failed to prove the secret');
        return this.host.refused(`${where} failed to prove the client secret`);
      default:
        return this.fail(error.message);
    }
  }
}

/** A TCP (or TLS 1.3) connection to `address`, being made. */
function connectTo(address: TcpAddress, settings: ServerConnectionSettings): Socket {
  const tls = settings.tls;
  if (tls === undefined) return tcpConnect({ host: address.host, port: address.port });
  return tlsConnect({
    host: address.host,
    port: address.port,
    ...(settings.serverName === undefined ? {} : { servername: settings.serverName }),
    ca: tls.ca as string | string[],
    cert: tls.cert as string,
    key: tls.key as string,
    passphrase: tls.passphrase,
    minVersion: 'TLSv1.3',
  });
}
