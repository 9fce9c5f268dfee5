/**
 * The users and roles of the replicated state, changed only by `auth-*` commands
 * (validated as they apply, so every replica agrees) and carried by snapshots. Each
 * change moves `revision` on, so a server can tell its view of a user is stale.
 */
import { assert } from '../core/assert.js';
import { authLimits, invalidAuthName, type KvPermission, type KvRoleRecord, type KvUserRecord, rootRole } from './kv-auth.js';
import { kvLimits } from './kv-limits.js';

/** @internal */
export class AuthTable {
  private readonly users = new Map<string, KvUserRecord>();
  private readonly roles = new Map<string, KvRoleRecord>();
  /** Changes applied so far: 0 for a table never changed. */
  revision = 0;

  user(name: string): KvUserRecord | undefined {
    return this.users.get(name);
  }

  role(name: string): KvRoleRecord | undefined {
    return this.roles.get(name);
  }

  /** The user whose certificate names hold `name`, if any. */
  userOfCertificateName(name: string): KvUserRecord | undefined {
    for (const user of this.users.values()) if (user.certificateNames.includes(name)) return user;
    return undefined;
  }

  /** Every user, by name. */
  allUsers(): KvUserRecord[] {
    return [...this.users.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Every role, by name. */
  allRoles(): KvRoleRecord[] {
    return [...this.roles.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Why `user` cannot be put, or undefined. */
  refuseUser(user: KvUserRecord): string | undefined {
    const bad = invalidAuthName('user', user.name);
    if (bad !== undefined) return bad;
    if (!this.users.has(user.name) && this.users.size >= authLimits.usersMax) return `at most ${authLimits.usersMax} users`;
    if (user.secret !== undefined && (user.secret.byteLength < authLimits.secretBytesMin || user.secret.byteLength > authLimits.secretBytesMax)) {
      return `a user secret is ${authLimits.secretBytesMin} to ${authLimits.secretBytesMax} bytes, not ${user.secret.byteLength}`;
    }
    if (user.secret === undefined && user.certificateNames.length === 0)
      return `user ${user.name} needs a secret or certificate names: it could never authenticate`;
    if (user.roles.length > authLimits.rolesPerUserMax) return `a user holds at most ${authLimits.rolesPerUserMax} roles`;
    for (const role of user.roles) if (role !== rootRole && !this.roles.has(role)) return `role ${role} does not exist`;
    if (user.certificateNames.length > authLimits.certificateNamesPerUserMax)
      return `a user has at most ${authLimits.certificateNamesPerUserMax} certificate names`;
    for (const name of user.certificateNames) {
      if (name.length === 0 || name.length > authLimits.certificateNameBytesMax)
        return `a certificate name is 1 to ${authLimits.certificateNameBytesMax} bytes`;
      const other = this.userOfCertificateName(name);
      if (other !== undefined && other.name !== user.name) return `certificate name ${name} is user ${other.name}'s`;
    }
    return undefined;
  }

  /** Why `role` cannot be put, or undefined. */
  refuseRole(role: KvRoleRecord): string | undefined {
    const bad = invalidAuthName('role', role.name);
    if (bad !== undefined) return bad;
    if (role.name === rootRole) return 'root is built in';
    if (!this.roles.has(role.name) && this.roles.size >= authLimits.rolesMax) return `at most ${authLimits.rolesMax} roles`;
    if (role.permissions.length > authLimits.permissionsPerRoleMax) return `a role has at most ${authLimits.permissionsPerRoleMax} permissions`;
    for (const p of role.permissions) {
      const text = 'key' in p ? p.key : p.prefix;
      if ('key' in p && p.key.length === 0) return 'a permission key must not be empty (a prefix of "" grants every key)';
      if (text.length > kvLimits.keyBytesMax) return `a permission's key or prefix is at most ${kvLimits.keyBytesMax} bytes`;
      if (p.access !== 'read' && p.access !== 'write' && p.access !== 'readwrite')
        return `a permission grants read, write or readwrite, not ${String(p.access)}`;
    }
    return undefined;
  }

  /** Adds or replaces `user` (checked by {@link refuseUser}). */
  putUser(user: KvUserRecord): void {
    assert(this.refuseUser(user) === undefined, () => `user ${user.name} put unchecked`);
    this.users.set(user.name, freezeUser(user));
    this.revision++;
  }

  /** Removes the user; whether it existed. */
  deleteUser(name: string): boolean {
    const existed = this.users.delete(name);
    this.revision++;
    return existed;
  }

  /** Adds or replaces `role` (checked by {@link refuseRole}). */
  putRole(role: KvRoleRecord): void {
    assert(this.refuseRole(role) === undefined, () => `role ${role.name} put unchecked`);
    this.roles.set(role.name, { name: role.name, permissions: role.permissions.map(copyPermission) });
    this.revision++;
  }

  /** Removes the role, and takes it from every user that held it; whether it existed. */
  deleteRole(name: string): boolean {
    const existed = this.roles.delete(name);
    if (existed) {
      for (const user of this.users.values())
        if (user.roles.includes(name)) this.users.set(user.name, freezeUser({ ...user, roles: user.roles.filter((r) => r !== name) }));
    }
    this.revision++;
    return existed;
  }

  /** A deep copy, for a snapshot. */
  clone(): AuthTable {
    const copy = new AuthTable();
    copy.restore(this.allRoles(), this.allUsers(), this.revision);
    return copy;
  }

  /** Puts back what a snapshot held (already checked by its decoder). */
  restore(roles: readonly KvRoleRecord[], users: readonly KvUserRecord[], revision: number): void {
    assert(this.users.size === 0 && this.roles.size === 0, 'auth table restored into a used table');
    for (const role of roles) this.roles.set(role.name, { name: role.name, permissions: role.permissions.map(copyPermission) });
    for (const user of users) this.users.set(user.name, freezeUser(user));
    this.revision = revision;
  }
}

function copyPermission(p: KvPermission): KvPermission {
  return 'key' in p ? { key: p.key, access: p.access } : { prefix: p.prefix, access: p.access };
}

function freezeUser(user: KvUserRecord): KvUserRecord {
  return Object.freeze({
    name: user.name,
    ...(user.secret === undefined ? {} : { secret: user.secret.slice() }),
    certificateNames: [...user.certificateNames],
    roles: [...user.roles],
  });
}
