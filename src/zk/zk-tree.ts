/**
 * The znode tree: ZooKeeper's data model and its rules, pure and deterministic. Every
 * write takes the zxid and log time its caller gives it (the state machine's next
 * revision and the command's log time), so every replica builds the same tree.
 */
import { assert } from '../core/assert.js';
import { aclAllows, fixupAcl } from './zk-acl.js';
import { ZkErrorCode } from './zk-error-code.js';
import { childPath, invalidPath, parentOf } from './zk-path.js';
import {
  type ZkAcl,
  type ZkChange,
  ZkCreateMode,
  type ZkId,
  type ZkOpResult,
  ZkPerm,
  type ZkStat,
  type ZkWriteOp,
  type ZkWriteRequest,
  type ZkWriteResult,
  openAcl,
  zkTtlMsMax,
} from './zk-types.js';

/** One znode as the tree keeps it. @internal */
export interface ZkNode {
  data: Uint8Array;
  acl: readonly ZkAcl[];
  czxid: number;
  mzxid: number;
  pzxid: number;
  ctime: number;
  mtime: number;
  version: number;
  /**
   * Children created under it, ever (ZooKeeper's internal cversion): a sequential name
   * takes it. Clients see `2 * cversion - numChildren`, which counts creates and
   * deletes for any node whose children were all created through the tree.
   */
  cversion: number;
  aversion: number;
  /** The session owning an ephemeral node; 0 for any other. */
  ephemeralOwner: number;
  /** A container: deleted by the leader's keeper once it has had a child and has none left. */
  container: boolean;
  /** A TTL node's TTL, ms (0 for any other): deleted once childless and unmodified for that long. */
  ttlMs: number;
  /** Names of the children. */
  readonly children: Set<string>;
}

/** Who writes, and when: the context of one write request. */
export interface ZkWriteContext {
  /** The writer's session: the owner of the ephemeral nodes it creates. */
  readonly session: number;
  /** The ids the writer's connection holds (`digest`, `ip`), for ACL checks. */
  readonly auth: readonly ZkId[];
  /** The zxid this write takes if it changes anything. */
  readonly zxid: number;
  /** Log time of the write, ms since the epoch. */
  readonly time: number;
}

/** A container or TTL node the leader found due, as it saw it: deleted only if still childless and still at `mzxid`. @internal */
export interface ZkExpiringNode {
  readonly path: string;
  /** The node's mzxid when the leader decided: a write since (a new mzxid) keeps it. */
  readonly mzxid: number;
}

/** Paths ZooKeeper keeps for itself: they cannot be deleted. */
const specialPaths = new Set(['/', '/zookeeper', '/zookeeper/quota', '/zookeeper/config']);

/** A failed operation: its error code. */
class OpFailure {
  constructor(readonly err: number) {}
}

function fail(err: number): never {
  throw new OpFailure(err);
}

function checkVersion(expected: number, current: number): void {
  if (expected !== -1 && expected !== current) fail(ZkErrorCode.badVersion);
}

/**
 * The tree of znodes, with ZooKeeper's rules: a create needs its parent (`noNode`), no
 * node at its path (`nodeExists`), a parent that is not ephemeral
 * (`noChildrenForEphemerals`) and CREATE on the parent; a delete needs no children
 * (`notEmpty`) and DELETE on the parent; versions are checked (`badVersion`); a
 * sequential name takes the count of children ever created under the parent, as 10
 * digits (ZooKeeper's internal cversion; its clients see twice that less the children
 * now, see {@link ZkNode.cversion}). A multi applies all of its
 * operations or none.
 */
export class ZkTree {
  private readonly nodes = new Map<string, ZkNode>();
  /** Ephemeral paths by owning session. */
  private readonly ephemeralsBySession = new Map<number, Set<string>>();
  /** Paths of the containers and TTL nodes (ZooKeeper's `getContainers`, `getTtls`), for the leader's keeper. */
  private readonly expirables = new Set<string>();
  /** Prior state of each path a multi touched (undefined: absent), to roll it back. */
  private undo: Map<string, ZkNode | undefined> | undefined;

  constructor() {
    for (const path of ['/', '/zookeeper', '/zookeeper/config', '/zookeeper/quota']) {
      this.nodes.set(path, emptyNode(path === '/zookeeper/config' ? [{ perms: ZkPerm.read, id: { scheme: 'world', id: 'anyone' } }] : openAcl));
      if (path !== '/') this.nodes.get(parentOf(path))!.children.add(path.slice(path.lastIndexOf('/') + 1));
    }
    // ZooKeeper sets /zookeeper/config's ACL at version -1, which its aversion keeps.
    this.nodes.get('/zookeeper/config')!.aversion = -1;
  }

