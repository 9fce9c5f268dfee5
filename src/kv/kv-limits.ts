/**
 * The named limits of the KV, in one place. They are part of the replicated
 * behaviour: every replica of one cluster must use the same.
 *
 * @example
 * ```ts
 * if (new TextEncoder().encode(key).byteLength > kvLimits.keyBytesMax) throw new Error('key too long');
 * ```
 */
export const kvLimits = {
  /** Longest key, in UTF-8 bytes. */
  keyBytesMax: 4096,
  /** Largest value, in bytes. */
  valueBytesMax: 1024 * 1024,
  /** Compares and operations of one transaction, each. */
  txnOpsMax: 128,
  /** Keys one range read returns at most (a larger `limit` is capped). */
  rangeKeysMax: 10_000,
  /** Shortest session TTL, in ms. */
  sessionTtlMsMin: 100,
  /** Longest session TTL, in ms. */
  sessionTtlMsMax: 24 * 60 * 60 * 1000,
  /** Live sessions at once; more are refused. */
  sessionsMax: 100_000,
  /** Sessions one `listSessions()` lists at most (its `count` says how many live). */
  sessionsListedMax: 10_000,
  /** Digits of a sequential key's counter. */
  sequenceDigits: 10,
} as const;
