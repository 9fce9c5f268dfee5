/**
 * What each principal holds on one KV server, over all its connections: requests being
 * served and their bytes, and watches open. Each is taken against the principal's
 * quota before the work starts and given back when it ends, so one user opening many
 * connections cannot take what the others need.
 */
import { assert } from '../../core/assert.js';
import { QuotaExceededError } from '../errors.js';
import type { Principal } from './access-control.js';
import type { QuotaTrips } from './server-metrics.js';

/** A principal's holdings on this server. */
interface Held {
  requests: number;
  requestBytes: number;
  watches: number;
}

/** @internal */
export class PrincipalUsage {
  private readonly held = new Map<string, Held>();
  private readonly trips: { -readonly [K in keyof QuotaTrips]: number } = {
    sessionsMax: 0,
    sessionTtlMsMax: 0,
    watchesMax: 0,
    requestsInFlightMax: 0,
    requestBytesInFlightMax: 0,
  };

  /** The refusals counted so far. */
  tripped(): QuotaTrips {
    return { ...this.trips };
  }

  /** Counts a refusal of `quota` decided elsewhere (the sessions, by the state machine). */
  trip(quota: keyof QuotaTrips): void {
    this.trips[quota]++;
  }

  /** Refuses a session TTL over the principal's cap. */
  checkSessionTtl(p: Principal, ttlMs: number): void {
    if (p.quotas === undefined || ttlMs <= p.quotas.sessionTtlMsMax) return;
    this.trips.sessionTtlMsMax++;
    throw new QuotaExceededError('sessionTtlMsMax', p.quotas.sessionTtlMsMax, `a session of ${ttlMs} ms for user ${p.name}`);
  }

  /** Takes a request of `bytes` for `p`, or throws {@link QuotaExceededError} and takes nothing. Give it back with {@link endRequest}. */
  beginRequest(p: Principal, bytes: number): void {
    const h = this.of(p);
    const q = p.quotas;
    if (q !== undefined) {
      if (h.requests >= q.requestsInFlightMax) {
        this.trips.requestsInFlightMax++;
        throw new QuotaExceededError('requestsInFlightMax', q.requestsInFlightMax, `user ${p.name} has ${h.requests} requests being served here`);
      }
      // One request is always let through (alone it is bounded by frameBytesMax).
      if (h.requests > 0 && h.requestBytes + bytes > q.requestBytesInFlightMax) {
        this.trips.requestBytesInFlightMax++;
        throw new QuotaExceededError(
          'requestBytesInFlightMax',
          q.requestBytesInFlightMax,
          `user ${p.name} has ${h.requestBytes} bytes of requests being served here`,
        );
      }
    }
    h.requests++;
    h.requestBytes += bytes;
  }

  endRequest(p: Principal, bytes: number): void {
    const h = this.of(p);
    h.requests--;
    h.requestBytes -= bytes;
    assert(h.requests >= 0 && h.requestBytes >= 0, () => `user ${p.name} has ${h.requests} requests of ${h.requestBytes} bytes in flight`);
    this.forgetIdle(p.name, h);
  }

  /** Takes a watch for `p`, or throws {@link QuotaExceededError}. Give it back with {@link endWatch}. */
  beginWatch(p: Principal): void {
    const h = this.of(p);
    if (p.quotas !== undefined && h.watches >= p.quotas.watchesMax) {
      this.trips.watchesMax++;
      throw new QuotaExceededError('watchesMax', p.quotas.watchesMax, `user ${p.name} has ${h.watches} watches open here`);
    }
    h.watches++;
  }

  endWatch(p: Principal): void {
    const h = this.of(p);
    h.watches--;
    assert(h.watches >= 0, () => `user ${p.name} has ${h.watches} watches open`);
    this.forgetIdle(p.name, h);
  }

  /** What `name` holds now (zeros if nothing). */
  holding(name: string): Readonly<Held> {
    return { ...(this.held.get(name) ?? { requests: 0, requestBytes: 0, watches: 0 }) };
  }

  private of(p: Principal): Held {
    let h = this.held.get(p.name);
    if (h === undefined) this.held.set(p.name, (h = { requests: 0, requestBytes: 0, watches: 0 }));
    return h;
  }

  /** A principal holding nothing takes no memory. */
  private forgetIdle(name: string, h: Held): void {
    if (h.requests === 0 && h.watches === 0) this.held.delete(name);
  }
}
