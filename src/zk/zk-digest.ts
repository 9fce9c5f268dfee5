/**
 * ZooKeeper's `digest` scheme: a user authenticating as `user:password` holds the id
 * `user:base64(sha1("user:password"))`, the form ACLs name. Node's crypto, so kept out
 * of the pure tree.
 */
import { createHash } from 'node:crypto';
import type { ZkId } from './zk-types.js';

/** The `digest` id of `user` with `password`, as ZooKeeper's `DigestAuthenticationProvider.generateDigest`. */
export function digestAuthId(user: string, password: string): ZkId {
  return { scheme: 'digest', id: `${user}:${createHash('sha1').update(`${user}:${password}`, 'utf8').digest('base64')}` };
}
