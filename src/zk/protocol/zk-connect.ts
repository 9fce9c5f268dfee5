/**
 * The handshake: a client's first frame is a ConnectRequest (no request header), the
 * server's first a ConnectResponse. Both may end with a `readOnly` flag that older
 * clients leave out.
 */
import { CodecError } from '../../encoding/codec-error.js';
import { JuteReader } from './jute-reader.js';
import { JuteWriter } from './jute-writer.js';

/** A client's ConnectRequest. `sessionId` 0 asks for a new session. */
export interface ZkConnectRequest {
  readonly protocolVersion: number;
  readonly lastZxidSeen: number;
  /** Requested session timeout, ms. */
  readonly timeoutMs: number;
  readonly sessionId: number;
  readonly password: Uint8Array;
  /** Whether the client accepts a read-only server (absent in old clients). */
  readonly readOnly: boolean | undefined;
}

/** The server's ConnectResponse. A timeout of 0 tells the client its session expired. */
export interface ZkConnectResponse {
  readonly protocolVersion: number;
  readonly timeoutMs: number;
  readonly sessionId: number;
  readonly password: Uint8Array;
  readonly readOnly: boolean;
}

export function decodeConnectRequest(frame: Uint8Array): ZkConnectRequest {
  const r = new JuteReader(frame);
  const protocolVersion = r.int('protocolVersion');
  const lastZxidSeen = r.long('lastZxidSeen');
  const timeoutMs = r.int('timeOut');
  // A session id from a real ZooKeeper (beyond 2^53) is simply one this cluster does not know: expired, not malformed.
  const sessionId = r.longLossy('sessionId');
  const password = r.buffer('passwd', 64);
  const readOnly = r.left === 0 ? undefined : r.bool('readOnly');
  r.end('ConnectRequest');
  if (protocolVersion !== 0) throw new CodecError(`jute: protocol version ${protocolVersion}, this server speaks 0`);
  if (lastZxidSeen < 0 || timeoutMs < 0 || sessionId < 0)
    throw new CodecError(`jute: a ConnectRequest with a negative field (zxid ${lastZxidSeen}, timeout ${timeoutMs}, session ${sessionId})`);
  return { protocolVersion, lastZxidSeen, timeoutMs, sessionId, password, readOnly };
}

export function encodeConnectRequest(c: ZkConnectRequest): Uint8Array {
  const w = new JuteWriter().int(c.protocolVersion).long(c.lastZxidSeen).int(c.timeoutMs).long(c.sessionId).buffer(c.password);
  if (c.readOnly !== undefined) w.bool(c.readOnly);
  return w.finish();
}

export function encodeConnectResponse(c: ZkConnectResponse): Uint8Array {
  return new JuteWriter().int(c.protocolVersion).int(c.timeoutMs).long(c.sessionId).buffer(c.password).bool(c.readOnly).finish();
}
