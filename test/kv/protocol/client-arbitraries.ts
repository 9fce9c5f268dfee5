/**
 * fast-check arbitraries of the client protocol's frames: every {@link ClientRequest}
 * and {@link ServerFrame} kind and every handshake frame, built from the KV record
 * arbitraries (kv-arbitraries.ts). Every frame is within the limits and consistent
 * (events in revision order, a range's `more` matching its `count`), so it encodes;
 * fields the decoder always sets (`request`, `leader`) are present even when undefined.
 */
import fc from 'fast-check';
import type { ClientHandshakeFrame } from '../../../src/kv/protocol/client-handshake.js';
import type { ClientRequest, ErrorBody, MemberAction, RequestIdentity, ServerFrame, ServerStatus } from '../../../src/kv/protocol/client-frames.js';
import type { RangeResult, WatchEvent } from '../../../src/kv/kv-types.js';
import { keyArbitrary, keyRangeArbitrary, keyValueArbitrary, kvCommandArbitrary, kvResultArbitrary, uintArbitrary } from '../kv-arbitraries.js';

const plain = { noNullPrototype: true } as const;

/** A node, client or cluster id: short, non-empty, ASCII mostly, any code point sometimes (at most 255 UTF-8 bytes). */
function idArbitrary(): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 24 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }) },
    { weight: 1, arbitrary: fc.constantFrom('a', '\uFEFFa', 'x'.repeat(255), 'é'.repeat(127)) },
  );
}

function requestIdentityArbitrary(): fc.Arbitrary<RequestIdentity> {
  return fc.tuple(idArbitrary(), uintArbitrary(), uintArbitrary()).map(([clientId, a, b]) => ({ clientId, seq: Math.max(a, b), ackedBelow: Math.min(a, b) }));
}

/** One arbitrary per request kind, so a test can cover each. */
export const clientRequestArbitraries = {
  command: fc.record(
    {
      kind: fc.constant('command'),
      id: uintArbitrary(),
      command: kvCommandArbitrary(),
      request: fc.option(requestIdentityArbitrary(), { nil: undefined }),
      timeoutMs: uintArbitrary(),
    },
    plain,
  ),
  range: fc.record(
    {
      kind: fc.constant('range'),
      id: uintArbitrary(),
      range: keyRangeArbitrary(),
      limit: uintArbitrary(),
      revision: uintArbitrary(),
      linearizable: fc.boolean(),
    },
    plain,
  ),
  watch: fc.record({ kind: fc.constant('watch'), id: uintArbitrary(), range: keyRangeArbitrary(), fromRevision: uintArbitrary() }, plain),
  unwatch: fc.record({ kind: fc.constant('unwatch'), id: uintArbitrary() }, plain),
  status: fc.record({ kind: fc.constant('status'), id: uintArbitrary() }, plain),
  member: fc.record(
    {
      kind: fc.constant('member'),
      id: uintArbitrary(),
      action: fc.constantFrom('list', 'addObserver', 'promote', 'demote', 'remove', 'transfer', 'replace') as fc.Arbitrary<MemberAction>,
      target: idArbitrary(),
      argument: fc.constantFrom('', '127.0.0.1:7001,127.0.0.1:7101', 'd'),
      timeoutMs: uintArbitrary(),
    },
    plain,
  ),
  snapshot: fc.record({ kind: fc.constant('snapshot'), id: uintArbitrary(), timeoutMs: uintArbitrary() }, plain),
  sessions: fc.record({ kind: fc.constant('sessions'), id: uintArbitrary(), linearizable: fc.boolean() }, plain),
  ranges: fc.record({ kind: fc.constant('ranges'), id: uintArbitrary() }, plain),
  watchRanges: fc.record({ kind: fc.constant('watchRanges'), id: uintArbitrary(), range: keyRangeArbitrary(), from: rangeRevisionsArbitrary() }, plain),
} satisfies { [K in ClientRequest['kind']]: fc.Arbitrary<Extract<ClientRequest, { kind: K }>> };

