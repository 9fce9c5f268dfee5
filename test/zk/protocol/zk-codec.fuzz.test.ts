/**
 * Properties of the jute codec: every request round-trips, and hostile bytes (random,
 * or valid encodings with bytes flipped, set, inserted, deleted, cut off) either decode
 * to a request that encodes and decodes back to itself, or throw CodecError, never
 * anything else. The same for connect requests and the log's command encoding.
 *
 * 110,000 fuzz inputs by default; SYNOD_FUZZ_SCALE=10 runs ten times as many. A
 * failure prints fast-check's seed and path.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CodecError } from '../../../src/encoding/codec-error.js';
import { decodeRequest, encodeRequest, type ZkRequest } from '../../../src/zk/protocol/zk-request.js';
import { decodeConnectRequest, encodeConnectRequest } from '../../../src/zk/protocol/zk-connect.js';
import { decodeZkCommand, decodeZkResult, encodeZkCommand, encodeZkResult } from '../../../src/zk/zk-command-codec.js';
import type { ZkAcl, ZkCommand, ZkResult, ZkWriteOp } from '../../../src/zk/index.js';

const scale = Number(process.env['SYNOD_FUZZ_SCALE'] ?? 1);

const pathArb = fc.constantFrom('/', '/a', '/a/b', '/zookeeper', '/é/ü', '');
const dataArb = fc.uint8Array({ maxLength: 12 });
const aclArb: fc.Arbitrary<ZkAcl[]> = fc.array(
  fc.record({
    perms: fc.integer({ min: -1, max: 40 }),
    id: fc.record({ scheme: fc.constantFrom('world', 'digest', 'ip', 'auth'), id: fc.constantFrom('anyone', 'u:h', '10.0.0.0/8', '') }),
  }),
  { maxLength: 3 },
);
const versionArb = fc.integer({ min: -2, max: 1 << 30 });

/** A create in a multi as the decoder rebuilds it from its mode, as ZooKeeper does (see zk-request.ts). */
function inMulti(op: ZkWriteOp): ZkWriteOp {
  if (op.op !== 'create') return op;
  const { kind, ttlMs, ...base } = op;
  if (op.flags === 4) return { ...base, withStat: true, kind: 'container' };
  if (kind === 'ttl' && (op.flags === 5 || op.flags === 6)) return { ...base, withStat: true, kind, ttlMs: ttlMs ?? 0 };
  return { ...base, withStat: false };
}

const writeOpArb: fc.Arbitrary<ZkWriteOp> = fc.oneof(
  fc
    .record({
      op: fc.constant('create' as const),
      path: pathArb,
      data: dataArb,
      acl: aclArb,
      flags: fc.integer({ min: 0, max: 6 }),
      withStat: fc.boolean(),
      kind: fc.constantFrom(undefined, 'container' as const, 'ttl' as const),
      ttlMs: fc.maxSafeInteger(),
    })
    // A createContainer or createTTL always answers a Stat; only createTTL carries a TTL.
    .map(({ kind, ttlMs, ...c }) => (kind === undefined ? c : kind === 'container' ? { ...c, withStat: true, kind } : { ...c, withStat: true, kind, ttlMs })),
  fc.record({ op: fc.constant('delete' as const), path: pathArb, version: versionArb }),
  fc.record({ op: fc.constant('setData' as const), path: pathArb, data: dataArb, version: versionArb }),
  fc.record({ op: fc.constant('check' as const), path: pathArb, version: versionArb }),
);
const stringsArb = fc.array(pathArb, { maxLength: 3 });
const safeLong = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });

