import { describe, expect, it } from 'vitest';
import { ResultDroppedError, ResultExpiredError } from '../../../src/runtime/index.js';
import { decodeServerFrame, encodeServerFrame } from '../../../src/kv/protocol/client-codec.js';
import { KvServerError, errorBodyOf, errorFromBody } from '../../../src/kv/protocol/client-errors.js';
import { AnswerTooLargeError, CrossShardError, PermissionDeniedError, QuotaExceededError } from '../../../src/kv/errors.js';

/** An error as a remote client sees it: its body through the codec, rebuilt. */
function acrossTheWire(error: unknown): Error {
  const frame = decodeServerFrame(encodeServerFrame({ kind: 'error', id: 1, error: errorBodyOf(error) }));
  if (frame.kind !== 'error') throw new Error(`decoded a ${frame.kind} frame`);
  return errorFromBody(frame.error);
}

describe('errors across the client protocol', () => {
  it('a dropped result comes back as ResultDroppedError with its request', () => {
    const error = acrossTheWire(new ResultDroppedError('client-7', 1_780_000_000_000_123));
    expect(error).toBeInstanceOf(ResultDroppedError);
    expect(error).toMatchObject({ code: 'RESULT_DROPPED', clientId: 'client-7', seq: 1_780_000_000_000_123 });
  });

  it('an expired result comes back as ResultExpiredError with its request (it was not applied: the client may try again)', () => {
    const error = acrossTheWire(new ResultExpiredError('client-8', 41));
    expect(error).toBeInstanceOf(ResultExpiredError);
    expect(error).toMatchObject({ code: 'RESULT_EXPIRED', clientId: 'client-8', seq: 41 });
  });

  it('a permission refusal comes back as PermissionDeniedError with who, what and on what (a principal with a colon included)', () => {
    const error = acrossTheWire(new PermissionDeniedError(':shared', 'read', 'prefix "app/"'));
    expect(error).toBeInstanceOf(PermissionDeniedError);
    expect(error).toMatchObject({ code: 'PERMISSION_DENIED', principal: ':shared', access: 'read', resource: 'prefix "app/"' });
    expect(error.message).toBe(new PermissionDeniedError(':shared', 'read', 'prefix "app/"').message);
  });

  it('a quota refusal comes back as QuotaExceededError with its quota, limit and message', () => {
    const sent = new QuotaExceededError('watchesMax', 2, 'user mallory has 2 watches open here');
    const error = acrossTheWire(sent);
    expect(error).toBeInstanceOf(QuotaExceededError);
    expect(error).toMatchObject({ code: 'QUOTA_EXCEEDED', quota: 'watchesMax', limit: 2, message: sent.message });
  });

  it('an answer too large comes back as AnswerTooLargeError with its size, the bound, and whether the request wrote', () => {
    for (const applied of [true, false]) {
      const sent = new AnswerTooLargeError(90_000_000, 64 * 1024 * 1024, applied);
      const error = acrossTheWire(sent);
      expect(error).toBeInstanceOf(AnswerTooLargeError);
      expect(error).toMatchObject({ code: 'ANSWER_TOO_LARGE', bytes: 90_000_000, bytesMax: 64 * 1024 * 1024, applied, message: sent.message });
    }
  });

  it('a transaction spanning ranges comes back as CrossShardError with the ranges’ groups, in order', () => {
    const sent = new CrossShardError([3, 1, 12]);
    const error = acrossTheWire(sent);
    expect(error).toBeInstanceOf(CrossShardError);
    expect(error).toMatchObject({ code: 'CROSS_SHARD', groups: [3, 1, 12], message: sent.message });
  });

  it('a code without a class here stays a KvServerError with the server’s code', () => {
    const error = acrossTheWire(new KvServerError('SOMETHING_NEW', 'from a newer server'));
    expect(error).toBeInstanceOf(KvServerError);
    expect(error).toMatchObject({ code: 'SOMETHING_NEW' });
  });
});
