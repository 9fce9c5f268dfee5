/**
 * Who a KV server's clients are and what each may do: users (each with its own secret,
 * or named by its TLS client certificate) holding roles, and roles granting read,
 * write or both on exact keys and key prefixes (etcd's RBAC shape). The built-in role
 * `root` may do everything, membership changes, compaction and snapshots included.
 * Users and roles come from the server's configuration (`auth`) and from the
 * replicated state (changed through the log). Clients that prove the shared
 * `clientSecret` (or, without `auth`, any certificate the client CA signed that names
 * no user) are the default principal, with `root`'s rights: deployments from before
 * users keep working.
 */
import { ConfigError } from '../../core/index.js';
import { secretBytes } from '../../connection/secret.js';
import { kvLimits } from '../kv-limits.js';
import { invalidAuthName, type KvPermission, rootRole } from '../kv-auth.js';
import { KeySet } from '../key-set.js';
import { type Grants, grantsOf } from '../command-authorization.js';
import type { AuthTable } from '../auth-table.js';

export type { KeyAccess, KvPermission } from '../kv-auth.js';

/** A role: the keys its users may read and write. */
export interface KvRoleOptions {
  readonly permissions: readonly KvPermission[];
}

/**
 * Per-principal quotas: what one user may make a server hold, whatever connections it
 * opens. Sessions are counted in the replicated state (every replica refuses alike);
 * watches, requests and bytes in flight on each server.
 */
export interface PrincipalQuotas {
  /** Sessions the user owns at once, in the cluster. Default 1,000. */
  readonly sessionsMax: number;
  /** Longest TTL of a session the user creates, in ms. Default 300,000 (5 minutes). */
  readonly sessionTtlMsMax: number;
  /** Watches the user has open on one server, over all its connections. Default 1,024. */
  readonly watchesMax: number;
  /** Requests of the user being served by one server at once, over all its connections. Default 1,024. */
  readonly requestsInFlightMax: number;
  /** Bytes of the user's request frames being served by one server at once, in bytes. Default 32 MiB (33,554,432). */
  readonly requestBytesInFlightMax: number;
}

/** A user: how it authenticates, its roles, and its quotas. */
export interface KvUserOptions {
  /**
   * The user's own secret (at least 16 bytes): the client proves it in the handshake
   * (`KvClientOptions.user` and `secret`). Under client TLS, use `certificateNames`.
   */
  readonly secret?: string | Uint8Array;
  /**
   * Under `clientTls`: a client certificate naming any of these (its subject CN, or a
   * DNS or URI subjectAltName) authenticates as this user. A name may belong to one
   * user only.
   */
  readonly certificateNames?: readonly string[];
  /** The roles granted: names of `auth.roles`, or `root`. */
  readonly roles: readonly string[];
  /** The user's quotas, over `auth.quotas`. */
  readonly quotas?: Partial<PrincipalQuotas>;
}

/** Users and roles of a KV server; every server of a cluster must be given the same. */
export interface KvAuthOptions {
  /** The users, by name: 1 to 64 of `A-Z a-z 0-9 . _ @ -`, starting with a letter or digit. Default none. */
  readonly users?: Readonly<Record<string, KvUserOptions>>;
  /** The roles, by name (the same characters); `root` is built in and cannot be defined. Default none. */
  readonly roles?: Readonly<Record<string, KvRoleOptions>>;
  /** Quotas of every user that does not set its own. Defaults: see {@link PrincipalQuotas}. */
  readonly quotas?: Partial<PrincipalQuotas>;
  /**
   * Quotas of the shared `clientSecret`'s clients, all together (one principal): the
   * quotas left unset are unbounded, as before users. Default none: only the server's
   * and the store's own bounds apply to them.
   */
  readonly sharedQuotas?: Partial<PrincipalQuotas>;
}

export { rootRole };

/** The default quotas of a user. */
export const defaultPrincipalQuotas: PrincipalQuotas = Object.freeze({
  sessionsMax: 1_000,
  sessionTtlMsMax: 300_000,
  watchesMax: 1_024,
  requestsInFlightMax: 1_024,
  requestBytesInFlightMax: 32 * 1024 * 1024,
});

/**
 * An authenticated client's identity on the server, as its requests are checked.
 * @internal
 */