const requestArb: fc.Arbitrary<ZkRequest> = fc.oneof(
  fc.constant({ type: 'ping' as const }),
  fc.constant({ type: 'closeSession' as const }),
  fc.record({ type: fc.constant('auth' as const), scheme: fc.constantFrom('digest', 'ip'), auth: dataArb }),
  fc
    .record({
      type: fc.constant('setWatches' as const),
      version: fc.constantFrom(1 as const, 2 as const),
      watches: fc.record({
        relativeZxid: safeLong,
        data: stringsArb,
        exist: stringsArb,
        child: stringsArb,
        persistent: stringsArb,
        persistentRecursive: stringsArb,
      }),
    })
    .map((s) => (s.version === 1 ? { ...s, watches: { ...s.watches, persistent: [], persistentRecursive: [] } } : s)),
  fc.record({ type: fc.constant('sync' as const), path: pathArb }),
  fc.record({
    type: fc.constantFrom('exists' as const, 'getData' as const, 'getChildren' as const, 'getChildren2' as const),
    path: pathArb,
    watch: fc.boolean(),
  }),
  fc.record({ type: fc.constantFrom('getACL' as const, 'getAllChildrenNumber' as const), path: pathArb }),
  fc.record({ type: fc.constant('getEphemerals' as const), prefix: pathArb }),
  fc.record({ type: fc.constant('addWatch' as const), path: pathArb, mode: fc.integer({ min: -1, max: 2 }) }),
  fc.record({ type: fc.constantFrom('removeWatches' as const, 'checkWatches' as const), path: pathArb, watcherType: fc.integer({ min: 0, max: 4 }) }),
  fc.record({
    type: fc.constant('multiRead' as const),
    ops: fc.array(fc.record({ type: fc.constantFrom('getData' as const, 'getChildren' as const), path: pathArb }), { maxLength: 3 }),
  }),
  fc.record({ type: fc.constant('write' as const), request: writeOpArb }),
  fc.record({
    type: fc.constant('write' as const),
    request: fc.record({ op: fc.constant('multi' as const), ops: fc.array(writeOpArb.map(inMulti), { maxLength: 4 }) }),
  }),
  fc.record({ type: fc.constant('unknown' as const), opcode: fc.constantFrom(10, 16, 20, 102, 107, 999) }),
);

const commandArb: fc.Arbitrary<ZkCommand> = fc.oneof(
  fc.record({
    type: fc.constant('session-create' as const),
    password: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    ttlMs: fc.integer({ min: 0, max: 1 << 30 }),
  }),
  fc.record({ type: fc.constant('session-touch' as const), sessions: fc.array(safeLong, { maxLength: 4 }) }),
  fc.record({ type: fc.constant('node-expire' as const), nodes: fc.array(fc.record({ path: pathArb, mzxid: safeLong }), { maxLength: 3 }) }),
  fc.record({ type: fc.constant('session-expire' as const), sessions: fc.array(safeLong, { maxLength: 4 }), decidedAtSlot: safeLong }),
  fc.constant({ type: 'session-renew' as const }),
  fc.record({ type: fc.constant('session-close' as const), session: safeLong }),
  fc.record({
    type: fc.constant('write' as const),
    session: safeLong,
    auth: fc.array(fc.record({ scheme: fc.constantFrom('digest', 'ip'), id: fc.string({ maxLength: 8 }) }), { maxLength: 2 }),
    request: fc.oneof(writeOpArb, fc.record({ op: fc.constant('multi' as const), ops: fc.array(writeOpArb.map(inMulti), { maxLength: 3 }) })),
  }),
);

const statArb = fc.record({
  czxid: safeLong,
  mzxid: safeLong,
  ctime: safeLong,
  mtime: safeLong,
  version: fc.integer({ min: 0, max: 100 }),
  cversion: fc.integer({ min: 0, max: 100 }),
  aversion: fc.integer({ min: 0, max: 100 }),
  ephemeralOwner: safeLong,
  dataLength: fc.nat(100),
  numChildren: fc.nat(100),
  pzxid: safeLong,
});
const opResultArb = fc.oneof(
  fc.record({ op: fc.constant('create' as const), path: pathArb, stat: fc.option(statArb, { nil: undefined }) }),
  fc.constant({ op: 'delete' as const }),
  fc.record({ op: fc.constantFrom('setData' as const, 'setACL' as const), stat: statArb }),
  fc.constant({ op: 'check' as const }),
  fc.record({ op: fc.constant('error' as const), err: fc.integer({ min: -130, max: 0 }) }),
);
const resultArb: fc.Arbitrary<ZkResult> = fc.oneof(
  fc.record({
    type: fc.constant('session' as const),
    session: safeLong,
    password: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    ttlMs: fc.nat(),
    zxid: safeLong,
  }),
  fc.record({
    type: fc.constant('written' as const),
    zxid: safeLong,
    result: fc.oneof(opResultArb, fc.record({ op: fc.constant('multi' as const), results: fc.array(opResultArb, { maxLength: 3 }) })),
  }),
  fc.record({ type: fc.constantFrom('done' as const, 'no-session' as const), zxid: safeLong }),
  fc.record({ type: fc.constant('invalid' as const), zxid: safeLong, reason: fc.string({ maxLength: 10 }) }),
);

