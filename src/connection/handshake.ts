/**
 * The one handshake of synod's authenticated connections, as a pure step function: it
 * takes each frame received and says what to send, and whether the handshake is done
 * or failed (with a {@link HandshakeError}). No I/O, no clock, no randomness: the nonce
 * is given, the frames are passed in and out, and the caller owns the socket and the
 * timers. Peers (`TcpTransport`) and clients (`KvServer` and `KvClient`) run it, each
 * with its own frames on the wire ({@link HandshakeWire}).
 *
 * The exchange, between the side that speaks first and the side that answers:
 *   first  → opening { cluster, from, to?, nonce }
 *   second → answer  { cluster?, from, to?, nonce, proof, user? }   the second's proof
 *   first  → proof   { proof }                                        the first's proof
 *   second → ready                                                    (if the wire confirms)
 * A peer's dialer speaks first and its acceptor confirms; a KV server speaks first
 * (its challenge) and its client does not confirm (the server's proof is the go-ahead).
 * Either side may instead refuse (`refuse { reason }`, where the wire lets it) and
 * close. Each side vets the other's claimed identity once, on its first frame, and
 * learns from that which secrets its proof may be made with (see {@link Admission}).
 */
import { SynodError } from '../core/errors.js';
import { CodecError } from '../encoding/codec-error.js';
import { type ProofContext, type ProofSigner, proofMatches, proofOf } from './proof.js';

/** Which end of the exchange: `first` sends the opening. */
type HandshakeSide = 'first' | 'second';

/** One handshake frame, as the step function reads and writes it (each wire maps its own frames to these). */
export type HandshakeMessage =
  | {
      readonly kind: 'opening';
      readonly version: number;
      readonly cluster: string;
      readonly from: string;
      /** Whom the opening is for (a peer's dialer names it); absent: anyone. */
      readonly to?: string | undefined;
      readonly nonce: Uint8Array;
    }
  | {
      readonly kind: 'answer';
      readonly version: number;
      /** Absent where the wire does not repeat it (a client's hello). */
      readonly cluster?: string | undefined;
      readonly from: string;
      readonly to?: string | undefined;
      readonly nonce: Uint8Array;
      readonly proof: Uint8Array;
      readonly user?: string | undefined;
    }
  | { readonly kind: 'proof'; readonly version: number; readonly proof: Uint8Array }
  | { readonly kind: 'ready'; readonly version: number }
  | { readonly kind: 'refuse'; readonly version: number; readonly reason: string }
  /** A frame of the wire that has no part in the handshake (a ping), or of a version this side does not speak. */
  | { readonly kind: 'other'; readonly version: number; readonly name: string };

type Due = 'opening' | 'answer' | 'proof' | 'ready';

/** The frames of one protocol on the wire, and how it words its refusals. @internal */
export interface HandshakeWire {
  /** The version this build speaks; a frame of another is refused ({@link HandshakeError} `version`). */
  readonly version: number;
  /** Who signs each side's proof: distinct signers, so proofs never cross roles or protocols. */
  readonly signers: { readonly first: ProofSigner; readonly second: ProofSigner };
  /** Whether the second side says `ready` once it checked the first's proof. */
  readonly confirms: boolean;
  /** Which sides tell the other why they refuse (a refusal frame before the close). */
  readonly refusers: readonly HandshakeSide[];
  /** The wire's name of each step's frame, for the refusals. */
  readonly names: Readonly<Record<Due | 'refuse', string>>;
  /** What starts the reason of a malformed frame. */
  readonly malformed: string;
  /** The reason for a frame out of turn. */
  outOfTurn(got: string, due: string): string;
  /**
   * If set, the one reason given (told and logged) for any failed proof and any identity
   * without a secret: one answer for all, so names cannot be probed.
   */
  readonly proofRefusal?: string | undefined;
  /** One frame with its length prefix, ready to write. */
  encode(message: HandshakeMessage): Uint8Array;
  /**
   * One frame (without its prefix).
   * @throws {@link CodecError} for anything malformed.
   */
  decode(frame: Uint8Array): HandshakeMessage;
}

/** Why a handshake failed. */
export type HandshakeFailure =
  /** A frame that does not decode. */
  | 'malformed'
  /** A frame of a protocol version this side does not speak. */
  | 'version'
  /** A frame where another was due. */
  | 'out-of-turn'
  /** The other side refused this one (its reason in `said`). */
  | 'refused'
  /** The other side is in another cluster. */
  | 'cluster'
  /** The other side is not who it must be, or may not connect (its id, its certificate, its user). */
  | 'identity'
  /** The other side's proof of the secret does not verify (or it has none). */
  | 'proof';

