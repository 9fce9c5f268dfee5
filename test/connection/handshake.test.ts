/**
 * The shared handshake's step function on its own: frames in, frames out, done or a
 * typed failure, for both wires (peers': the dialer speaks first and the acceptor
 * confirms; clients': the server speaks first). No sockets, no timers: the steps are
 * pure, so a test shuttles the frames by hand.
 */
import { describe, expect, it } from 'vitest';
import { type Admission, Handshake, type HandshakeConfig, HandshakeError, type HandshakeStep, type HandshakeWire } from '../../src/connection/handshake.js';
import { type ProofContext, type ProofSigner, proofOf } from '../../src/connection/proof.js';
import { clientProtocolVersion } from '../../src/kv/protocol/client-codec.js';
import {
  authenticationRefusal,
  clientHandshakeBytes,
  clientHandshakeBytesMax,
  clientWire,
  decodeClientHandshake,
} from '../../src/kv/protocol/client-handshake.js';
import { protocolVersion } from '../../src/transport/codec/message-codec.js';
import { decodeHandshake, handshakeBytes, peerWire } from '../../src/transport/tcp/handshake.js';

const secret = new TextEncoder().encode('a shared secret of enough bytes');
const otherSecret = new TextEncoder().encode('another secret, also long enough');
const nonceA = new Uint8Array(32).fill(1);
const nonceB = new Uint8Array(32).fill(2);
const peers = peerWire(255);

/** A frame as the step function takes it: without its 4-byte length prefix. */
const body = (frame: Uint8Array): Uint8Array => frame.subarray(4);

const admitWith =
  (proveWith: Uint8Array | undefined, accepted: readonly Uint8Array[] | undefined = proveWith === undefined ? [] : [proveWith]) =>
  (): Admission<string> => ({ accepted, prove: proveWith, grant: 'granted' });

function dialer(over: Partial<HandshakeConfig<string>> = {}): Handshake<string> {
  return new Handshake({ wire: peers, side: 'first', cluster: 'c', id: 'a', peer: 'b', nonce: nonceA, vet: admitWith(secret), ...over });
}
function acceptor(over: Partial<HandshakeConfig<string>> = {}): Handshake<string> {
  return new Handshake({ wire: peers, side: 'second', cluster: 'c', id: 'b', nonce: nonceB, vet: admitWith(secret), ...over });
}
function server(over: Partial<HandshakeConfig<string>> = {}): Handshake<string> {
  return new Handshake({ wire: clientWire, side: 'first', cluster: 'kv', id: 'node-1', nonce: nonceA, vet: admitWith(secret), ...over });
}
function client(over: Partial<HandshakeConfig<string>> = {}): Handshake<string> {
  return new Handshake({ wire: clientWire, side: 'second', cluster: 'kv', id: 'client-7', nonce: nonceB, vet: admitWith(secret), ...over });
}

/** Runs two sides against each other until both stop: every step each took, in turn. */
function run(first: Handshake<string>, second: Handshake<string>): { first: HandshakeStep<string>[]; second: HandshakeStep<string>[] } {
  const steps = { first: [first.start()], second: [second.start()] };
  let inFlight: { to: 'first' | 'second'; frames: readonly Uint8Array[] } = { to: 'second', frames: steps.first[0]!.send };
  for (let turns = 0; inFlight.frames.length > 0 && turns < 10; turns++) {
    const side = inFlight.to === 'first' ? first : second;
    const taken: HandshakeStep<string>[] = [];
    for (const frame of inFlight.frames) if (!side.finished) taken.push(side.receive(body(frame)));
    steps[inFlight.to].push(...taken);
    inFlight = { to: inFlight.to === 'first' ? 'second' : 'first', frames: taken.flatMap((s) => s.send) };
  }
  return steps;
}

const last = <T>(list: readonly T[]): T => list[list.length - 1]!;
const failureOf = (steps: readonly HandshakeStep<string>[]): HandshakeError | undefined => steps.find((s) => s.failed !== undefined)?.failed;