/** Random edits of a valid encoding. */
function mutated(base: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(
      base,
      fc.array(fc.record({ kind: fc.constantFrom('flip', 'set', 'insert', 'delete', 'cut'), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), {
        minLength: 1,
        maxLength: 3,
      }),
    )
    .map(([bytes, edits]) => {
      let b = [...bytes];
      for (const e of edits) {
        const at = b.length === 0 ? 0 : e.at % b.length;
        if (e.kind === 'flip' && b.length > 0) b[at] = b[at]! ^ (1 << (e.byte % 8));
        else if (e.kind === 'set' && b.length > 0) b[at] = e.byte;
        else if (e.kind === 'insert') b.splice(at, 0, e.byte);
        else if (e.kind === 'delete') b.splice(at, 1);
        else if (e.kind === 'cut') b = b.slice(0, at);
      }
      return Uint8Array.from(b);
    });
}

/** Decodes hostile bytes: CodecError passes; what decodes must survive a round trip unchanged. */
function hostile<T>(decode: (b: Uint8Array) => T, encode: (v: T) => Uint8Array): (bytes: Uint8Array) => void {
  return (bytes) => {
    let decoded: T;
    try {
      decoded = decode(bytes);
    } catch (error) {
      if (error instanceof CodecError) return;
      throw error;
    }
    expect(decode(encode(decoded))).toEqual(decoded);
  };
}

/** Requests compared without their opcode: create2 of a container mode and createContainer decode alike. */
const requestCodec = {
  decode: (b: Uint8Array) => {
    const { xid, request } = decodeRequest(b);
    return { xid, request };
  },
  encode: (f: { xid: number; request: ZkRequest }) => encodeRequest(f.xid, f.request),
};

describe('jute request codec', () => {
  it('round-trips every request', () => {
    fc.assert(
      fc.property(fc.integer({ min: -8, max: 1 << 30 }), requestArb, (xid, request) => {
        const frame = decodeRequest(encodeRequest(xid, request));
        expect(frame.xid).toBe(xid);
        expect(frame.request).toEqual(request);
      }),
      { numRuns: 3_000 * scale },
    );
  });
  it('refuses random bytes with CodecError or decodes them canonically', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), hostile(requestCodec.decode, requestCodec.encode)), { numRuns: 25_000 * scale });
  });
  it('refuses mutated requests with CodecError or decodes them canonically', () => {
    fc.assert(
      fc.property(mutated(fc.tuple(fc.integer(), requestArb).map(([x, r]) => encodeRequest(x, r))), hostile(requestCodec.decode, requestCodec.encode)),
      { numRuns: 45_000 * scale },
    );
  });
  it('refuses malformed connect requests', () => {
    const connect = fc.record({
      protocolVersion: fc.constant(0),
      lastZxidSeen: safeLong,
      timeoutMs: fc.integer({ min: 0, max: 1 << 30 }),
      sessionId: safeLong,
      password: fc.uint8Array({ maxLength: 16 }),
      readOnly: fc.option(fc.boolean(), { nil: undefined }),
    });
    fc.assert(
      fc.property(connect, (c) => {
        expect(decodeConnectRequest(encodeConnectRequest(c))).toEqual(c);
      }),
      { numRuns: 1_000 * scale },
    );
    fc.assert(fc.property(mutated(connect.map(encodeConnectRequest)), hostile(decodeConnectRequest, encodeConnectRequest)), { numRuns: 10_000 * scale });
  });
  it('throws CodecError on trailing bytes, a null path, an oversized length', () => {
    const ping = encodeRequest(-2, { type: 'ping' });
    expect(() => decodeRequest(Uint8Array.from([...ping, 0]))).toThrow(CodecError);
    expect(() => decodeRequest(Uint8Array.from([0, 0, 0, 1, 0, 0, 0, 4, 255, 255, 255, 255, 0]))).toThrow(CodecError);
    expect(() => decodeRequest(Uint8Array.from([0, 0, 0, 1, 0, 0, 0, 4, 0x7f, 255, 255, 255, 0]))).toThrow(CodecError);
  });
});

describe('the log encoding of zk commands and results', () => {
  it('round-trips commands and results', () => {
    fc.assert(
      fc.property(commandArb, (c) => {
        expect(decodeZkCommand(encodeZkCommand(c))).toEqual(c);
      }),
      { numRuns: 2_000 * scale },
    );
    fc.assert(
      fc.property(resultArb, (r) => {
        expect(decodeZkResult(encodeZkResult(r))).toEqual(r);
      }),
      { numRuns: 2_000 * scale },
    );
  });
  it('refuses mutated commands and results with CodecError', () => {
    fc.assert(fc.property(mutated(commandArb.map(encodeZkCommand)), hostile(decodeZkCommand, encodeZkCommand)), { numRuns: 15_000 * scale });
    fc.assert(fc.property(mutated(resultArb.map(encodeZkResult)), hostile(decodeZkResult, encodeZkResult)), { numRuns: 10_000 * scale });
  });
});
