/**
 * The member's part in deleting containers and TTL nodes: on the leader, every check
 * interval, it looks for those due on its monotonic clock (a {@link ZkNodeCountdown})
 * and enters one `node-expire` naming them (ZooKeeper's ContainerManager). Applying it
 * deletes only what is still eligible then, on every replica alike.
 */
import type { KvNode } from '../../kv/kv-node.js';
import type { Clock, Logger, TimerHandle } from '../../runtime/index.js';
import { zkKvCommand } from '../zk-extension.js';
import { zkLimits } from '../zk-limits.js';
import { ZkNodeCountdown, type ZkNodeCountdownOptions } from '../zk-node-countdown.js';
import type { ZkStateMachine } from '../zk-state-machine.js';

/** Options of a {@link ZkNodeKeeper}; times in ms of the monotonic clock. */
export interface ZkNodeKeeperOptions extends ZkNodeCountdownOptions {
  /** How often the leader looks for containers and TTL nodes due (ZooKeeper's `znode.container.checkIntervalMs`). */
  readonly intervalMs: number;
}

/** @internal */
export class ZkNodeKeeper {
  private readonly countdown = new ZkNodeCountdown();
  private timer: TimerHandle | undefined;
  private expiring = false;
  private closed = false;
  private readonly offRoleChange: () => void;

  constructor(
    private readonly kv: KvNode,
    private readonly machine: ZkStateMachine,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly options: ZkNodeKeeperOptions,
  ) {
    const onRole = () => this.countdown.clear();
    kv.node.on('roleChange', onRole);
    this.offRoleChange = () => kv.node.off('roleChange', onRole);
    this.schedule();
  }

  close(): void {
    this.closed = true;
    this.offRoleChange();
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = this.clock.setTimer(() => {
      this.timer = undefined;
      this.check();
      this.schedule();
    }, this.options.intervalMs);
  }

  private check(): void {
    if (this.kv.node.status().role !== 'leader') return;
    const due = this.countdown.observe(this.machine.tree, this.clock.now(), this.options, zkLimits.expiringNodesPerCommandMax);
    if (due.length === 0 || this.expiring) return;
    this.expiring = true;
    this.logger.info({ nodes: due.map((n) => n.path) }, 'zk: deleting containers and TTL nodes due');
    this.kv.node.propose(zkKvCommand({ type: 'node-expire', nodes: due })).then(
      () => (this.expiring = false),
      (error: unknown) => {
        // No leader for now: the next check finds them again.
        this.expiring = false;
        this.logger.debug({ error }, 'zk: node-expire not entered; retrying');
      },
    );
  }
}
