/**
 * The error classes the core can throw. Every synod error extends {@link SynodError},
 * carries a stable string `code`, and is recognisable with `instanceof` even when
 * both the ESM and the CJS copy of the package are loaded (a global-symbol brand).
 */

const brand = Symbol.for('synod.error');

/** Stable, machine-readable error codes. */
export type SynodErrorCode = 'INVARIANT' | 'CONFIG' | (string & {});

/**
 * Base class of every error synod throws.
 *
 * @example
 * ```ts
 * try { createReplica(options); } catch (e) { if (e instanceof SynodError) console.log(e.code); }
 * ```
 */
export class SynodError extends Error {
  /** A stable code, such as `CONFIG` or `INVARIANT`. */
  readonly code: SynodErrorCode;

  constructor(code: SynodErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
    Object.defineProperty(this, brand, { value: true });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null) return false;
    if (!(brand in value)) return false;
    // Subclasses match by name so that two copies of the package agree.
    if (this.name === 'SynodError') return true;
    let proto: unknown = Object.getPrototypeOf(value);
    while (proto !== null && typeof proto === 'object') {
      if ((proto as { constructor?: { name?: string } }).constructor?.name === this.name) return true;
      proto = Object.getPrototypeOf(proto);
    }
    return false;
  }
}

/**
 * A broken protocol invariant: a bug in synod (or in a driver that broke the core's
 * contract). The node that throws it must stop; it is never caught and ignored.
 */
export class InvariantError extends SynodError {
  constructor(message: string) {
    super('INVARIANT', message);
  }
}

/**
 * Invalid configuration, detected once, up front. The message starts with the API
 * name and names the field.
 */
export class ConfigError extends SynodError {
  /** The option at fault, such as `voters` or `electionTicksMin`. */
  readonly field: string;

  constructor(api: string, field: string, why: string) {
    super('CONFIG', `${api}: \`${field}\` ${why}`);
    this.field = field;
  }
}
