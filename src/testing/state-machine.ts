/**
 * A state machine the simulator can run: any deterministic function of the commands
 * applied in order. Replicas converge when their fingerprints agree.
 */
export interface SimStateMachine {
  /** Applies one command, chosen at `slot`. Deterministic: no clock, no randomness. */
  apply(command: Uint8Array, slot: number): void;
  /** A digest of the whole state, equal on two replicas exactly when their states are. */
  fingerprint(): string;
  /** The whole state, for a snapshot. */
  snapshot(): string;
  /** Replaces the whole state with a {@link snapshot}'s. */
  restore(snapshot: string): void;
}

/**
 * The default simulated state machine: a running 32-bit FNV-1a hash of every command
 * applied with its slot, plus the count. Two replicas agree only if they applied the
 * same commands in the same slots and order.
 */
export class HashStateMachine implements SimStateMachine {
  private hash = 0x811c9dc5;
  private count = 0;

  apply(command: Uint8Array, slot: number): void {
    let h = this.hash ^ (slot & 0xffff);
    h = Math.imul(h, 0x01000193);
    for (let i = 0; i < command.length; i++) {
      h ^= command[i]!;
      h = Math.imul(h, 0x01000193);
    }
    this.hash = h >>> 0;
    this.count++;
  }

  fingerprint(): string {
    return `${this.count}:${this.hash.toString(16)}`;
  }

  snapshot(): string {
    return this.fingerprint();
  }

  restore(snapshot: string): void {
    const [count, hash] = snapshot.split(':');
    this.count = Number(count);
    this.hash = Number.parseInt(hash ?? '', 16) >>> 0;
  }
}
