/** Shorthands for writing versioned-KV histories by hand. */
import type { KvInput, KvOutput, Operation } from '../../../src/testing/index.js';

export type KvOperation = Operation<KvInput, KvOutput>;

export const get: KvInput = { op: 'get' };
export const put = (value: string, expectedVersion?: number): KvInput =>
  expectedVersion === undefined ? { op: 'put', value } : { op: 'put', value, expectedVersion };
export const del = (expectedVersion?: number): KvInput => (expectedVersion === undefined ? { op: 'delete' } : { op: 'delete', expectedVersion });

export const value = (v: string, version: number): KvOutput => ({ type: 'value', value: v, version });
export const written = (version: number): KvOutput => ({ type: 'written', version });
export const conflict = (version: number): KvOutput => ({ type: 'conflict', version });
export const absent: KvOutput = { type: 'absent' };
export const deleted: KvOutput = { type: 'deleted' };

/** An `ok` operation on `key` over [invokedAt, completedAt]. */
export function ok(client: string, input: KvInput, invokedAt: number, completedAt: number, output: KvOutput, key = 'x'): KvOperation {
  return { client, key, input, invokedAt, completedAt, outcome: 'ok', output };
}

/** A `fail` operation: definitely did not take effect. */
export function fail(client: string, input: KvInput, invokedAt: number, completedAt: number, key = 'x'): KvOperation {
  return { client, key, input, invokedAt, completedAt, outcome: 'fail' };
}

/** An `info` operation: invoked at `invokedAt`, outcome unknown. */
export function info(client: string, input: KvInput, invokedAt: number, key = 'x'): KvOperation {
  return { client, key, input, invokedAt, outcome: 'info' };
}
