/** What a {@link TcpTransport} has done since it was made. All counts. */
export interface TcpTransportStats {
  /** Messages encoded and handed to a connection or its queue. */
  readonly messagesSent: number;
  /** Messages received, checked and delivered to the node. */
  readonly messagesDelivered: number;
  /** Messages dropped on the way out: queue full, unknown peer, too large, not started or closed. */
  readonly messagesDropped: number;
  /** Frames received and refused: malformed, misaddressed, out of place. */
  readonly framesRejected: number;
  /** Socket writes; `messagesSent / writes` is how well writes were coalesced. */
  readonly writes: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  /** Connections that completed their handshake, both directions. */
  readonly connectionsEstablished: number;
  /** Connections closed before or during their handshake: refused, timed out, failed TLS. */
  readonly handshakesFailed: number;
  /** Connections closed for sending too many bad frames. */
  readonly connectionsClosedForBadFrames: number;
  /** Messages dropped, both ways, because their peer was blocked by `blockPeers` (fault injection). */
  readonly messagesBlocked: number;
  /** Connections closed at once for arriving while too many others were in their handshake (`handshakesMax`, `peerHandshakesMax`). */
  readonly handshakesRefusedForLoad: number;
  /** Log lines dropped by the rate limit (see `logRateLimit`). */
  readonly logLinesSuppressed: number;
}

/**
 * What a {@link TcpTransport} exchanged with one peer over its authenticated
 * connections (handshakes not counted), for as long as the transport knows the peer.
 */
export interface TcpPeerStats {
  /** Messages encoded and queued for the peer, one frame each. */
  readonly framesSent: number;
  /** Bytes written to the peer's connection. */
  readonly bytesSent: number;
  /** Messages received from the peer and decoded, one frame each (those of a blocked peer included). */
  readonly framesReceived: number;
  /** Bytes read from the peer's connection. */
  readonly bytesReceived: number;
}

/** The mutable counters behind {@link TcpPeerStats}. @internal */
export type TcpPeerCounters = { -readonly [K in keyof TcpPeerStats]: TcpPeerStats[K] };

/** The mutable counters behind {@link TcpTransportStats}. @internal */
export type TcpCounters = { -readonly [K in keyof TcpTransportStats]: TcpTransportStats[K] };

/** Fresh counters. @internal */
export function newTcpCounters(): TcpCounters {
  return {
    messagesSent: 0,
    messagesDelivered: 0,
    messagesDropped: 0,
    framesRejected: 0,
    writes: 0,
    bytesSent: 0,
    bytesReceived: 0,
    connectionsEstablished: 0,
    handshakesFailed: 0,
    connectionsClosedForBadFrames: 0,
    messagesBlocked: 0,
    handshakesRefusedForLoad: 0,
    logLinesSuppressed: 0,
  };
}
