/**
 * What a KV server holds for its clients now, and how often a bound on a client
 * tripped: the counters a client that reads nothing, floods watches or trickles frames
 * shows up in first.
 */

/** A KV server's client connections at one moment; see `KvServer.metrics()`. */
export interface KvServerMetrics {
  /** Gauges, summed over the client connections open now. */
  readonly clients: {
    /** Client connections open (handshaking included). */
    readonly connections: number;
    /** Bytes of answers (and watch events) written to client sockets and not yet taken by the kernel. */
    readonly answerBytesQueued: number;
    /** Requests read and not answered yet: being served, or answered and waiting for their client's socket to have room. */
    readonly requestsUnanswered: number;
    /** Bytes received from clients and not yet read: frames still arriving, and whole ones waiting while reading is paused. */
    readonly partialFrameBytes: number;
    /** Watches open, those still being set up included. */
    readonly watches: number;
  };
  /** How often each bound on a client tripped since the server started. */
  readonly trips: {
    /** Connections closed as soon as they were accepted: `clientConnectionsMax` were open, or this member was removed from the cluster. */
    readonly connectionsRefused: number;
    /** Connections the server closed in their handshake: malformed, failed authentication, or not finished within `handshakeTimeoutMs`. */
    readonly handshakesRefused: number;
    /** Times the server stopped reading a connection because its answers outstanding reached `socketBytesHigh`. */
    readonly answerPauses: number;
    /** Malformed frames after the handshake (each answered with a CODEC error frame and dropped). */
    readonly badFrames: number;
    /** Watches refused: the connection had `watchesMax` open. */
    readonly watchesRefused: number;
    /** Watches refused: one with the same id was open, or being set up, on the connection. */
    readonly watchIdsRefused: number;
    /** Connections closed because a frame was not whole within `frameCompleteMsMax` of its first byte. */
    readonly frameTimeouts: number;
    /** Connections closed because their bytes would have taken the frames not yet read, of all clients, over `partialFrameBytesMax`. */
    readonly partialFrameCloses: number;
    /** Requests refused with `PermissionDeniedError`: outside the user's roles, or another user's session. */
    readonly permissionDenied: number;
  };
  /** How often each per-principal quota (`auth.quotas`) refused a request since the server started, by the quota's name. */
  readonly quotas: QuotaTrips;
}

/**
 * The counters behind {@link KvServerMetrics}; the gauges are read from the connections.
 * @internal
 */
export class ServerMetricsRecorder {
  connectionsRefused = 0;
  handshakesRefused = 0;
  answerPauses = 0;
  badFrames = 0;
  watchesRefused = 0;
  watchIdsRefused = 0;
  frameTimeouts = 0;
  partialFrameCloses = 0;
  permissionDenied = 0;

  snapshot(clients: KvServerMetrics['clients'], quotas: QuotaTrips): KvServerMetrics {
    return {
      clients,
      quotas,
      trips: {
        permissionDenied: this.permissionDenied,
        connectionsRefused: this.connectionsRefused,
        handshakesRefused: this.handshakesRefused,
        answerPauses: this.answerPauses,
        badFrames: this.badFrames,
        watchesRefused: this.watchesRefused,
        watchIdsRefused: this.watchIdsRefused,
        frameTimeouts: this.frameTimeouts,
        partialFrameCloses: this.partialFrameCloses,
      },
    };
  }
}

/** How often each per-principal quota refused a request, since the server started. */
export interface QuotaTrips {
  /** Session creates refused: the user owned `sessionsMax` sessions (counted on the server that proposed them). */
  readonly sessionsMax: number;
  /** Session creates refused: a TTL above the user's `sessionTtlMsMax`. */
  readonly sessionTtlMsMax: number;
  /** Watches refused: the user had `watchesMax` open on this server. */
  readonly watchesMax: number;
  /** Requests refused: the user had `requestsInFlightMax` being served by this server. */
  readonly requestsInFlightMax: number;
  /** Requests refused: their bytes would take the user's requests being served over `requestBytesInFlightMax`. */
  readonly requestBytesInFlightMax: number;
}