function rangeRevisionsArbitrary(): fc.Arbitrary<{ group: number; revision: number }[]> {
  return fc.array(fc.record({ group: uintArbitrary(), revision: uintArbitrary() }, plain), { maxLength: 8 });
}

export function clientRequestArbitrary(): fc.Arbitrary<ClientRequest> {
  return fc.oneof(...Object.values(clientRequestArbitraries)) as fc.Arbitrary<ClientRequest>;
}

/** Events in revision order (some sharing one), each key modified at its event's revision, and `through` at or past the last. */
function eventsArbitrary(): fc.Arbitrary<{ events: WatchEvent[]; through: number }> {
  const event = fc.tuple(fc.constantFrom('put', 'delete') as fc.Arbitrary<'put' | 'delete'>, uintArbitrary(), keyValueArbitrary());
  return fc.tuple(fc.array(event, { maxLength: 6 }), uintArbitrary(), fc.boolean()).map(([raw, extra, repeat]) => {
    const revisions = raw.map(([, revision]) => revision).sort((a, b) => a - b);
    if (repeat && revisions.length > 1) revisions[1] = revisions[0]!; // a transaction: two events of one revision
    const events = raw.map(([type, , kv], i): WatchEvent => ({ type, revision: revisions[i]!, kv: { ...kv, modRevision: revisions[i]! } }));
    const last = revisions[revisions.length - 1] ?? 0;
    return { events, through: last + Math.min(extra, Number.MAX_SAFE_INTEGER - last) };
  });
}

function rangeResultArbitrary(): fc.Arbitrary<RangeResult> {
  return fc
    .tuple(fc.array(keyValueArbitrary(), { maxLength: 6 }), fc.oneof(fc.constant(0), uintArbitrary()), uintArbitrary())
    .map(([kvs, leftOut, revision]) => {
      const left = Math.min(leftOut, Number.MAX_SAFE_INTEGER - kvs.length);
      return { kvs, more: left > 0, count: kvs.length + left, revision };
    });
}

function serverStatusArbitrary(): fc.Arbitrary<ServerStatus> {
  return fc.record(
    {
      node: idArbitrary(),
      leader: fc.option(idArbitrary(), { nil: undefined }),
      role: fc.constantFrom('leader', 'follower', 'candidate', 'starting'),
      members: fc.array(idArbitrary(), { maxLength: 5 }),
      commitIndex: uintArbitrary(),
      appliedIndex: uintArbitrary(),
      revision: uintArbitrary(),
      compactRevision: uintArbitrary(),
    },
    plain,
  );
}

/** A refusal; its message short enough (at most 4,096 UTF-16 units) to travel untrimmed. */
function errorBodyArbitrary(): fc.Arbitrary<ErrorBody> {
  return fc.record(
    {
      code: fc.constantFrom('VERSION_CONFLICT', 'COMPACTED', 'NOT_LEADER', 'TIMEOUT', 'CLOSED', 'INTERNAL', 'SOMETHING_NEW'),
      message: fc.oneof(
        { weight: 9, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
        { weight: 1, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 4000, maxLength: 4096 }) },
      ),
      key: keyArbitrary(),
      number: uintArbitrary(),
      revision: uintArbitrary(),
      leaderHint: idArbitrary(),
    },
    { noNullPrototype: true, requiredKeys: ['code', 'message'] },
  );
}