export interface Principal extends Grants {
  /** The user's name; {@link sharedPrincipalName} for the shared secret's clients. */
  readonly name: string;
  /** Undefined for the default principal: only the server's and the store's own bounds apply. */
  readonly quotas: PrincipalQuotas | undefined;
  /**
   * Whether its request identities are namespaced by its name. The default principal's
   * are not (their dedup entries keep the client ids written before users existed).
   */
  readonly namespaced: boolean;
  /**
   * A user of the replicated state: its request identities carry U+0001 after its name
   * (a configured user's, U+0000), and the state machine checks its commands again as
   * they apply, against the users and roles as of then.
   */
  readonly replicated: boolean;
}

/** The default principal's name: not a valid user name, so no user can take it. */
const sharedPrincipalName = ':shared';

const everyKey = new KeySet([{ prefix: '' }]);

/** The shared secret's clients: everything, as before users existed. @internal */
export const sharedPrincipal: Principal = Object.freeze({
  name: sharedPrincipalName,
  admin: true,
  readable: everyKey,
  writable: everyKey,
  quotas: undefined,
  namespaced: false,
  replicated: false,
});

/** A user as the server keeps it. */
interface User {
  readonly principal: Principal;
  readonly secret: Uint8Array | undefined;
}

/**
 * The users and roles a server knows: those of its configuration (checked once, when
 * the server is made), then those of the replicated state (as this replica has applied
 * them); a configured user shadows a replicated one of the same name. Finds the
 * principal a handshake proves, and a connection's principal again before each request,
 * so a change to a replicated user or role holds from its next request on. @internal
 */
export class AccessControl {
  private readonly users = new Map<string, User>();
  private readonly byCertificateName = new Map<string, User>();
  /** The shared client secret's clients: `root`'s rights, with `sharedQuotas` if given. */
  readonly shared: Principal;
  /** Whether the server was given `auth`: then a client certificate that names no user is refused. */
  readonly configured: boolean;
  private readonly baseQuotas: PrincipalQuotas;
  /** Principals built from the replicated users, valid while the table's revision is `revision`. */
  private replicatedCache: { revision: number; readonly principals: Map<string, User | null> } = { revision: -1, principals: new Map() };

  /**
   * `tls`: clients authenticate by certificate, so a configured user needs
   * `certificateNames`. `replicated`: this replica's users and roles, once it runs.
   */
  constructor(
    options: KvAuthOptions | undefined,
    tls: boolean,
    private readonly replicated: () => AuthTable | undefined = () => undefined,
    api = 'KvServer',
  ) {
    this.configured = options !== undefined;
    const o = options ?? {};
    this.shared =
      o.sharedQuotas === undefined
        ? sharedPrincipal
        : Object.freeze({ ...sharedPrincipal, quotas: quotasOf(api, 'auth.sharedQuotas', unbounded, o.sharedQuotas) });
    const roles = o.roles ?? {};
    for (const [name, role] of Object.entries(roles)) {
      if (name === rootRole) throw new ConfigError(api, `auth.roles.${name}`, 'root is built in: grant it, do not define it');
      const bad = invalidAuthName('role', name);
      if (bad !== undefined) throw new ConfigError(api, `auth.roles.${name}`, bad);
      role.permissions.forEach((p, i) => checkPermission(api, `auth.roles.${name}.permissions[${i}]`, p));
    }
    this.baseQuotas = quotasOf(api, 'auth.quotas', defaultPrincipalQuotas, o.quotas);
    for (const [name, user] of Object.entries(o.users ?? {})) {
      const field = `auth.users.${name}`;
      const bad = invalidAuthName('user', name);
      if (bad !== undefined) throw new ConfigError(api, field, bad);
      for (const roleName of user.roles) {
        if (roleName !== rootRole && roles[roleName] === undefined)
          throw new ConfigError(api, `${field}.roles`, `names role ${roleName}, which auth.roles does not define`);
      }
      const secret = user.secret === undefined ? undefined : secretBytes(`${field}.secret`, user.secret, api);
      if (secret === undefined && (user.certificateNames ?? []).length === 0)
        throw new ConfigError(api, field, 'needs a secret or certificateNames: it could never authenticate');
      if (tls && (user.certificateNames ?? []).length === 0)
        throw new ConfigError(
          api,
          `${field}.certificateNames`,
          'are required under clientTls: a client authenticates by its certificate there, not by a secret',
        );
      const entry: User = {
        principal: principalOf(name, user.roles, (r) => roles[r]?.permissions, quotasOf(api, `${field}.quotas`, this.baseQuotas, user.quotas), false),
        secret,
      };
      this.users.set(name, entry);
      for (const certName of user.certificateNames ?? []) {
        const other = this.byCertificateName.get(certName);
        if (other !== undefined) throw new ConfigError(api, `${field}.certificateNames`, `${certName} is also ${other.principal.name}'s`);
        this.byCertificateName.set(certName, entry);
      }
    }
  }

