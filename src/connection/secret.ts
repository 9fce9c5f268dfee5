/**
 * A shared secret as configured: text or bytes, at least {@link secretBytesMin} bytes.
 * Peers (`TcpTransport`'s `secret`) and clients (`KvServer`'s `clientSecret`, a user's
 * secret, `KvClient`'s `secret`) are checked by the same rule.
 */
import { ConfigError } from '../core/errors.js';

/** The shortest secret taken, in bytes: a proof over fewer is guessable offline. */
const secretBytesMin = 16;

/**
 * A shared secret as bytes (UTF-8 for text).
 * @throws {@link ConfigError} naming `owner` (the API) and `field`, below {@link secretBytesMin} bytes.
 * @internal
 */
export function secretBytes(field: string, s: string | Uint8Array, owner: string): Uint8Array {
  const bytes = typeof s === 'string' ? new TextEncoder().encode(s) : s;
  if (bytes.byteLength < secretBytesMin) throw new ConfigError(owner, field, `must be at least ${secretBytesMin} bytes, got ${bytes.byteLength}`);
  return bytes;
}