  /** Znodes in the tree, the root and `/zookeeper` included. */
  get size(): number {
    return this.nodes.size;
  }

  /** The node at `path`, or undefined. Read-only for callers. */
  get(path: string): Readonly<ZkNode> | undefined {
    return this.nodes.get(path);
  }

  /** Every node, by path (for snapshots; in insertion order). */
  entries(): IterableIterator<[string, Readonly<ZkNode>]> {
    return this.nodes.entries();
  }

  /** The Stat of a node. */
  stat(node: Readonly<ZkNode>): ZkStat {
    return {
      czxid: node.czxid,
      mzxid: node.mzxid,
      ctime: node.ctime,
      mtime: node.mtime,
      version: node.version,
      cversion: 2 * node.cversion - node.children.size,
      aversion: node.aversion,
      ephemeralOwner: node.ephemeralOwner,
      dataLength: node.data.byteLength,
      numChildren: node.children.size,
      pzxid: node.pzxid,
    };
  }

  /** The children of `path`, sorted, or undefined if it does not exist. */
  children(path: string): string[] | undefined {
    const node = this.nodes.get(path);
    return node === undefined ? undefined : [...node.children].sort();
  }

  /** The ephemeral nodes of `session`, sorted. */
  ephemerals(session: number): string[] {
    return [...(this.ephemeralsBySession.get(session) ?? [])].sort();
  }

  /** The paths of the containers and TTL nodes, in no particular order. */
  expirable(): IterableIterator<string> {
    return this.expirables.values();
  }

  /**
   * Deletes, as one write at `zxid`, each of `nodes` still eligible: a container or
   * TTL node, childless, and unmodified since the leader decided (same mzxid). The
   * leader decided by time and by the state it had applied; a child created or a write
   * made since wins, and the node stays.
   */
  expire(nodes: readonly ZkExpiringNode[], zxid: number): ZkChange[] {
    const changes: ZkChange[] = [];
    for (const { path, mzxid } of nodes) {
      const node = this.nodes.get(path);
      if (node === undefined || !(node.container || node.ttlMs > 0) || node.children.size > 0 || node.mzxid !== mzxid) continue;
      assert(node.ephemeralOwner === 0, () => `${path} is both expirable and ephemeral of session ${node.ephemeralOwner}`);
      this.remove(path, zxid, changes);
    }
    return changes;
  }

  /** Nodes under `path` (not counting it), or undefined if it does not exist. */
  descendants(path: string): number | undefined {
    const node = this.nodes.get(path);
    if (node === undefined) return undefined;
    let n = 0;
    for (const child of node.children) n += 1 + this.descendants(childPath(path, child))!;
    return n;
  }

  /**
   * Applies a write request. Returns what it answered and the changes it made (none if
   * it failed: a failed request, and a multi with any failed operation, changes
   * nothing).
   */
  write(request: ZkWriteRequest, context: ZkWriteContext): { result: ZkWriteResult; changes: ZkChange[] } {
    const changes: ZkChange[] = [];
    if (request.op !== 'multi') {
      try {
        return { result: this.writeOp(request, context, changes), changes };
      } catch (error) {
        if (!(error instanceof OpFailure)) throw error;
        assert(changes.length === 0, () => `a failed ${request.op} made ${changes.length} changes`);
        return { result: { op: 'error', err: error.err }, changes: [] };
      }
    }
    this.undo = new Map();
    const results: ZkOpResult[] = [];
    try {
      for (const op of request.ops) results.push(this.writeOp(op, context, changes));
      return { result: { op: 'multi', results }, changes };
    } catch (error) {
      if (!(error instanceof OpFailure)) throw error;
      this.rollBack();
      const failed = results.length;
      return {
        result: {
          op: 'multi',
          results: request.ops.map((_op, i) => ({
            op: 'error',
            err: i < failed ? ZkErrorCode.ok : i === failed ? error.err : ZkErrorCode.runtimeInconsistency,
          })),
        },
        changes: [],
      };
    } finally {
      this.undo = undefined;
    }
  }

  /** Deletes the ephemeral nodes of `session` (ended), as one write at `zxid`. */
  endSession(session: number, zxid: number): ZkChange[] {
    const changes: ZkChange[] = [];
    for (const path of this.ephemerals(session).reverse()) {
      const node = this.nodes.get(path);
      assert(node !== undefined && node.ephemeralOwner === session, () => `ephemeral ${path} of session ${session} is not its own`);
      this.remove(path, zxid, changes);
    }
    assert(!this.ephemeralsBySession.has(session), () => `session ${session} keeps ephemerals after it ended`);
    return changes;
  }

