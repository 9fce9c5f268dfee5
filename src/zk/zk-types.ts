/**
 * The records of ZooKeeper's data model, as its clients see them: the `Stat` of a
 * znode, ids and ACLs, create modes, and the operations of the tree.
 */

/**
 * A znode's metadata (ZooKeeper's `Stat`). Zxids are the tree's revisions (every write
 * takes the next); times are log time (ms since the epoch, from the leader's clock as
 * entered in the log), for display only.
 */
export interface ZkStat {
  /** The zxid of the write that created the node. */
  readonly czxid: number;
  /** The zxid of the write that last changed its data (its create at first). */
  readonly mzxid: number;
  /** Log time of the create, ms since the epoch. */
  readonly ctime: number;
  /** Log time of the last data change, ms since the epoch. */
  readonly mtime: number;
  /** Data changes since the create. */
  readonly version: number;
  /** Child creates and deletes since the create. */
  readonly cversion: number;
  /** ACL changes since the create. */
  readonly aversion: number;
  /**
   * The session owning an ephemeral node; 0 for any other, containers and TTL nodes
   * included: ZooKeeper keeps their kind in this field on the server but shows clients
   * 0 (its `DataNode.copyStat`).
   */
  readonly ephemeralOwner: number;
  /** Bytes of data. */
  readonly dataLength: number;
  /** Children now. */
  readonly numChildren: number;
  /** The zxid of the last child create or delete (its create at first). */
  readonly pzxid: number;
}

/** An identity in an ACL or held by a connection: `world:anyone`, `digest:user:hash`, `ip:10.0.0.0/8`, `auth:` (the creator's own). */
export interface ZkId {
  readonly scheme: string;
  readonly id: string;
}

/** One ACL entry: the permission bits {@link ZkPerm} granted to `id`. */
export interface ZkAcl {
  readonly perms: number;
  readonly id: ZkId;
}

/** ZooKeeper's permission bits. */
export const ZkPerm = { read: 1, write: 2, create: 4, delete: 8, admin: 16, all: 31 } as const;

/** `world:anyone` may do everything: ZooKeeper's `OPEN_ACL_UNSAFE`. */
export const openAcl: readonly ZkAcl[] = Object.freeze([{ perms: ZkPerm.all, id: { scheme: 'world', id: 'anyone' } }]);

/**
 * ZooKeeper's create modes (the `flags` of a create): 0 persistent, 1 ephemeral,
 * 2 persistent sequential, 3 ephemeral sequential, 4 container, 5 persistent with a
 * TTL, 6 persistent sequential with a TTL. As in ZooKeeper, the opcode decides the
 * kind of node: a container is made by `createContainer` (19), a TTL node by
 * `createTTL` (21); `create`/`create2` with mode 4 make a persistent node, with 5 or 6
 * are refused (`badArguments`: they carry no TTL).
 */
export const ZkCreateMode = {
  persistent: 0,
  ephemeral: 1,
  persistentSequential: 2,
  ephemeralSequential: 3,
  container: 4,
  persistentWithTtl: 5,
  persistentSequentialWithTtl: 6,
} as const;

/** Longest TTL of a TTL node, ms: ZooKeeper's `EphemeralType.TTL.maxValue()` (the 40 bits its `ephemeralOwner` holds it in, about 34 years). */
export const zkTtlMsMax = 2 ** 40 - 1;

/** A write of the tree (one request, or one operation of a multi). `version` -1 matches any. */
export type ZkWriteOp =
  /**
   * `create` (opcode 1), `create2` (15, answers the Stat too), `createContainer` (19,
   * `kind` 'container') and `createTTL` (21, `kind` 'ttl', with `ttlMs`; both answer the
   * Stat): `flags` is a {@link ZkCreateMode}.
   */
  | {
      readonly op: 'create';
      readonly path: string;
      readonly data: Uint8Array;
      readonly acl: readonly ZkAcl[];
      readonly flags: number;
      readonly withStat: boolean;
      /** Which extended create this is; absent for `create`/`create2`. */
      readonly kind?: 'container' | 'ttl';
      /** A `createTTL`'s TTL, ms, as the client sent it (checked by the tree: 1 to {@link zkTtlMsMax}). */
      readonly ttlMs?: number;
    }
  | { readonly op: 'delete'; readonly path: string; readonly version: number }
  | { readonly op: 'setData'; readonly path: string; readonly data: Uint8Array; readonly version: number }
  | { readonly op: 'setACL'; readonly path: string; readonly acl: readonly ZkAcl[]; readonly version: number }
  | { readonly op: 'check'; readonly path: string; readonly version: number };

/** A write request: one operation, or a multi of several applied all or none. */
export type ZkWriteRequest = ZkWriteOp | { readonly op: 'multi'; readonly ops: readonly ZkWriteOp[] };

/** What one write operation answered. */
export type ZkOpResult =
  | { readonly op: 'create'; readonly path: string; readonly stat: ZkStat | undefined }
  | { readonly op: 'delete' }
  | { readonly op: 'setData'; readonly stat: ZkStat }
  | { readonly op: 'setACL'; readonly stat: ZkStat }
  | { readonly op: 'check' }
  /** The operation failed with `err` (in a multi: the failing one; those before it answer `ok`, those after `runtimeInconsistency`). */
  | { readonly op: 'error'; readonly err: number };

/** What a write request answered: `err` for a single operation that failed; a multi answers per operation. */
export type ZkWriteResult = ZkOpResult | { readonly op: 'multi'; readonly results: readonly ZkOpResult[] };

/** A change a write made, for watches: ZooKeeper's event types 1 to 4. */
export interface ZkChange {
  readonly type: 'created' | 'deleted' | 'dataChanged' | 'childrenChanged';
  readonly path: string;
  /**
   * The ACL a watcher needs READ in to be told of the change (the node's as the change
   * left it; the parent's for `childrenChanged`), so a watch on an ancestor cannot
   * reveal the paths of nodes its client may not read (ZooKeeper's CVE-2024-23944 fix).
   */
  readonly acl: readonly ZkAcl[];
}
