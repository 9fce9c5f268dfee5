/**
 * ACL checks as ZooKeeper makes them: an empty ACL allows everything; an entry allows
 * its permissions to `world:anyone`, or to a connection holding a matching id of the
 * same scheme (`digest`: the same `user:hash`; `ip`: an address inside the entry's
 * address or CIDR block).
 */
import type { ZkAcl, ZkId } from './zk-types.js';

/** Whether ids `held` may do `perm` on a node with ACL `acl`. */
export function aclAllows(acl: readonly ZkAcl[], perm: number, held: readonly ZkId[]): boolean {
  if (acl.length === 0) return true;
  for (const entry of acl) {
    if ((entry.perms & perm) === 0) continue;
    if (entry.id.scheme === 'world' && entry.id.id === 'anyone') return true;
    for (const id of held) {
      if (id.scheme !== entry.id.scheme) continue;
      if (id.scheme === 'ip' ? ipMatches(id.id, entry.id.id) : id.id === entry.id.id) return true;
    }
  }
  return false;
}

/** IPv4 address as a 32-bit number, or undefined. */
function ipv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    n = n * 256 + Number(part);
  }
  return n;
}

/** Whether address `held` is in `pattern` (`10.1.2.3` or `10.0.0.0/8`). IPv4 only; other addresses match when equal. */
export function ipMatches(held: string, pattern: string): boolean {
  const [base, bitsText] = pattern.split('/') as [string, string | undefined];
  const a = ipv4(held);
  const b = ipv4(base);
  if (a === undefined || b === undefined) return bitsText === undefined && held === pattern;
  const bits = bitsText === undefined ? 32 : Number(bitsText);
  if (!Number.isInteger(bits) || bits < 0 || bits > 32) return false;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return (a & mask) >>> 0 === (b & mask) >>> 0;
}

/** Whether `id` is a well-formed id of the ACL schemes we know (ZooKeeper's `isValid` of each provider). */
function validId(id: ZkId): boolean {
  switch (id.scheme) {
    case 'world':
      return id.id === 'anyone';
    case 'digest':
      return id.id.split(':').length === 2;
    case 'ip': {
      const [base, bits] = id.id.split('/') as [string, string | undefined];
      return ipv4(base) !== undefined && (bits === undefined || (/^\d{1,2}$/.test(bits) && Number(bits) <= 32));
    }
    default:
      return false;
  }
}

/**
 * The ACL to store for `acl` given by a connection holding `held` (ZooKeeper's
 * `fixupACL`): `auth` entries become one entry per authenticated (non-`ip`) id held,
 * with the same permissions; undefined if the ACL is invalid (empty, an unknown scheme,
 * a malformed id, bad permission bits, or `auth` with no such id held).
 */
export function fixupAcl(acl: readonly ZkAcl[], held: readonly ZkId[]): ZkAcl[] | undefined {
  if (acl.length === 0) return undefined;
  const out: ZkAcl[] = [];
  for (const entry of acl) {
    if (!Number.isInteger(entry.perms) || entry.perms < 0 || entry.perms > 31) return undefined;
    if (entry.id.scheme === 'auth') {
      const authenticated = held.filter((id) => id.scheme !== 'ip' && id.scheme !== 'world');
      if (authenticated.length === 0) return undefined;
      for (const id of authenticated) out.push({ perms: entry.perms, id: { scheme: id.scheme, id: id.id } });
    } else {
      if (!validId(entry.id)) return undefined;
      out.push({ perms: entry.perms, id: { scheme: entry.id.scheme, id: entry.id.id } });
    }
  }
  // ZooKeeper drops duplicates, keeping the first.
  return out.filter((e, i) => out.findIndex((o) => o.perms === e.perms && o.id.scheme === e.id.scheme && o.id.id === e.id.id) === i);
}