describe('the shared handshake: good proofs', () => {
  it('peers: hello, welcome, proof, ready; both ends done, each knowing the other', () => {
    const a = dialer();
    const b = acceptor();
    const steps = run(a, b);
    expect(last(steps.first).done).toEqual({ peer: 'b', user: undefined, grant: 'granted' });
    expect(last(steps.second).done).toEqual({ peer: 'a', user: undefined, grant: 'granted' });
    const kinds = [...steps.first, ...steps.second].flatMap((s) => s.send).map((f) => decodeHandshake(body(f), 255).kind);
    expect(kinds.sort()).toEqual(['hello', 'proof', 'ready', 'welcome']);
    expect(a.finished && b.finished).toBe(true);
  });

  it('clients: challenge, hello, welcome; the server grants what it vetted, by the user claimed', () => {
    const claims: unknown[] = [];
    const s = server({
      vet: (claim) => {
        claims.push(claim);
        return { accepted: [secret], prove: secret, grant: `principal of ${claim.user}` };
      },
    });
    const steps = run(s, client({ user: 'alice' }));
    expect(claims).toEqual([{ id: 'client-7', user: 'alice' }]);
    expect(last(steps.first).done).toEqual({ peer: 'client-7', user: 'alice', grant: 'principal of alice' });
    expect(last(steps.second).done).toEqual({ peer: 'node-1', user: undefined, grant: 'granted' });
    const kinds = [...steps.first, ...steps.second].flatMap((f) => f.send).map((f) => decodeClientHandshake(body(f)).kind);
    expect(kinds.sort()).toEqual(['challenge', 'hello', 'welcome']);
  });

  it('a rotated secret: an acceptor takes any of its accepted secrets, and proves its own', () => {
    const steps = run(dialer({ vet: admitWith(otherSecret, [otherSecret]) }), acceptor({ vet: admitWith(otherSecret, [secret, otherSecret]) }));
    expect(last(steps.first).done).toBeDefined();
    expect(last(steps.second).done).toBeDefined();
  });

  it('is pure: the same inputs give the same frames, byte for byte', () => {
    const once = run(dialer(), acceptor());
    const again = run(dialer(), acceptor());
    const bytes = (s: typeof once) => [...s.first, ...s.second].flatMap((x) => x.send).map((f) => Buffer.from(f).toString('hex'));
    expect(bytes(again)).toEqual(bytes(once));
  });
});

describe('the shared handshake: refusals are typed', () => {
  it('the wrong secret (peers): the dialer refuses the welcome, tells the acceptor why, and the acceptor hears it', () => {
    const steps = run(dialer({ vet: admitWith(otherSecret) }), acceptor());
    const failed = failureOf(steps.first)!;
    expect(failed).toBeInstanceOf(HandshakeError);
    expect(failed).toMatchObject({ failure: 'proof', code: 'HANDSHAKE', message: 'authentication failed: wrong proof of the shared secret' });
    const refusal = failureOf(steps.second)!;
    expect(refusal).toMatchObject({ failure: 'refused', said: 'authentication failed: wrong proof of the shared secret' });
    expect(steps.first.some((s) => s.done) || steps.second.some((s) => s.done)).toBe(false);
  });

  it('the wrong secret (clients): the server gives one answer for every failed proof, and the client is told', () => {
    const steps = run(server(), client({ vet: admitWith(otherSecret) }));
    expect(failureOf(steps.first)).toMatchObject({ failure: 'proof', message: authenticationRefusal, toPeer: authenticationRefusal });
    expect(failureOf(steps.second)).toMatchObject({ failure: 'refused', said: authenticationRefusal });
    // An identity with no secret at all is told the same.
    const none = run(server({ vet: () => new HandshakeError('proof', authenticationRefusal) }), client());
    expect(failureOf(none.second)).toMatchObject({ failure: 'refused', said: authenticationRefusal });
  });

  it('a client does not tell a server why it refuses it (the wire has it so), but fails typed', () => {
    // A server that takes any client (as under TLS) but proves another secret.
    const steps = run(server({ vet: () => ({ accepted: undefined, prove: otherSecret, grant: 'anyone' }) }), client());
    expect(last(steps.first).done).toBeDefined();
    const failed = failureOf(steps.second)!;
    expect(failed).toMatchObject({ failure: 'proof' });
    expect(steps.second.find((s) => s.failed)!.send).toEqual([]);
  });

  it('no secret on this side, a proof from the other (peers): refused, and none from the other when this side has one', () => {
    expect(failureOf(run(dialer({ vet: admitWith(undefined) }), acceptor()).first)).toMatchObject({
      failure: 'proof',
      message: 'the peer proves a shared secret and this node has none configured',
    });
    expect(failureOf(run(dialer(), acceptor({ vet: admitWith(undefined, [secret]) })).first)).toMatchObject({
      failure: 'proof',
      message: 'the peer sent no proof of the shared secret',
    });
  });

  it('another cluster: refused with a reason that names both, and the other side is told only that the cluster is wrong', () => {
    const steps = run(dialer({ cluster: 'other' }), acceptor());
    expect(failureOf(steps.second)).toMatchObject({
      failure: 'cluster',
      message: 'the peer is in cluster "other", this node in "c"',
      toPeer: 'wrong cluster id',
    });
    expect(failureOf(steps.first)).toMatchObject({ failure: 'refused', said: 'wrong cluster id' });
    // A client learns which cluster the server is in (in `said`), to say so.
    expect(failureOf(run(server({ cluster: 'kv-2' }), client()).second)).toMatchObject({ failure: 'cluster', said: 'kv-2' });
  });

  it('a hello for another node, or a welcome from another node than the one dialed: refused', () => {
    expect(failureOf(run(dialer({ peer: 'x' }), acceptor()).second)).toMatchObject({ failure: 'identity', message: 'the peer wanted x; this is b' });
    const vetted = run(dialer({ vet: (claim) => new HandshakeError('identity', `not ${claim.id}`) }), acceptor());
    expect(failureOf(vetted.first)).toMatchObject({ failure: 'identity', message: 'not b' });
  });

  it('a frame out of turn: refused in the wire own words', () => {
    const b = acceptor();
    const step = b.receive(body(handshakeBytes({ kind: 'ready', version: protocolVersion })));
    expect(step.failed).toMatchObject({ failure: 'out-of-turn', message: 'a ready frame where a hello was due' });
    expect(decodeHandshake(body(step.send[0]!), 255)).toEqual({ kind: 'refuse', version: protocolVersion, reason: 'a ready frame where a hello was due' });
    const ping = acceptor().receive(body(handshakeBytes({ kind: 'ping', version: protocolVersion })));
    expect(ping.failed).toMatchObject({ failure: 'out-of-turn', message: 'a ping frame where a hello was due' });
    const s = server();
    s.start();
    expect(s.receive(body(clientHandshakeBytes({ kind: 'welcome', proof: new Uint8Array(32) }))).failed).toMatchObject({
      failure: 'out-of-turn',
      message: 'expected hello, got welcome',
    });
    // And nothing after the end.
    const done = dialer();
    expect(done.receive(new Uint8Array(0)).failed).toMatchObject({ failure: 'malformed' });
    expect(done.receive(new Uint8Array(0)).failed).toMatchObject({ failure: 'out-of-turn' });
  });
});