  /** Puts a node at `path` as a snapshot recorded it (the parent first). @internal */
  load(path: string, node: ZkNode): void {
    if (path !== '/') {
      const parent = this.nodes.get(parentOf(path));
      assert(parent !== undefined, () => `snapshot node ${path} comes before its parent`);
      parent.children.add(path.slice(path.lastIndexOf('/') + 1));
    }
    this.nodes.set(path, node);
    this.index(path, node);
  }

  /** Forgets every node (before a snapshot's are loaded). @internal */
  clear(): void {
    this.nodes.clear();
    this.ephemeralsBySession.clear();
    this.expirables.clear();
  }

  private writeOp(op: ZkWriteOp, context: ZkWriteContext, changes: ZkChange[]): ZkOpResult {
    switch (op.op) {
      case 'create':
        return this.create(op, context, changes);
      case 'delete': {
        if (invalidPath(op.path) !== undefined || specialPaths.has(op.path)) fail(ZkErrorCode.badArguments);
        const parent = this.nodes.get(parentOf(op.path)) ?? fail(ZkErrorCode.noNode);
        if (!aclAllows(parent.acl, ZkPerm.delete, context.auth)) fail(ZkErrorCode.noAuth);
        const node = this.nodes.get(op.path) ?? fail(ZkErrorCode.noNode);
        checkVersion(op.version, node.version);
        if (node.children.size > 0) fail(ZkErrorCode.notEmpty);
        this.remove(op.path, context.zxid, changes);
        return { op: 'delete' };
      }
      case 'setData': {
        if (invalidPath(op.path) !== undefined) fail(ZkErrorCode.badArguments);
        const node = this.nodes.get(op.path) ?? fail(ZkErrorCode.noNode);
        if (!aclAllows(node.acl, ZkPerm.write, context.auth)) fail(ZkErrorCode.noAuth);
        checkVersion(op.version, node.version);
        const changed = this.change(op.path);
        changed.data = op.data;
        changed.version++;
        changed.mzxid = context.zxid;
        changed.mtime = context.time;
        changes.push({ type: 'dataChanged', path: op.path, acl: changed.acl });
        return { op: 'setData', stat: this.stat(changed) };
      }
      case 'setACL': {
        if (invalidPath(op.path) !== undefined) fail(ZkErrorCode.badArguments);
        const acl = fixupAcl(op.acl, context.auth) ?? fail(ZkErrorCode.invalidAcl);
        const node = this.nodes.get(op.path) ?? fail(ZkErrorCode.noNode);
        if (!aclAllows(node.acl, ZkPerm.admin, context.auth)) fail(ZkErrorCode.noAuth);
        checkVersion(op.version, node.aversion);
        const changed = this.change(op.path);
        changed.acl = acl;
        changed.aversion++;
        return { op: 'setACL', stat: this.stat(changed) };
      }
      case 'check': {
        if (invalidPath(op.path) !== undefined) fail(ZkErrorCode.badArguments);
        const node = this.nodes.get(op.path) ?? fail(ZkErrorCode.noNode);
        if (!aclAllows(node.acl, ZkPerm.read, context.auth)) fail(ZkErrorCode.noAuth);
        checkVersion(op.version, node.version);
        return { op: 'check' };
      }
    }
  }