/** One arbitrary per server frame kind. */
export const serverFrameArbitraries = {
  result: fc.record({ kind: fc.constant('result'), id: uintArbitrary(), result: kvResultArbitrary() }, plain),
  range: fc.record({ kind: fc.constant('range'), id: uintArbitrary(), result: rangeResultArbitrary() }, plain),
  watching: fc.record({ kind: fc.constant('watching'), id: uintArbitrary(), fromRevision: uintArbitrary() }, plain),
  events: fc.tuple(uintArbitrary(), eventsArbitrary()).map(([id, { events, through }]) => ({ kind: 'events' as const, id, events, through })),
  status: fc.record({ kind: fc.constant('status'), id: uintArbitrary(), status: serverStatusArbitrary() }, plain),
  error: fc.record({ kind: fc.constant('error'), id: uintArbitrary(), error: errorBodyArbitrary() }, plain),
  members: fc.record(
    {
      kind: fc.constant('members'),
      id: uintArbitrary(),
      configuration: fc
        .uniqueArray(fc.constantFrom('a', 'b', 'c', 'd', 'e'), { minLength: 1 })
        .map((voters) => ({ id: voters.length, voters, quorum: 'majority' as const, observers: ['o'], addresses: { o: 'h:1,h:2' }, windowSlots: 256 })),
      from: uintArbitrary(),
    },
    plain,
  ),
  snapshotChunk: fc
    .tuple(
      uintArbitrary(),
      uintArbitrary(),
      fc.uint8Array({ minLength: 1, maxLength: 40 }),
      fc.nat({ max: 100 }),
      fc.nat({ max: 100 }),
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
    )
    .map(([id, slot, data, before, after, sha256]) => ({
      kind: 'snapshotChunk' as const,
      id,
      slot,
      totalBytes: before + data.byteLength + after,
      offset: before,
      sha256,
      data,
    })),
  sessions: fc
    .tuple(
      uintArbitrary(),
      fc.array(fc.record({ id: uintArbitrary(), ttlMs: uintArbitrary(), expiresAt: uintArbitrary(), keys: uintArbitrary() }, plain), { maxLength: 20 }),
      fc.nat({ max: 100 }),
      uintArbitrary(),
    )
    .map(([id, sessions, more, revision]) => ({ kind: 'sessions' as const, id, list: { sessions, count: sessions.length + more, revision } })),
  rangeWatching: fc.record({ kind: fc.constant('rangeWatching'), id: uintArbitrary(), from: rangeRevisionsArbitrary() }, plain),
  rangeEvents: fc
    .tuple(uintArbitrary(), uintArbitrary(), eventsArbitrary())
    .map(([id, group, { events, through }]) => ({ kind: 'rangeEvents' as const, id, group, events, through })),
  ranges: fc.record(
    {
      kind: fc.constant('ranges'),
      id: uintArbitrary(),
      // The first range starts at '' (a key the store refuses, but a range's start).
      ranges: fc.array(
        fc.record(
          {
            group: uintArbitrary(),
            start: fc.oneof(fc.constant(''), keyArbitrary()),
            end: keyArbitrary(),
            leader: idArbitrary(),
            revision: uintArbitrary(),
            keys: uintArbitrary(),
            valueBytes: uintArbitrary(),
          },
          { requiredKeys: ['group', 'start', 'revision', 'keys', 'valueBytes'], noNullPrototype: true },
        ),
        { maxLength: 8 },
      ),
    },
    plain,
  ),
} satisfies { [K in ServerFrame['kind']]: fc.Arbitrary<Extract<ServerFrame, { kind: K }>> };

export function serverFrameArbitrary(): fc.Arbitrary<ServerFrame> {
  return fc.oneof(...Object.values(serverFrameArbitraries)) as fc.Arbitrary<ServerFrame>;
}

const nonce = fc.uint8Array({ minLength: 32, maxLength: 32 });
const proof = fc.oneof(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.constant(new Uint8Array(0)));

/** One arbitrary per handshake frame kind (a proof is 32 bytes, or empty under TLS). */
export const handshakeArbitraries = {
  challenge: fc.record({ kind: fc.constant('challenge'), cluster: idArbitrary(), node: idArbitrary(), nonce }, plain),
  hello: fc.record({ kind: fc.constant('hello'), clientId: idArbitrary(), nonce, proof }, plain),
  welcome: fc.record({ kind: fc.constant('welcome'), proof }, plain),
  refuse: fc.record({ kind: fc.constant('refuse'), reason: fc.string({ unit: 'binary', maxLength: 100 }) }, plain),
} satisfies { [K in ClientHandshakeFrame['kind']]: fc.Arbitrary<Extract<ClientHandshakeFrame, { kind: K }>> };

export function handshakeArbitrary(): fc.Arbitrary<ClientHandshakeFrame> {
  return fc.oneof(...Object.values(handshakeArbitraries)) as fc.Arbitrary<ClientHandshakeFrame>;
}
