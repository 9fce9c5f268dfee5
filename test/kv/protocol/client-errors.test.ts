import { describe, expect, it } from 'vitest';
import { ResultDroppedError, ResultExpiredError } from '../../../src/runtime/index.js';
import { decodeServerFrame, encodeServerFrame } from '../../../src/kv/protocol/client-codec.js';
import { KvServerError, errorBodyOf, errorFromBody } from '../../../src/kv/protocol/client-errors.js';

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

  it('a code without a class here stays a KvServerError with the server’s code', () => {
    const error = acrossTheWire(new KvServerError('SOMETHING_NEW', 'from a newer server'));
    expect(error).toBeInstanceOf(KvServerError);
    expect(error).toMatchObject({ code: 'SOMETHING_NEW' });
  });
});