/** A failed handshake: why, what this side tells the other (if it may), and what the other said. */
export class HandshakeError extends SynodError {
  constructor(
    /** Why, as a tag. */
    readonly failure: HandshakeFailure,
    message: string,
    /** What the other side is told, when the full reason would reveal this side's configuration. Default: the message. */
    readonly toPeer: string = message,
    /** The other side's own words: its reason for `refused`, the cluster it named for `cluster`. */
    readonly said?: string,
  ) {
    super('HANDSHAKE', message);
  }
}

/** Who the other side claims to be, from its first frame. */
export interface HandshakeClaim {
  /** Its node id (a peer, a server) or client id. */
  readonly id: string;
  /** The user it claims to be (a client's), if any. */
  readonly user?: string | undefined;
}

/**
 * What a side decided of the other's claim: the secrets whose proof it takes, the secret
 * it proves itself with, and what it grants the other (a principal, say).
 */
export interface Admission<Grant> {
  /**
   * Secrets the other side may prove: one of them must verify. Empty: the other must
   * send no proof (no secret configured). Undefined: its proof is not checked (TLS
   * certificates authenticated both ends).
   */
  readonly accepted: readonly Uint8Array[] | undefined;
  /** The secret this side proves; undefined: it sends an empty proof. */
  readonly prove: Uint8Array | undefined;
  readonly grant: Grant;
}

/** One side's configuration. */
export interface HandshakeConfig<Grant> {
  readonly wire: HandshakeWire;
  readonly side: HandshakeSide;
  readonly cluster: string;
  /** This side's id (a node id, or a client id). */
  readonly id: string;
  /** The other side's id, if this side knows whom it dials (a peer's dialer). */
  readonly peer?: string | undefined;
  /** The user this side claims to be (a client's), if any. */
  readonly user?: string | undefined;
  /** This side's fresh nonce (`newNonce()`): given, so the step function stays pure. */
  readonly nonce: Uint8Array;
  /** Vets the other side's claim, once, from its first frame: an admission, or why it is refused. */
  vet(claim: HandshakeClaim): Admission<Grant> | HandshakeError;
}

/** A finished handshake: who the other side is, authenticated, and what it was granted. */
interface Established<Grant> {
  readonly peer: string;
  readonly user: string | undefined;
  readonly grant: Grant;
}

/** What one step asks of the caller: frames to send (with their prefixes), then done, failed or neither. */
export interface HandshakeStep<Grant> {
  readonly send: readonly Uint8Array[];
  readonly done?: Established<Grant>;
  readonly failed?: HandshakeError;
}

const nothing: readonly Uint8Array[] = [];
const noProof = new Uint8Array(0);

/**
 * The handshake of one connection, one frame at a time: {@link start} once, then
 * {@link receive} for each frame until a step is done or failed. Pure and synchronous.
 */
export class Handshake<Grant> {
  private due: Due | 'done' | 'failed';
  private admission: Admission<Grant> | undefined;
  private context: ProofContext | undefined;
  private claim: HandshakeClaim | undefined;

  constructor(private readonly config: HandshakeConfig<Grant>) {
    this.due = config.side === 'first' ? 'answer' : 'opening';
  }

  /** Whether the handshake ended, done or failed. */
  get finished(): boolean {
    return this.due === 'done' || this.due === 'failed';
  }

  /** The first step: the opening, from the first side; nothing from the second (it waits for the opening). */
  start(): HandshakeStep<Grant> {
    const c = this.config;
    if (c.side === 'second') return { send: nothing };
    const opening: HandshakeMessage = { kind: 'opening', version: c.wire.version, cluster: c.cluster, from: c.id, to: c.peer, nonce: c.nonce };
    return { send: [c.wire.encode(opening)] };
  }

  /** The next step, given one whole frame received (without its length prefix). */
  receive(frame: Uint8Array): HandshakeStep<Grant> {
    const c = this.config;
    const wire = c.wire;
    if (this.finished) return this.fail(new HandshakeError('out-of-turn', 'a frame after the handshake ended'));
    let m: HandshakeMessage;
    try {
      m = wire.decode(frame);
    } catch (error) {
      if (!(error instanceof CodecError)) throw error;
      return this.fail(new HandshakeError('malformed', `${wire.malformed}: ${error.message}`));
    }
    if (m.kind === 'refuse') return this.fail(new HandshakeError('refused', `refused by the peer: ${m.reason}`, undefined, m.reason));
    if (m.version !== wire.version) return this.fail(new HandshakeError('version', `protocol version ${m.version}; this node speaks ${wire.version}`));
    const due = this.due as Due;
    if (m.kind !== due) return this.fail(new HandshakeError('out-of-turn', wire.outOfTurn(m.kind === 'other' ? m.name : wire.names[m.kind], wire.names[due])));
    switch (m.kind) {
      case 'opening':
        return this.onOpening(m);
      case 'answer':
        return this.onAnswer(m);
      case 'proof':
        return this.onProof(m.proof);
      case 'ready':
        return this.done([]);
    }
  }

