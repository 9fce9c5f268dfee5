/**
 * A ZooKeeper session that moves between members as a real client's does: when its
 * connection fails or an answer is late, the next call reconnects to another member
 * with the session's id and password and the last zxid it saw. Over our wire client,
 * for the process nemesis.
 */
import type { ZkRequest } from '../../../src/zk/protocol/zk-request.js';
import { type Frame, WireClient } from './zk-wire-client.js';

/** The cluster said the session is expired (a reconnect was refused, or a request answered SESSIONEXPIRED). */
export class SessionExpired extends Error {}

export interface MovingSessionOptions {
  /** Each member's ZooKeeper port, by member id. */
  readonly ports: ReadonlyMap<string, number>;
  /** The member tried first. */
  readonly first: string;
  /** The session timeout asked for, ms. */
  readonly timeoutMs: number;
  /** How long a handshake or a request may wait for its answer before the connection is dropped, ms. */
  readonly replyTimeoutMs: number;
}

export class MovingSession {
  /** The session, once opened. */
  id = 0;
  password: Uint8Array = new Uint8Array(16);
  /** The member connected to now, if any. */
  member: string | undefined;
  /** Times the session was resumed on a member other than the one it was last on. */
  moves = 0;
  private client: WireClient | undefined;
  private lastZxid = 0;
  private lastMember: string;

  constructor(private readonly options: MovingSessionOptions) {
    this.lastMember = options.first;
  }

  /** Connects (opening the session, or resuming it on the members after the last one); false if no member took it. */
  async connect(): Promise<boolean> {
    if (this.client !== undefined) return true;
    const ids = [...this.options.ports.keys()];
    const from = ids.indexOf(this.lastMember);
    for (let i = 0; i < ids.length; i++) {
      // A new session starts at its first member; a resumed one tries the others first.
      const member = ids[(from + i + (this.id === 0 ? 0 : 1)) % ids.length]!;
      let client: WireClient;
      try {
        client = await WireClient.open(this.options.ports.get(member)!);
      } catch {
        continue;
      }
      client.replyTimeoutMs = this.options.replyTimeoutMs;
      client.lastZxid = this.lastZxid;
      try {
        const answer = await client.handshake(
          this.id === 0 ? { timeoutMs: this.options.timeoutMs } : { sessionId: this.id, password: this.password, timeoutMs: this.options.timeoutMs },
        );
        if (answer.timeoutMs === 0) {
          client.close();
          throw new SessionExpired(`session ${this.id.toString(16)} refused by ${member} as expired`);
        }
        if (this.id !== 0 && member !== this.lastMember) this.moves++;
        this.id = answer.sessionId;
        this.password = answer.password;
      } catch (error) {
        client.close();
        if (error instanceof SessionExpired) throw error;
        continue;
      }
      this.client = client;
      this.member = member;
      this.lastMember = member;
      return true;
    }
    return false;
  }

  /**
   * Sends `request` on the current connection (connecting first); a failure drops the
   * connection and throws, and the next call moves. SESSIONEXPIRED throws SessionExpired.
   */
  async call(request: ZkRequest): Promise<Frame> {
    if (!(await this.connect())) throw new Error('no member took the session');
    const client = this.client!;
    try {
      const reply = await client.call(request);
      this.lastZxid = Math.max(this.lastZxid, client.lastZxid);
      if (reply.err === -112) throw new SessionExpired(`session ${this.id.toString(16)} answered SESSIONEXPIRED by ${this.member}`);
      return reply;
    } catch (error) {
      this.drop();
      throw error;
    }
  }

  /** Closes the connection (the session lives on, and moves with the next call). */
  drop(): void {
    this.client?.close();
    this.client = undefined;
    this.member = undefined;
  }
}
