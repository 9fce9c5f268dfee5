/** The split intent's encoding: read back as written, and bytes that are not an intent refused with CodecError. */
import { describe, expect, it } from 'vitest';
import { CodecError } from '../../../src/index.js';
import { type SplitIntent, decodeSplitIntent, encodeSplitIntent } from '../../../src/kv/shard/split-intent.js';

const intent: SplitIntent = { at: 'orders/5', from: 3, group: 9, mapVersion: 4 };

describe('split intent encoding', () => {
  it('reads back what it wrote', () => {
    expect(decodeSplitIntent(encodeSplitIntent(intent))).toEqual(intent);
    expect(decodeSplitIntent(encodeSplitIntent({ at: 'é', from: 1, group: 2, mapVersion: 0 }))).toEqual({ at: 'é', from: 1, group: 2, mapVersion: 0 });
  });

  it('refuses another format version, cut or trailing bytes, and group ids no range may have', () => {
    const bytes = encodeSplitIntent(intent);
    const refused = (b: Uint8Array, why: RegExp): void => {
      expect(() => decodeSplitIntent(b)).toThrow(CodecError);
      expect(() => decodeSplitIntent(b)).toThrow(why);
    };
    refused(Uint8Array.of(2, ...bytes.subarray(1)), /split intent format version 2; this build reads 1/);
    refused(bytes.subarray(0, bytes.length - 1), /malformed frame/);
    refused(Uint8Array.of(...bytes, 0), /malformed frame/);
    refused(encodeSplitIntent({ ...intent, from: 0 }), /the source group 0 is not a range's group id/);
    refused(encodeSplitIntent({ ...intent, group: 0 }), /the new group 0 is not a range's group id/);
    refused(encodeSplitIntent({ ...intent, group: 3 }), /group 3 would split into itself/);
  });

  it('refuses every cut of its bytes, and never throws anything but CodecError on random ones', () => {
    const bytes = encodeSplitIntent(intent);
    for (let n = 0; n < bytes.length; n++) expect(() => decodeSplitIntent(bytes.subarray(0, n))).toThrow(CodecError);
    let seed = 1;
    const random = (): number => (seed = (seed * 48_271) % 0x7fff_ffff);
    for (let i = 0; i < 2_000; i++) {
      const noise = Uint8Array.from({ length: random() % 24 }, () => random() % 256);
      try {
        decodeSplitIntent(noise);
      } catch (error) {
        expect(error).toBeInstanceOf(CodecError);
      }
    }
  });
});