  /** Second side: the first's opening. Vet it, then answer with this side's nonce and proof. */
  private onOpening(m: Extract<HandshakeMessage, { kind: 'opening' }>): HandshakeStep<Grant> {
    const c = this.config;
    const refusal = this.checkClaim(m.cluster, m.to) ?? this.admit({ id: m.from });
    if (refusal !== undefined) return this.fail(refusal);
    this.context = { cluster: c.cluster, first: m.from, second: c.id, firstNonce: m.nonce, secondNonce: c.nonce, user: c.user };
    const proof = this.proof(c.wire.signers.second);
    this.due = 'proof';
    const answer: HandshakeMessage = {
      kind: 'answer',
      version: c.wire.version,
      cluster: c.cluster,
      from: c.id,
      to: m.from,
      nonce: c.nonce,
      proof,
      user: c.user,
    };
    return { send: [c.wire.encode(answer)] };
  }

  /** First side: the second's answer. Vet it, check its proof, then prove this side. */
  private onAnswer(m: Extract<HandshakeMessage, { kind: 'answer' }>): HandshakeStep<Grant> {
    const c = this.config;
    const refusal = this.checkClaim(m.cluster, m.to) ?? this.admit({ id: m.from, user: m.user });
    if (refusal !== undefined) return this.fail(refusal);
    this.context = { cluster: c.cluster, first: c.id, second: m.from, firstNonce: c.nonce, secondNonce: m.nonce, user: m.user };
    const bad = this.verify(c.wire.signers.second, m.proof);
    if (bad !== undefined) return this.fail(bad);
    const frame = c.wire.encode({ kind: 'proof', version: c.wire.version, proof: this.proof(c.wire.signers.first) });
    if (c.wire.confirms) {
      this.due = 'ready';
      return { send: [frame] };
    }
    return this.done([frame]);
  }

  /** Second side: the first's proof. Check it; confirm if the wire does. */
  private onProof(proof: Uint8Array): HandshakeStep<Grant> {
    const c = this.config;
    const bad = this.verify(c.wire.signers.first, proof);
    if (bad !== undefined) return this.fail(bad);
    return this.done(c.wire.confirms ? [c.wire.encode({ kind: 'ready', version: c.wire.version })] : []);
  }

  /** Why the cluster or the addressee named in the other's first frame is wrong, or undefined. */
  private checkClaim(cluster: string | undefined, to: string | undefined): HandshakeError | undefined {
    const c = this.config;
    if (cluster !== undefined && cluster !== c.cluster)
      return new HandshakeError('cluster', `the peer is in cluster "${cluster}", this node in "${c.cluster}"`, 'wrong cluster id', cluster);
    if (to !== undefined && to !== c.id) return new HandshakeError('identity', `the peer wanted ${to}; this is ${c.id}`);
    return undefined;
  }

  /** Vets the claim (once): keeps the admission, or returns why not. */
  private admit(claim: HandshakeClaim): HandshakeError | undefined {
    const decided = this.config.vet(claim);
    if (decided instanceof HandshakeError) return decided;
    this.claim = claim;
    this.admission = decided;
    return undefined;
  }

  /** This side's proof as `signer` (empty without a secret to prove). */
  private proof(signer: ProofSigner): Uint8Array {
    const secret = this.admission!.prove;
    return secret === undefined ? noProof : proofOf(secret, signer, this.config.wire.version, this.context!);
  }

  /** Why the other side's proof, made as `signer`, is not good enough; undefined if it is. */
  private verify(signer: ProofSigner, proof: Uint8Array): HandshakeError | undefined {
    const accepted = this.admission!.accepted;
    if (accepted === undefined) return undefined;
    let why: string | undefined;
    if (accepted.length === 0) why = proof.byteLength === 0 ? undefined : 'the peer proves a shared secret and this node has none configured';
    else if (proof.byteLength === 0) why = 'the peer sent no proof of the shared secret';
    else {
      const context = this.context!;
      const version = this.config.wire.version;
      why = accepted.some((secret) => proofMatches(proofOf(secret, signer, version, context), proof))
        ? undefined
        : 'authentication failed: wrong proof of the shared secret';
    }
    if (why === undefined) return undefined;
    return new HandshakeError('proof', this.config.wire.proofRefusal ?? why);
  }

  private done(send: readonly Uint8Array[]): HandshakeStep<Grant> {
    this.due = 'done';
    const claim = this.claim!;
    return { send, done: { peer: claim.id, user: claim.user, grant: this.admission!.grant } };
  }

  /** Fails: the refusal to send (if this side tells, and the other did not refuse first), and the error. */
  private fail(error: HandshakeError): HandshakeStep<Grant> {
    this.due = 'failed';
    const c = this.config;
    const tells = c.wire.refusers.includes(c.side) && error.failure !== 'refused';
    return { send: tells ? [c.wire.encode({ kind: 'refuse', version: c.wire.version, reason: error.toPeer })] : nothing, failed: error };
  }
}
