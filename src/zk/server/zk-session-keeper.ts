/**
 * The member's part in keeping ZooKeeper sessions: it enters the sessions its clients
 * were heard from (requests, pings) as one `session-touch` per interval, and, on the
 * leader, expires those silent for their whole timeout on its monotonic clock
 * (`session-expire`, after this leadership's `session-renew` is applied). The log gets
 * decisions, never clock readings.
 */
import type { KvNode } from '../../kv/kv-node.js';
import { SessionCountdown } from '../../kv/session-countdown.js';
import type { Clock, Logger, TimerHandle } from '../../runtime/index.js';
import type { ZkCommand } from '../zk-command.js';
import { zkKvCommand } from '../zk-extension.js';
import { zkLimits } from '../zk-limits.js';
import type { ZkStateMachine } from '../zk-state-machine.js';

/** Options of a {@link ZkSessionKeeper}; times in ms of the monotonic clock. */
export interface ZkSessionKeeperOptions {
  /** How often touches are entered and the leader looks for silent sessions. Default 250 ms. */
  readonly intervalMs?: number;
}

/** @internal */
export class ZkSessionKeeper {
  private readonly touched = new Set<number>();
  private readonly countdown = new SessionCountdown();
  private readonly intervalMs: number;
  private timer: TimerHandle | undefined;
  private renewed = false;
  private renewing = false;
  private expiring = false;
  private touching = false;
  private closed = false;
  private readonly offRoleChange: () => void;

  constructor(
    private readonly kv: KvNode,
    private readonly machine: ZkStateMachine,
    private readonly clock: Clock,
    private readonly logger: Logger,
    options: ZkSessionKeeperOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 250;
    const onRole = ({ role }: { role: string }) => {
      this.renewed = false;
      this.countdown.clear();
      if (role === 'leader') this.renew();
    };
    kv.node.on('roleChange', onRole);
    this.offRoleChange = () => kv.node.off('roleChange', onRole);
    if (kv.node.status().role === 'leader') this.renew();
    this.schedule();
  }

  /** Notes that `session` was heard from: it is renewed with the next touch. */
  touch(session: number): void {
    this.touched.add(session);
  }

  /**
   * When this leader will find `session` silent for its timeout `ttlMs` if nothing is
   * heard from it, on the monotonic clock (`dump`); undefined off the leader or before
   * its countdown starts (at the next check). Expiry itself waits for the check after it.
   */
  expiresAtMs(session: number, ttlMs: number): number | undefined {
    if (this.kv.node.status().role !== 'leader' || !this.renewed) return undefined;
    const since = this.countdown.sinceMs(session);
    return since === undefined ? undefined : since + ttlMs;
  }

  close(): void {
    this.closed = true;
    this.offRoleChange();
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
  }

  private propose(command: ZkCommand): Promise<unknown> {
    return this.kv.node.propose(zkKvCommand(command));
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = this.clock.setTimer(() => {
      this.timer = undefined;
      this.flushTouches();
      this.checkExpiry();
      this.schedule();
    }, this.intervalMs);
  }

  private flushTouches(): void {
    if (this.touched.size === 0 || this.touching) return;
    const sessions = [...this.touched].slice(0, zkLimits.sessionsPerCommandMax);
    for (const id of sessions) this.touched.delete(id);
    this.touching = true;
    this.propose({ type: 'session-touch', sessions }).then(
      () => (this.touching = false),
      (error: unknown) => {
        // No leader for now: touch them with the next batch.
        this.touching = false;
        for (const id of sessions) this.touched.add(id);
        this.logger.debug({ error }, 'zk: session touch not entered; retrying');
      },
    );
  }

  /** A new leader renews every session before it expires any, so a leader change ends none. */
  private renew(): void {
    if (this.renewing) return;
    this.renewing = true;
    this.propose({ type: 'session-renew' }).then(
      () => {
        this.renewing = false;
        if (this.kv.node.status().role === 'leader') this.renewed = true;
      },
      () => (this.renewing = false),
    );
  }

  private checkExpiry(): void {
    const status = this.kv.node.status();
    if (status.role !== 'leader') return;
    if (!this.renewed) return this.renew();
    const due = this.countdown.observe(this.machine.sessions.values(), this.clock.now(), zkLimits.sessionsPerCommandMax);
    if (due.length === 0 || this.expiring) return;
    this.expiring = true;
    this.logger.info({ sessions: due }, 'zk: expiring sessions silent for their timeout');
    this.propose({ type: 'session-expire', sessions: due, decidedAtSlot: status.appliedIndex }).then(
      () => (this.expiring = false),
      () => (this.expiring = false),
    );
  }
}
