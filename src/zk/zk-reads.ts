/**
 * The read requests, answered from a replica's tree as ZooKeeper answers them: the
 * answer or an error code, and the watch to leave if the client asked for one. Pure:
 * the serving member registers the watch and sends the answer.
 */
import { aclAllows } from './zk-acl.js';
import { ZkErrorCode } from './zk-error-code.js';
import { invalidPath } from './zk-path.js';
import type { ZkStateMachine } from './zk-state-machine.js';
import { type ZkId, ZkPerm, type ZkStat } from './zk-types.js';
import type { ZkWatchKind } from './zk-watch-table.js';
import type { ZkResponseBody } from './protocol/zk-response.js';

/** A read request (the wire's, less the ones that are not reads of the tree). */
export type ZkRead =
  | { readonly type: 'exists' | 'getData' | 'getChildren' | 'getChildren2'; readonly path: string; readonly watch: boolean }
  | { readonly type: 'getACL' | 'getAllChildrenNumber'; readonly path: string }
  | { readonly type: 'getEphemerals'; readonly prefix: string }
  | { readonly type: 'multiRead'; readonly ops: readonly { readonly type: 'getData' | 'getChildren'; readonly path: string }[] };

/** What a read answered. */
export interface ZkReadAnswer {
  readonly err: number;
  readonly body?: ZkResponseBody;
  /** The watch to register for the client (also on `noNode` for an exists: ZooKeeper's exist watch). */
  readonly watch?: { readonly kind: ZkWatchKind; readonly path: string };
}

function failed(err: number): ZkReadAnswer {
  return { err };
}

/** Answers `read` for a client of `session` holding `auth`, from `machine`'s tree as it is now. */
export function answerRead(machine: ZkStateMachine, read: ZkRead, session: number, auth: readonly ZkId[]): ZkReadAnswer {
  const tree = machine.tree;
  switch (read.type) {
    case 'getEphemerals':
      return { err: 0, body: { type: 'strings', strings: tree.ephemerals(session).filter((p) => p.startsWith(read.prefix)) } };
    case 'multiRead':
      return {
        err: 0,
        body: {
          type: 'multiRead',
          results: read.ops.map((op) => {
            const answer = answerRead(machine, { type: op.type, path: op.path, watch: false }, session, auth);
            if (answer.err !== 0) return { type: 'error' as const, err: answer.err };
            const body = answer.body!;
            return body.type === 'data'
              ? { type: 'data' as const, data: body.data, stat: body.stat }
              : { type: 'children' as const, children: body.type === 'children' ? body.children : [] };
          }),
        },
      };
    default:
      break;
  }
  if (invalidPath(read.path) !== undefined) return failed(ZkErrorCode.badArguments);
  const node = tree.get(read.path);
  const watch = 'watch' in read && read.watch;
  if (read.type === 'exists') {
    return node === undefined
      ? { err: ZkErrorCode.noNode, ...(watch ? { watch: { kind: 'data' as const, path: read.path } } : {}) }
      : { err: 0, body: { type: 'stat', stat: tree.stat(node) }, ...(watch ? { watch: { kind: 'data' as const, path: read.path } } : {}) };
  }
  if (node === undefined) return failed(ZkErrorCode.noNode);
  const stat: ZkStat = tree.stat(node);
  switch (read.type) {
    case 'getData':
      if (!aclAllows(node.acl, ZkPerm.read, auth)) return failed(ZkErrorCode.noAuth);
      return { err: 0, body: { type: 'data', data: node.data, stat }, ...(watch ? { watch: { kind: 'data' as const, path: read.path } } : {}) };
    case 'getChildren':
    case 'getChildren2':
      if (!aclAllows(node.acl, ZkPerm.read, auth)) return failed(ZkErrorCode.noAuth);
      return {
        err: 0,
        body:
          read.type === 'getChildren'
            ? { type: 'children', children: tree.children(read.path)! }
            : { type: 'children', children: tree.children(read.path)!, stat },
        ...(watch ? { watch: { kind: 'child' as const, path: read.path } } : {}),
      };
    case 'getACL':
      if (!aclAllows(node.acl, ZkPerm.read | ZkPerm.admin, auth)) return failed(ZkErrorCode.noAuth);
      // Without ADMIN, digest ids are shown as `user:x`: their hashes could be guessed at offline (as ZooKeeper hides them).
      if (aclAllows(node.acl, ZkPerm.admin, auth)) return { err: 0, body: { type: 'acl', acl: node.acl, stat } };
      return {
        err: 0,
        body: {
          type: 'acl',
          acl: node.acl.map((e) => (e.id.scheme === 'digest' ? { perms: e.perms, id: { scheme: 'digest', id: `${e.id.id.split(':')[0]!}:x` } } : e)),
          stat,
        },
      };
    case 'getAllChildrenNumber':
      if (!aclAllows(node.acl, ZkPerm.read, auth)) return failed(ZkErrorCode.noAuth);
      return { err: 0, body: { type: 'number', n: tree.descendants(read.path)! } };
  }
}
