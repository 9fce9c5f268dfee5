/**
 * Request latency as ZooKeeper's `srvr`, `stat`, `mntr` and `cons` report it: the
 * least, mean and most time from reading a request to answering it, in whole
 * milliseconds, over the requests answered since the last reset.
 */
import { assert } from '../../core/assert.js';

/** Latencies of answered requests, ms. @internal */
export class ZkLatency {
  private count = 0;
  private totalMs = 0;
  private minMs = Number.POSITIVE_INFINITY;
  private maxMs = 0;
  /** The last request's latency, ms (0 before any). */
  lastMs = 0;

  /** Adds one answered request's latency, ms (fractions are dropped, as ZooKeeper's millisecond clock does). */
  record(ms: number): void {
    // Measured on the monotonic clock, which never goes back.
    assert(Number.isFinite(ms) && ms >= 0, () => `a request answered ${ms} ms after it was read`);
    const whole = Math.floor(ms);
    this.count++;
    this.totalMs += whole;
    this.minMs = Math.min(this.minMs, whole);
    this.maxMs = Math.max(this.maxMs, whole);
    this.lastMs = whole;
    assert(this.minMs <= this.maxMs, () => `latency min ${this.minMs} ms above max ${this.maxMs} ms`);
  }

  /** Forgets every latency (`srst`, `crst`). */
  reset(): void {
    this.count = 0;
    this.totalMs = 0;
    this.minMs = Number.POSITIVE_INFINITY;
    this.maxMs = 0;
    this.lastMs = 0;
  }

  /** Requests recorded. */
  get answered(): number {
    return this.count;
  }

  /** The least latency, ms; 0 before any request (as ZooKeeper prints it). */
  get min(): number {
    return this.count === 0 ? 0 : this.minMs;
  }

  /** The most latency, ms; 0 before any request. */
  get max(): number {
    return this.maxMs;
  }

  /** The mean latency, ms, unrounded; 0 before any request. */
  get mean(): number {
    return this.count === 0 ? 0 : this.totalMs / this.count;
  }
}