describe('the shared handshake: a proof never crosses roles', () => {
  const context: ProofContext = { cluster: 'c', first: 'a', second: 'b', firstNonce: nonceA, secondNonce: nonceB };
  const signers: ProofSigner[] = ['dialer', 'acceptor', 'client', 'server'];

  it('the four signers make four different proofs over the same context, secret and version', () => {
    const proofs = signers.map((signer) => Buffer.from(proofOf(secret, signer, 1, context)).toString('hex'));
    expect(new Set(proofs).size).toBe(4);
    // As do two versions of one protocol, and a user claimed or not.
    expect(Buffer.from(proofOf(secret, 'dialer', 2, context)).equals(Buffer.from(proofOf(secret, 'dialer', 1, context)))).toBe(false);
    expect(Buffer.from(proofOf(secret, 'client', 1, { ...context, user: 'u' })).equals(Buffer.from(proofOf(secret, 'client', 1, context)))).toBe(false);
  });

  it("an acceptor's welcome proof reflected back as the dialer's: refused", () => {
    const a = dialer();
    const b = acceptor();
    const hello = a.start().send[0]!;
    const welcome = decodeHandshake(body(b.receive(body(hello)).send[0]!), 255);
    if (welcome.kind !== 'welcome') throw new Error(welcome.kind);
    const reflected = b.receive(body(handshakeBytes({ kind: 'proof', version: protocolVersion, proof: welcome.proof })));
    expect(reflected.failed).toMatchObject({ failure: 'proof', message: 'authentication failed: wrong proof of the shared secret' });
  });

  it("a peer's proof offered as a client's (same secret, same fields): refused, and a client's offered as a dialer's", () => {
    // A client hello whose proof is a dialer's over exactly the context the server checks.
    const s = server();
    const challenge = decodeClientHandshake(body(s.start().send[0]!));
    if (challenge.kind !== 'challenge') throw new Error(challenge.kind);
    const c: ProofContext = { cluster: 'kv', first: 'node-1', second: 'client-7', firstNonce: challenge.nonce, secondNonce: nonceB };
    for (const signer of ['dialer', 'acceptor', 'server'] as const) {
      const forged = server();
      forged.start();
      // Each server has the same nonce (given), so the context is the same one.
      const step = forged.receive(
        body(clientHandshakeBytes({ kind: 'hello', clientId: 'client-7', nonce: nonceB, proof: proofOf(secret, signer, clientProtocolVersion, c) })),
      );
      expect(step.failed, signer).toMatchObject({ failure: 'proof', message: authenticationRefusal });
    }
    const honest = server();
    honest.start();
    const ok = honest.receive(
      body(clientHandshakeBytes({ kind: 'hello', clientId: 'client-7', nonce: nonceB, proof: proofOf(secret, 'client', clientProtocolVersion, c) })),
    );
    expect(ok.done).toBeDefined();
    // The other way: an acceptor takes only a dialer's proof.
    const peer: ProofContext = { cluster: 'c', first: 'a', second: 'b', firstNonce: nonceA, secondNonce: nonceB };
    for (const signer of ['client', 'server', 'acceptor'] as const) {
      const b = acceptor();
      b.receive(body(dialer().start().send[0]!));
      const step = b.receive(body(handshakeBytes({ kind: 'proof', version: protocolVersion, proof: proofOf(secret, signer, protocolVersion, peer) })));
      expect(step.failed, signer).toMatchObject({ failure: 'proof' });
    }
  });
});