  private create(op: Extract<ZkWriteOp, { op: 'create' }>, context: ZkWriteContext, changes: ZkChange[]): ZkOpResult {
    if (!Number.isInteger(op.flags) || op.flags < 0 || op.flags > 6) fail(ZkErrorCode.badArguments);
    // ZooKeeper's validateTTL: a TTL mode needs a TTL of 1 ms to the bound, which only createTTL carries.
    const ttlMode = op.flags === ZkCreateMode.persistentWithTtl || op.flags === ZkCreateMode.persistentSequentialWithTtl;
    if (ttlMode !== (op.kind === 'ttl')) fail(ZkErrorCode.badArguments);
    const ttlMs = op.kind === 'ttl' ? (op.ttlMs ?? 0) : 0;
    if (ttlMode && !(Number.isSafeInteger(ttlMs) && ttlMs > 0 && ttlMs <= zkTtlMsMax)) fail(ZkErrorCode.badArguments);
    const sequential =
      op.flags === ZkCreateMode.persistentSequential || op.flags === ZkCreateMode.ephemeralSequential || op.flags === ZkCreateMode.persistentSequentialWithTtl;
    // The opcode decides the kind, as in ZooKeeper: a createContainer with an ephemeral mode still makes a container.
    const ephemeral = op.kind === undefined && (op.flags === ZkCreateMode.ephemeral || op.flags === ZkCreateMode.ephemeralSequential);
    if (invalidPath(op.path, sequential) !== undefined) fail(ZkErrorCode.badArguments);
    if (op.path === '/') fail(ZkErrorCode.nodeExists);
    const acl = fixupAcl(op.acl, context.auth) ?? fail(ZkErrorCode.invalidAcl);
    const parentPath = parentOf(op.path);
    const parent = this.nodes.get(parentPath) ?? fail(ZkErrorCode.noNode);
    if (!aclAllows(parent.acl, ZkPerm.create, context.auth)) fail(ZkErrorCode.noAuth);
    const path = sequential ? op.path + String(parent.cversion).padStart(10, '0') : op.path;
    if (this.nodes.has(path)) fail(ZkErrorCode.nodeExists);
    if (parent.ephemeralOwner !== 0) fail(ZkErrorCode.noChildrenForEphemerals);
    const changedParent = this.change(parentPath);
    changedParent.cversion++;
    changedParent.pzxid = context.zxid;
    changedParent.children.add(path.slice(path.lastIndexOf('/') + 1));
    this.change(path);
    const node: ZkNode = {
      ...emptyNode(acl),
      data: op.data,
      czxid: context.zxid,
      mzxid: context.zxid,
      pzxid: context.zxid,
      ctime: context.time,
      mtime: context.time,
      ephemeralOwner: ephemeral ? context.session : 0,
      container: op.kind === 'container',
      ttlMs,
    };
    this.nodes.set(path, node);
    this.index(path, node);
    changes.push({ type: 'created', path, acl }, { type: 'childrenChanged', path: parentPath, acl: changedParent.acl });
    return { op: 'create', path, stat: op.withStat ? this.stat(node) : undefined };
  }

  /** Removes the childless node at `path`. */
  private remove(path: string, zxid: number, changes: ZkChange[]): void {
    const node = this.nodes.get(path);
    assert(node !== undefined && node.children.size === 0, () => `removing ${path}, absent or with children`);
    const parentPath = parentOf(path);
    const parent = this.change(parentPath);
    this.change(path);
    parent.children.delete(path.slice(path.lastIndexOf('/') + 1));
    // A delete moves the visible cversion (one child fewer), not the count of creates.
    parent.pzxid = zxid;
    this.nodes.delete(path);
    this.unindex(path, node);
    changes.push({ type: 'deleted', path, acl: node.acl }, { type: 'childrenChanged', path: parentPath, acl: parent.acl });
  }

  /** The node at `path`, about to change: inside a multi, its prior state is kept first. */
  private change(path: string): ZkNode {
    const node = this.nodes.get(path);
    if (this.undo !== undefined && !this.undo.has(path)) this.undo.set(path, node === undefined ? undefined : { ...node, children: new Set(node.children) });
    return node!;
  }

  private rollBack(): void {
    for (const [path, prior] of this.undo!) {
      const now = this.nodes.get(path);
      if (now !== undefined) this.unindex(path, now);
      if (prior === undefined) {
        this.nodes.delete(path);
      } else {
        this.nodes.set(path, prior);
        this.index(path, prior);
      }
    }
  }

  /** Enters `node` at `path` in the indexes of its kind (ephemerals by session, expirables). */
  private index(path: string, node: Readonly<ZkNode>): void {
    assert([node.ephemeralOwner !== 0, node.container, node.ttlMs > 0].filter(Boolean).length <= 1, () => `${path} is of two kinds at once`);
    if (node.ephemeralOwner !== 0) this.own(path, node.ephemeralOwner);
    if (node.container || node.ttlMs > 0) this.expirables.add(path);
  }

  private unindex(path: string, node: Readonly<ZkNode>): void {
    if (node.ephemeralOwner !== 0) this.disown(path, node.ephemeralOwner);
    if (node.container || node.ttlMs > 0) assert(this.expirables.delete(path), () => `expirable ${path} was not indexed`);
  }

  private own(path: string, session: number): void {
    let set = this.ephemeralsBySession.get(session);
    if (set === undefined) this.ephemeralsBySession.set(session, (set = new Set()));
    set.add(path);
  }

  private disown(path: string, session: number): void {
    const set = this.ephemeralsBySession.get(session);
    assert(set?.delete(path) === true, () => `ephemeral ${path} was not indexed under session ${session}`);
    if (set.size === 0) this.ephemeralsBySession.delete(session);
  }
}

function emptyNode(acl: readonly ZkAcl[]): ZkNode {
  return {
    data: new Uint8Array(0),
    acl,
    czxid: 0,
    mzxid: 0,
    pzxid: 0,
    ctime: 0,
    mtime: 0,
    version: 0,
    cversion: 0,
    aversion: 0,
    ephemeralOwner: 0,
    container: false,
    ttlMs: 0,
    children: new Set(),
  };
}
