/**
 * The sizes and times a {@link KvClient} keeps, in one place. Those a user sets through
 * `KvClientOptions` are exported as {@link kvClientDefaults}; the others are internal
 * ({@link kvClientLimits}).
 */
import { answerFrameBytesMax, requestFrameBytesMaxDefault } from '../protocol/client-codec.js';
import { clientHandshakeBytesMax } from '../protocol/client-handshake.js';

/** The defaults of the `KvClientOptions` a user may set. */
export const kvClientDefaults = {
  /** `requestTimeoutMs`: how long a request waits, across reconnects, in ms. */
  requestTimeoutMs: 10_000,
  /** `connectTimeoutMs`: how long one connection attempt, its handshake included, may take, in ms. */
  connectTimeoutMs: 2_000,
  /** `requestBytesMax`: the largest request sent, in bytes; the servers' default `clientLimits.frameBytesMax` (16 MiB). */
  requestBytesMax: requestFrameBytesMaxDefault,
} as const;

/** The bounds a client keeps that no option changes. @internal */
export const kvClientLimits = {
  /** The largest frame taken from a server before the handshake ends, in bytes (2 KiB). */
  handshakeFrameBytesMax: clientHandshakeBytesMax,
  /** The largest frame taken from a server once connected, in bytes (64 MiB): a server never sends more. */
  answerFrameBytesMax,
  /** The first redial delay after a failed connection, in ms; it doubles with each failure in a row. */
  redialDelayMsBase: 20,
  /** Failures in a row after which the redial delay stops doubling (at 20 ms × 2^6 = 1.28 s, capped by {@link kvClientLimits.redialDelayMsMax}). */
  redialDoublingsMax: 6,
  /** The longest redial delay, in ms, before its jitter (down to half). */
  redialDelayMsMax: 1_000,
  /** A request or watch the server could not finish for a moment (no leader yet, closing) is sent again after this, in ms. */
  retryDelayMs: 50,
  /** Under `routeToLeaders`, how often the ranges and their leaders are listed again while requests come, in ms. */
  routesRefreshMs: 2_000,
} as const;