describe('the shared handshake: hostile frames', () => {
  it('a truncated frame: malformed, refused with the reason', () => {
    const hello = body(dialer().start().send[0]!);
    for (const cut of [0, 1, 3, 10, hello.byteLength - 1]) {
      const step = acceptor().receive(hello.subarray(0, cut));
      expect(step.failed, `cut at ${cut}`).toMatchObject({ failure: 'malformed' });
      expect(step.failed!.message).toMatch(/^malformed handshake: /);
      expect(decodeHandshake(body(step.send[0]!), 255).kind).toBe('refuse');
    }
    const s = server();
    s.start();
    expect(s.receive(new Uint8Array([0x53, 0x43, clientProtocolVersion])).failed?.message).toMatch(/^bad handshake: /);
  });

  it('an oversized frame or field: malformed (the frame loop refuses a longer frame before it is read)', () => {
    const s = server();
    s.start();
    const big = clientHandshakeBytes({ kind: 'hello', clientId: 'c'.repeat(255), nonce: nonceB, proof: new Uint8Array(32), user: 'u'.repeat(255) });
    const padded = new Uint8Array(clientHandshakeBytesMax + 1);
    padded.set(body(big));
    expect(s.receive(padded).failed).toMatchObject({ failure: 'malformed' });
    const long = handshakeBytes({ kind: 'hello', version: protocolVersion, cluster: 'x'.repeat(256), from: 'a', to: 'b', nonce: nonceA });
    expect(acceptor().receive(body(long)).failed).toMatchObject({ failure: 'malformed' });
  });

  it('an unknown version: refused with a typed error naming both versions, on both wires and both sides', () => {
    const hello = handshakeBytes({ kind: 'hello', version: 99, cluster: 'c', from: 'a', to: 'b', nonce: nonceA });
    const step = acceptor().receive(body(hello));
    expect(step.failed).toMatchObject({ failure: 'version', message: `protocol version 99; this node speaks ${protocolVersion}` });
    expect(decodeHandshake(body(step.send[0]!), 255)).toMatchObject({ kind: 'refuse', reason: `protocol version 99; this node speaks ${protocolVersion}` });
    // The dialer, from a welcome of another version.
    const a = dialer();
    a.start();
    const welcome = handshakeBytes({ kind: 'welcome', version: 7, cluster: 'c', from: 'b', to: 'a', nonce: nonceB, proof: new Uint8Array(32) });
    expect(a.receive(body(welcome)).failed).toMatchObject({ failure: 'version' });
    // Clients: the version byte is read before the fields (another version may lay them out otherwise).
    const challenge = clientHandshakeBytes({ kind: 'challenge', cluster: 'kv', node: 'n', nonce: nonceA }).slice();
    challenge[6] = clientProtocolVersion + 1;
    expect(client().receive(body(challenge)).failed).toMatchObject({
      failure: 'version',
      message: `protocol version ${clientProtocolVersion + 1}; this node speaks 1`,
    });
    const s = server();
    s.start();
    const future = new Uint8Array([0x53, 0x43, 9, 1, 2, 3]);
    const refused = s.receive(future);
    expect(refused.failed).toMatchObject({ failure: 'version' });
    expect(decodeClientHandshake(body(refused.send[0]!))).toMatchObject({ kind: 'refuse' });
  });

  it('a wire that throws something else than CodecError is a bug, not a refusal', () => {
    const broken: HandshakeWire = {
      ...peers,
      decode: () => {
        throw new TypeError('bug');
      },
    };
    expect(() => acceptor({ wire: broken }).receive(new Uint8Array(4))).toThrow(TypeError);
  });
});
