/**
 * A command goes into the log encoded once: `kvCommandCodec.encodeAfter` gives the
 * bytes `encode` gives, after the room asked for, whether the command was read from a
 * client's frame (its bytes are entered as they came), is a put of a large value
 * (written in place) or anything else; so what a server enters for a client's command
 * is exactly what a fresh encoding of the command it checked would be.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { kvCommandCodec, writeCommand } from '../../src/kv/kv-codec.js';
import type { KvCommand } from '../../src/kv/kv-command.js';
import { kvLimits } from '../../src/kv/kv-limits.js';
import { decodeClientRequest, encodeClientRequest } from '../../src/kv/protocol/client-codec.js';
import { Writer } from '../../src/encoding/writer.js';
import { kvCommandArbitrary } from './kv-arbitraries.js';

const encodeAfter = kvCommandCodec.encodeAfter!;

/** `encodeAfter` with `head` bytes of room, filled with 0xee so a write into them shows. */
function encodedAfter(command: KvCommand, head: number): { bytes: Uint8Array; head: Uint8Array } {
  const bytes = encodeAfter(command, head, (n) => new Uint8Array(n).fill(0xee));
  return { bytes: bytes.subarray(head), head: bytes.subarray(0, head) };
}

/** A command as a server reads it from a client's frame. */
function fromFrame(command: KvCommand): KvCommand {
  const request = decodeClientRequest(encodeClientRequest({ kind: 'command', id: 7, request: undefined, timeoutMs: 0, command }));
  if (request.kind !== 'command') throw new Error(`decoded a ${request.kind}`);
  return request.command;
}

describe('kvCommandCodec.encodeAfter', () => {
  it('gives the bytes encode gives, after the room asked for, which it leaves alone', () => {
    fc.assert(
      fc.property(kvCommandArbitrary(), fc.integer({ min: 0, max: 600 }), (command, head) => {
        const out = encodedAfter(command, head);
        expect(out.bytes).toEqual(kvCommandCodec.encode(command));
        expect(out.head.every((b) => b === 0xee)).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it("enters a command read from a client's frame as the bytes it came in, the same as encoding it anew", () => {
    fc.assert(
      fc.property(kvCommandArbitrary(), fc.integer({ min: 0, max: 300 }), (command, head) => {
        const read = fromFrame(command);
        const fresh = kvCommandCodec.encode(structuredClone(read));
        expect(encodedAfter(read, head).bytes).toEqual(fresh);
        expect(kvCommandCodec.encode(read)).toEqual(fresh);
        expect(kvCommandCodec.decode(fresh)).toEqual(read);
      }),
      { numRuns: 400 },
    );
  });

  it('writes a put of a large value in place, with every optional field and a key of multi-byte characters', () => {
    const value = new Uint8Array(kvLimits.valueBytesMax).map((_, i) => i * 7);
    const puts: KvCommand[] = [
      { type: 'put', key: 'k', value: value.subarray(0, 4096) },
      { type: 'put', key: '日本/😀'.repeat(40), value, expectedVersion: 2 ** 53 - 1, session: 2 ** 53 - 1, sequential: true },
      { type: 'put', key: 'x'.repeat(kvLimits.keyBytesMax), value: value.subarray(1), sequential: false },
    ];
    // Compared as Buffers: toEqual walks a megabyte element by element.
    const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
    for (const put of puts) {
      const out = encodedAfter(put, 45);
      expect(out.head.every((b) => b === 0xee)).toBe(true);
      // The reference: the format version, then the command through a writer of its own.
      const w = new Writer();
      w.u8(1);
      writeCommand(w, put);
      expect(same(out.bytes, w.finish())).toBe(true);
      expect(same(kvCommandCodec.encode(put), w.finish())).toBe(true);
      const decoded = kvCommandCodec.decode(out.bytes);
      expect(decoded.type === 'put' && same(decoded.value, (put as Extract<KvCommand, { type: 'put' }>).value)).toBe(true);
      expect({ ...decoded, value: undefined }).toEqual({ ...put, value: undefined });
    }
  });

  it('encodes anew a command the server rewrote: its bytes are not those of the command it read', () => {
    const read = fromFrame({ type: 'session-create', ttlMs: 5_000 });
    const owned: KvCommand = { type: 'session-create', ttlMs: 5_000, owner: { user: 'alice', sessionsMax: 3 } };
    expect(kvCommandCodec.decode(encodedAfter(owned, 10).bytes)).toEqual(owned);
    expect(kvCommandCodec.decode(encodedAfter(read, 10).bytes)).toEqual({ type: 'session-create', ttlMs: 5_000 });
  });
});
