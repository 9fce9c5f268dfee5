import { type Configuration, canonical, configurationEquals } from './configuration/configuration.js';

/**
 * What a slot holds: a batch of commands from clients, a no-op that a new leader
 * uses to fill a hole, or a new configuration of the cluster. Commands are opaque bytes
 * to the core: applications encode them, so the core can size batches and a transport
 * can send them unchanged.
 */
export type Value = NoopValue | BatchValue | ConfigValue;

/** Fills a slot that no client command occupies. Applies nothing. */
export interface NoopValue {
  readonly kind: 'noop';
}

/** One or more commands chosen together in one slot, applied in order. */
export interface BatchValue {
  readonly kind: 'batch';
  readonly commands: readonly Uint8Array[];
}

/**
 * A new configuration of the cluster (who votes, who observes, their addresses). It
 * governs the slots from its own slot plus the configuration window; applies nothing
 * to the state machine.
 */
export interface ConfigValue {
  readonly kind: 'config';
  readonly config: Configuration;
}

/** The one no-op value (values are immutable, so it is shared). */
export const noop: NoopValue = Object.freeze({ kind: 'noop' });

/** A batch value holding `commands` (at least one). */
export function batch(commands: readonly Uint8Array[]): BatchValue {
  return { kind: 'batch', commands };
}

/** Payload bytes a value carries (commands' lengths summed; 0 for a no-op). */
export function valueBytes(value: Value): number {
  if (value.kind === 'noop') return 0;
  if (value.kind === 'config') return canonical(value.config).length;
  let total = 0;
  for (const c of value.commands) total += c.byteLength;
  return total;
}

/** Structural equality of two values: same kind, same commands byte for byte. */
export function valueEquals(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (a.kind === 'noop' || b.kind === 'noop') return a.kind === b.kind;
  if (a.kind === 'config' || b.kind === 'config') return a.kind === 'config' && b.kind === 'config' && configurationEquals(a.config, b.config);
  if (a.commands.length !== b.commands.length) return false;
  for (let i = 0; i < a.commands.length; i++) {
    if (!bytesEqual(a.commands[i]!, b.commands[i]!)) return false;
  }
  return true;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
