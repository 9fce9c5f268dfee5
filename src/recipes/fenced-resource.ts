/**
 * The other half of a lock: a resource that checks fencing tokens. Here a small
 * key-value storage service, standing for anything a lock protects (a database, a file
 * server, an object store) that can compare a number atomically with a write.
 */

import { ConfigError, SynodError } from '../core/index.js';

/** A request carried a token lower than the highest this resource has seen: its sender lost the lock. */
export class StaleTokenError extends SynodError {
  /** The token of the refused request. */
  readonly token: number;
  /** The highest token seen, which the refused one is below. */
  readonly highestToken: number;

  constructor(token: number, highestToken: number) {
    super('STALE_TOKEN', `fencing token ${token} is stale: token ${highestToken} has been seen`);
    this.token = token;
    this.highestToken = highestToken;
  }
}

/** One write the resource accepted. */
export interface FencedWrite {
  readonly token: number;
  readonly key: string;
  readonly value: string;
}

/** Options of a {@link FencedResource}. */
export interface FencedResourceOptions {
  /**
   * Whether to check tokens. Default true. `false` turns the resource into one that
   * trusts the lock alone, to show (and test) what goes wrong then.
   */
  readonly checkTokens?: boolean;
  /** Simulated service time of each request, in ms. Default 0 (answers on the next macrotask). */
  readonly latencyMs?: number;
}

/**
 * A storage service that remembers the highest fencing token it has seen and refuses
 * any request with a lower one, with {@link StaleTokenError}. Reads are fenced too: a
 * read with a stale token could feed a stale holder's next write. A token equal to the
 * highest is accepted, so one holder may send many requests.
 *
 * The check and the write happen together, in one step of the service (here: one
 * synchronous block); a check made before an `await` and a write after it would
 * reopen the race the token closes.
 *
 * @example
 * ```ts
 * const storage = new FencedResource();
 * const held = await lock.acquire();
 * const count = Number((await storage.read(held.fencingToken, 'count')) ?? '0');
 * await storage.write(held.fencingToken, 'count', String(count + 1)); // throws StaleTokenError if a later holder came by
 * ```
 */
export class FencedResource {
  /** Every accepted write, in order. */
  readonly writes: FencedWrite[] = [];
  /** Requests refused for a stale token. */
  refused = 0;
  private readonly values = new Map<string, string>();
  private highest = 0;
  private readonly checkTokens: boolean;
  private readonly latencyMs: number;

  constructor(options: FencedResourceOptions = {}) {
    this.checkTokens = options.checkTokens ?? true;
    this.latencyMs = options.latencyMs ?? 0;
    if (!(Number.isFinite(this.latencyMs) && this.latencyMs >= 0))
      throw new ConfigError('FencedResource', 'latencyMs', `must be a non-negative number, not ${this.latencyMs}`);
  }

  /** The highest fencing token seen so far (0 before any request). */
  get highestToken(): number {
    return this.highest;
  }

  /** The value of `key` (undefined if absent), for a request with `token`. */
  async read(token: number, key: string): Promise<string | undefined> {
    await this.serviceTime();
    this.admit(token);
    return this.values.get(key);
  }

  /** Writes `key`, for a request with `token`. */
  async write(token: number, key: string, value: string): Promise<void> {
    await this.serviceTime();
    this.admit(token);
    this.values.set(key, value);
    this.writes.push({ token, key, value });
  }

  /** The value of `key` without a token, for the operator (and tests). */
  peek(key: string): string | undefined {
    return this.values.get(key);
  }

  /** The fencing check: refuse a token below the highest seen, else remember it. */
  private admit(token: number): void {
    if (!(Number.isSafeInteger(token) && token > 0)) throw new ConfigError('FencedResource', 'token', `must be a positive integer, not ${token}`);
    if (this.checkTokens && token < this.highest) {
      this.refused++;
      throw new StaleTokenError(token, this.highest);
    }
    this.highest = Math.max(this.highest, token);
  }

  private serviceTime(): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, this.latencyMs));
  }
}