  /** The user `name` and its secret, if it has one: configured, else replicated. */
  user(name: string): { readonly principal: Principal; readonly secret: Uint8Array | undefined } | undefined {
    return this.users.get(name) ?? this.replicatedUser(name);
  }

  /**
   * The principal `p` is now (its roles may have changed since its handshake);
   * undefined if its user is gone.
   */
  current(p: Principal): Principal | undefined {
    if (!p.namespaced) return p;
    return this.user(p.name)?.principal;
  }

  /**
   * The user a certificate names: the one whose certificate names hold one of `names`
   * (refused if they name two different users). Undefined if none.
   */
  userOfCertificate(names: readonly string[]): Principal | { readonly ambiguous: readonly string[] } | undefined {
    const found = new Map<string, Principal>();
    const table = this.replicated();
    for (const n of names) {
      const user =
        this.byCertificateName.get(n)?.principal ??
        (table === undefined ? undefined : this.replicatedUser(table.userOfCertificateName(n)?.name ?? '')?.principal);
      if (user !== undefined) found.set(user.name, user);
    }
    if (found.size > 1) return { ambiguous: [...found.keys()] };
    return [...found.values()][0];
  }

  private replicatedUser(name: string): User | undefined {
    const table = this.replicated();
    if (table === undefined || name === '') return undefined;
    if (this.replicatedCache.revision !== table.revision) this.replicatedCache = { revision: table.revision, principals: new Map() };
    const cached = this.replicatedCache.principals.get(name);
    if (cached !== undefined) return cached ?? undefined;
    const record = table.user(name);
    // A configured user of the same name shadows it: it was looked up first.
    const user =
      record === undefined
        ? null
        : { principal: principalOf(name, record.roles, (r) => table.role(r)?.permissions, this.baseQuotas, true), secret: record.secret };
    this.replicatedCache.principals.set(name, user);
    return user ?? undefined;
  }
}

/** A user's principal from its roles' permissions (`root`: every key, and the administrator's requests). */
function principalOf(
  name: string,
  roles: readonly string[],
  permissionsOf: (role: string) => readonly KvPermission[] | undefined,
  quotas: PrincipalQuotas,
  replicated: boolean,
): Principal {
  return Object.freeze({ ...grantsOf(name, roles, permissionsOf), quotas, namespaced: true, replicated });
}

/** The quotas of a principal without any: every one at the largest safe integer. */
const unbounded: PrincipalQuotas = Object.freeze({
  sessionsMax: Number.MAX_SAFE_INTEGER,
  sessionTtlMsMax: Number.MAX_SAFE_INTEGER,
  watchesMax: Number.MAX_SAFE_INTEGER,
  requestsInFlightMax: Number.MAX_SAFE_INTEGER,
  requestBytesInFlightMax: Number.MAX_SAFE_INTEGER,
});

function checkPermission(api: string, field: string, p: KvPermission): void {
  if (p.access !== 'read' && p.access !== 'write' && p.access !== 'readwrite')
    throw new ConfigError(api, `${field}.access`, `must be read, write or readwrite, not ${String(p.access)}`);
  const keyed = 'key' in p && typeof p.key === 'string';
  const prefixed = 'prefix' in p && typeof p.prefix === 'string';
  if (keyed === prefixed) throw new ConfigError(api, field, 'needs exactly one of key and prefix');
  const text = keyed ? (p as { key: string }).key : (p as { prefix: string }).prefix;
  if (keyed && text.length === 0) throw new ConfigError(api, `${field}.key`, 'must not be empty (a prefix of "" grants every key)');
  if (text.length > kvLimits.keyBytesMax) throw new ConfigError(api, field, `a key or prefix is at most ${kvLimits.keyBytesMax} bytes`);
}

function quotasOf(api: string, field: string, base: PrincipalQuotas, given: Partial<PrincipalQuotas> | undefined): PrincipalQuotas {
  const quotas = { ...base, ...given };
  for (const [name, value] of Object.entries(quotas)) {
    if (!(Number.isSafeInteger(value) && value > 0)) throw new ConfigError(api, `${field}.${name}`, `must be a positive integer, not ${String(value)}`);
  }
  if (quotas.sessionTtlMsMax < kvLimits.sessionTtlMsMin)
    throw new ConfigError(api, `${field}.sessionTtlMsMax`, `must be at least kvLimits.sessionTtlMsMin (${kvLimits.sessionTtlMsMin} ms)`);
  return Object.freeze(quotas);
}
