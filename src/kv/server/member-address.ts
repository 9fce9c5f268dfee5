/**
 * How a KV server writes where a member listens into the cluster's configuration: the
 * peer address, then the client address, as `host:port,host:port` (an IPv6 host in
 * brackets). Parsed back by every server, so a member added later is dialed from the
 * log alone.
 */
import { ConfigError } from '../../core/index.js';
import type { TcpAddress } from '../../transport/tcp/index.js';
import type { KvServerAddress } from './kv-server.js';

/** `host:port` for an address, the host in brackets when it holds a colon. */
function formatHostPort(a: TcpAddress): string {
  return `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

/** `host:port` as an address; ConfigError (api `api`, field `field`) if it is not one. */
export function parseHostPort(api: string, field: string, text: string): TcpAddress {
  const at = text.lastIndexOf(':');
  const port = Number(text.slice(at + 1));
  const host = text.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  if (at <= 0 || host === '' || !/^\d+$/.test(text.slice(at + 1)) || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(api, field, `"${text}" is not host:port`);
  }
  return { host, port };
}

/** A member's two addresses as the configuration records them. */
export function formatMemberAddress(address: KvServerAddress): string {
  return `${formatHostPort(address.peer)},${formatHostPort(address.client)}`;
}

/** A configuration's address string back as the two addresses. */
export function parseMemberAddress(api: string, text: string): KvServerAddress {
  const parts = text.split(',');
  if (parts.length !== 2) throw new ConfigError(api, 'address', `"${text}" is not "peerHost:port,clientHost:port"`);
  return { peer: parseHostPort(api, 'address', parts[0]!), client: parseHostPort(api, 'address', parts[1]!) };
}
