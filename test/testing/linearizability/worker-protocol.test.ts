/**
 * A failure found on a worker thread travels as indexes into its key's operations and
 * comes back naming the caller's own operation objects. Both ends run here, in this
 * thread: on a worker, coverage and mutation testing would not see the encoding side.
 */
import { describe, expect, it } from 'vitest';
import { checkLinearizability, versionedKvModel } from '../../../src/testing/index.js';
import { decodeFailure, encodeFailure } from '../../../src/testing/linearizability/worker-protocol.js';
import { type KvOperation, get, ok, put, value, written } from './fixtures.js';

/** A key that fails: a read of a value no write wrote, among two writes and a good read. */
function failing() {
  const operations = [
    ok('a', put('1'), 0, 1, written(1)),
    ok('b', get, 2, 3, value('1', 1)),
    ok('c', put('2'), 4, 5, written(2)),
    ok('d', get, 6, 7, value('9', 3)),
  ];
  const verdict = checkLinearizability(operations, versionedKvModel);
  if (verdict.result !== 'not-linearizable') throw new Error(`expected a failure, got ${verdict.result}`);
  const { key, minimal, shrinkComplete, explanation } = verdict;
  return { operations, failure: { key, minimal, shrinkComplete, explanation } };
}

describe('a failure sent from a worker', () => {
  it('names each operation by its index in the key, and decodes to the same objects', () => {
    const { operations, failure } = failing();
    const encoded = encodeFailure(failure, operations);
    const index = (operation: KvOperation): number => operations.indexOf(operation);
    expect(encoded).toEqual({
      minimal: failure.minimal.map(index),
      shrinkComplete: failure.shrinkComplete,
      stuck: index(failure.explanation.stuck),
      linearized: failure.explanation.linearized.map(index),
      window: failure.explanation.window.map(index),
      states: failure.explanation.states,
      candidates: failure.explanation.candidates.map((c) => ({ operation: index(c.operation), attempts: c.attempts })),
      text: failure.explanation.text,
    });
    // The failure names operations of the key: none is -1 (absent), and the stuck one is the bad read.
    expect(encoded.stuck).toBe(3);
    expect(encoded.candidates.length).toBeGreaterThan(0);
    expect([...encoded.minimal, ...encoded.linearized, ...encoded.window, ...encoded.candidates.map((c) => c.operation)]).not.toContain(-1);

    const decoded = decodeFailure('x', encoded, operations);
    expect(decoded).toEqual(failure);
    expect(decoded.explanation.stuck).toBe(operations[3]);
    decoded.minimal.forEach((operation, i) => expect(operation).toBe(failure.minimal[i]));
    decoded.explanation.candidates.forEach((c, i) => expect(c.operation).toBe(failure.explanation.candidates[i]!.operation));
  });

  it('refuses a failure naming an operation not of the key, on either side', () => {
    const { operations, failure } = failing();
    const stranger = ok('e', get, 8, 9, value('1', 1));
    expect(() => encodeFailure({ ...failure, minimal: [...failure.minimal, stranger] }, operations)).toThrow(
      'key x: the failure names an operation not of the key',
    );
    const encoded = encodeFailure(failure, operations);
    expect(() => decodeFailure('x', { ...encoded, stuck: operations.length }, operations)).toThrow('key x: a worker named operation 4 of 4');
  });
});
