/**
 * `synod txn JSON`: a transaction written as JSON, with values as text, checked field
 * by field before anything is sent. A transaction with no compare and no operation is
 * refused: it would do nothing, so it is surely a mistake.
 *
 * ```json
 * {"compare":[{"key":"k","target":"version","op":"==","value":0}],
 *  "success":[{"op":"put","key":"k","value":"v"}],
 *  "failure":[{"op":"range","prefix":"k"}]}
 * ```
 */
import type { Compare, KeyRange, TxnOp, TxnRequest } from '../kv/index.js';
import { UsageError } from './usage-error.js';

const api = 'synod txn';
const bytes = new TextEncoder();
const numberTargets = ['version', 'createRevision', 'modRevision'] as const;
const numberOps = ['==', '!=', '<', '>'] as const;

function fail(field: string, why: string): never {
  throw new UsageError(api, field, why);
}

function objectAt(field: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(field, `must be a JSON object, not ${JSON.stringify(value)}`);
  return value as Record<string, unknown>;
}

function onlyKeys(field: string, o: Record<string, unknown>, allowed: readonly string[]): void {
  const extra = Object.keys(o).find((k) => !allowed.includes(k));
  if (extra !== undefined) fail(`${field}.${extra}`, `is not a field here; valid: ${allowed.join(', ')}`);
}

function stringAt(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) fail(field, `must be a non-empty string, not ${JSON.stringify(value)}`);
  return value;
}

function textAt(field: string, value: unknown): string {
  if (typeof value !== 'string') fail(field, `must be a string (the value as text), not ${JSON.stringify(value)}`);
  return value;
}

function integerAt(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) fail(field, `must be a non-negative integer, not ${JSON.stringify(value)}`);
  return value;
}

function listAt(field: string, value: unknown): readonly unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) fail(field, `must be a JSON array, not ${JSON.stringify(value)}`);
  return value;
}

function compareAt(field: string, raw: unknown): Compare {
  const c = objectAt(field, raw);
  onlyKeys(field, c, ['key', 'target', 'op', 'value']);
  const key = stringAt(`${field}.key`, c['key']);
  const target = c['target'];
  const op = c['op'];
  if (target === 'value') {
    if (op !== '==' && op !== '!=') fail(`${field}.op`, `must be == or != for target value, not ${JSON.stringify(op)}`);
    return { key, target, op, value: bytes.encode(textAt(`${field}.value`, c['value'])) };
  }
  const numberTarget = numberTargets.find((t) => t === target);
  if (numberTarget === undefined) fail(`${field}.target`, `must be one of version, createRevision, modRevision, value, not ${JSON.stringify(target)}`);
  const numberOp = numberOps.find((o) => o === op);
  if (numberOp === undefined) fail(`${field}.op`, `must be one of ==, !=, <, >, not ${JSON.stringify(op)}`);
  return { key, target: numberTarget, op: numberOp, value: integerAt(`${field}.value`, c['value']) };
}

function rangeAt(field: string, o: Record<string, unknown>): KeyRange {
  if (o['key'] !== undefined) return { key: stringAt(`${field}.key`, o['key']) };
  if (o['prefix'] !== undefined) return { prefix: textAt(`${field}.prefix`, o['prefix']) };
  if (o['start'] !== undefined || o['end'] !== undefined) return { start: textAt(`${field}.start`, o['start']), end: textAt(`${field}.end`, o['end']) };
  fail(field, 'must name a key, a prefix, or a start and an end');
}

function opAt(field: string, raw: unknown): TxnOp {
  const o = objectAt(field, raw);
  switch (o['op']) {
    case 'put':
      onlyKeys(field, o, ['op', 'key', 'value', 'session']);
      return {
        op: 'put',
        key: stringAt(`${field}.key`, o['key']),
        value: bytes.encode(textAt(`${field}.value`, o['value'])),
        ...(o['session'] === undefined ? {} : { session: integerAt(`${field}.session`, o['session']) }),
      };
    case 'delete':
      onlyKeys(field, o, ['op', 'key']);
      return { op: 'delete', key: stringAt(`${field}.key`, o['key']) };
    case 'range': {
      onlyKeys(field, o, ['op', 'key', 'prefix', 'start', 'end', 'limit']);
      const range = rangeAt(field, o);
      return { op: 'range', range, ...(o['limit'] === undefined ? {} : { limit: integerAt(`${field}.limit`, o['limit']) }) };
    }
    default:
      fail(`${field}.op`, `must be put, delete or range, not ${JSON.stringify(o['op'])}`);
  }
}

/** The transaction `json` describes; a UsageError names the first field at fault. */
export function txnFromJson(json: string): TxnRequest {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (error) {
    fail(
      'JSON',
      `is not JSON (${error instanceof Error ? error.message : String(error)}); e.g. '{"compare":[],"success":[{"op":"put","key":"k","value":"v"}]}'`,
    );
  }
  const o = objectAt('JSON', raw);
  onlyKeys('JSON', o, ['compare', 'success', 'failure']);
  const compare = listAt('compare', o['compare']).map((c, i) => compareAt(`compare[${i}]`, c));
  const success = listAt('success', o['success']).map((op, i) => opAt(`success[${i}]`, op));
  const failure = listAt('failure', o['failure']).map((op, i) => opAt(`failure[${i}]`, op));
  if (compare.length === 0 && success.length === 0 && failure.length === 0) fail('JSON', 'holds no compare and no operation: it would do nothing');
  return { compare, success, failure };
}
