/**
 * The records of the KV's users and roles (etcd's RBAC shape): a role grants read,
 * write or both on exact keys and key prefixes; a user authenticates with its own
 * secret or by the names in its client certificate, and holds roles. Kept in the
 * replicated state (changed through the log, so every replica enforces the same) or
 * given to a server in its configuration. The built-in role `root` may do everything.
 */

/** What a permission grants on its keys. */
export type KeyAccess = 'read' | 'write' | 'readwrite';

/** One key, or every key under a prefix (`''`: every key). */
export type KeyPattern = { readonly key: string } | { readonly prefix: string };

/** One permission of a role. */
export type KvPermission = KeyPattern & { readonly access: KeyAccess };

/** The built-in administrator role: every key, membership, compaction, snapshots, users and roles. */
export const rootRole = 'root';

/** A role kept in the replicated state. */
export interface KvRoleRecord {
  /** 1 to 64 of `A-Z a-z 0-9 . _ @ -`, starting with a letter or digit; not `root`. */
  readonly name: string;
  readonly permissions: readonly KvPermission[];
}

/** A user kept in the replicated state. */
export interface KvUserRecord {
  /** 1 to 64 of `A-Z a-z 0-9 . _ @ -`, starting with a letter or digit. */
  readonly name: string;
  /**
   * The secret its clients prove (16 to 1,024 bytes). It is kept in the log and the
   * snapshots as given: protect the data directories as the secrets themselves.
   */
  readonly secret?: Uint8Array;
  /** Under client TLS: the certificate names (subject CN, DNS or URI subjectAltName) that are this user. */
  readonly certificateNames: readonly string[];
  /** Roles granted: roles of the replicated state, or `root`. */
  readonly roles: readonly string[];
}

/** The bounds of the replicated users and roles. */
export const authLimits = {
  /** Users kept at most. */
  usersMax: 10_000,
  /** Roles kept at most. */
  rolesMax: 10_000,
  /** Permissions of one role. */
  permissionsPerRoleMax: 1_000,
  /** Roles of one user. */
  rolesPerUserMax: 64,
  /** Certificate names of one user. */
  certificateNamesPerUserMax: 16,
  /** Longest certificate name, in UTF-8 bytes. */
  certificateNameBytesMax: 255,
  /** Shortest and longest user secret, in bytes. */
  secretBytesMin: 16,
  secretBytesMax: 1024,
} as const;

const namePattern = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/** Why `name` is not a user or role name, or undefined. */
export function invalidAuthName(what: 'user' | 'role', name: unknown): string | undefined {
  return typeof name === 'string' && namePattern.test(name)
    ? undefined
    : `a ${what} name is 1 to 64 of A-Z a-z 0-9 . _ @ -, starting with a letter or digit, not ${JSON.stringify(name)}`;
}

/** A user as `putUser` takes it: every field replaces what the user had. */
export interface UserDefinition {
  /** The secret its clients prove (16 to 1,024 bytes; text is taken as UTF-8). Default none: certificates only. */
  readonly secret?: string | Uint8Array;
  /** Under client TLS, the certificate names that are this user. Default none. */
  readonly certificateNames?: readonly string[];
  /** The roles granted (roles of the replicated state, or `root`). */
  readonly roles: readonly string[];
}

/** What a change to the users and roles did. */
export interface AuthChangeResult {
  /** Changes to the users and roles applied so far, this one included. */
  readonly revision: number;
  /** Whether the user or role existed before (a put replaced it; a delete removed it). */
  readonly existed: boolean;
}

/** A user as a listing shows it: everything but its secret. */
export interface KvUserView {
  readonly name: string;
  /** Whether it has a secret (its clients can prove one). */
  readonly hasSecret: boolean;
  readonly certificateNames: readonly string[];
  readonly roles: readonly string[];
}

/** The users and roles of the replicated state, as `listAuth` shows them. */
export interface AuthListing {
  /** Changes applied so far. */
  readonly revision: number;
  /** By name. */
  readonly users: readonly KvUserView[];
  /** By name. */
  readonly roles: readonly KvRoleRecord[];
}
