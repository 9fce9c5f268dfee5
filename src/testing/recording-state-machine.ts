import type { ApplyMeta, SnapshotCapture, StateMachine } from '../runtime/index.js';

/** One command a {@link RecordingStateMachine} applied, with what the runtime told it. */
export interface RecordedCommand<Command> {
  readonly command: Command;
  readonly slot: number;
  readonly clientId: string;
  readonly origin: string;
  readonly timestamp: number;
}

/**
 * The runtime simulation's default state machine: it appends every command it applies,
 * with its slot, client and origin, to a list, and returns the command's position in
 * that list (0-based). Replicas agree exactly when their lists do, and a retry that
 * was deduplicated gets the first application's position back.
 *
 * @example
 * ```ts
 * const machine = new RecordingStateMachine<string>();
 * machine.apply('x', { slot: 1, timestamp: 0, clientId: 'c', origin: 'a' }); // 0
 * machine.commands; // ['x']
 * ```
 */
export class RecordingStateMachine<Command = unknown> implements StateMachine<Command, number> {
  /** Every command applied, in order. */
  readonly applied: RecordedCommand<Command>[] = [];

  /** Appends `command` and returns its position. */
  apply(command: Command, meta: ApplyMeta): number {
    this.applied.push({ command, slot: meta.slot, clientId: meta.clientId, origin: meta.origin, timestamp: meta.timestamp });
    return this.applied.length - 1;
  }

  /** Captures the list (commands must be JSON values) for a snapshot. */
  snapshot(): SnapshotCapture {
    const text = JSON.stringify(this.applied);
    return { write: async () => new TextEncoder().encode(text) };
  }

  /** Replaces the list with a snapshot's. */
  restore(data: Uint8Array): void {
    const list = JSON.parse(new TextDecoder().decode(data)) as RecordedCommand<Command>[];
    this.applied.length = 0;
    for (const r of list) this.applied.push(r);
  }

  /** The commands alone, in order. */
  get commands(): Command[] {
    return this.applied.map((r) => r.command);
  }
}
