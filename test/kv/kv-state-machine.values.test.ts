/**
 * What the store keeps of a put's value, a view into its log entry: the view itself when
 * it pins little more than the value (a large value's own entry: no copy at apply), a
 * copy when it would pin a frame of other commands (a long-lived key must not keep a
 * 64 KiB socket read alive). Either way the value reads back the same.
 */
import { describe, expect, it } from 'vitest';
import { KvStateMachine } from '../../src/kv/index.js';

let slot = 0;
const meta = () => ({ slot: ++slot, timestamp: slot, clientId: 'c', seq: slot, origin: 'a' });

/** `n` bytes of a pattern at `offset` in a buffer of `bufferBytes`. */
function viewOf(n: number, offset: number, bufferBytes: number): Uint8Array {
  const value = new Uint8Array(bufferBytes).subarray(offset, offset + n);
  for (let i = 0; i < n; i++) value[i] = (i * 31) & 0xff;
  return value;
}

function kept(value: Uint8Array): Uint8Array {
  const machine = new KvStateMachine();
  expect(machine.apply({ type: 'put', key: 'k', value }, meta()).type).toBe('put');
  const stored = machine.view.range({ key: 'k' }, 1, machine.revision, 1 << 30).kvs[0]!.value;
  expect(stored).toEqual(value);
  return stored;
}

describe('a put keeps its value', () => {
  it('as the view itself when its entry is little more than the value', () => {
    const value = viewOf(128 * 1024, 90, 128 * 1024 + 120);
    expect(kept(value)).toBe(value);
  });

  it('as a copy when the view pins a frame of other commands', () => {
    const value = viewOf(100, 4_000, 64 * 1024);
    const stored = kept(value);
    expect(stored).not.toBe(value);
    expect(stored.buffer).not.toBe(value.buffer);
  });

  it('as a copy when the buffer holds more than an eighth beyond the value, and 256 bytes', () => {
    const value = viewOf(8 * 1024, 0, 8 * 1024 + 1024 + 257);
    expect(kept(value)).not.toBe(value);
    const justUnder = viewOf(8 * 1024, 0, 8 * 1024 + 1024 + 256);
    expect(kept(justUnder)).toBe(justUnder);
  });
});
