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

/**
 * Whether `copy` can be the value `held` was, for an acceptor sent the same ballot's
 * value for a slot again: the same kind and commands of the same lengths, each compared
 * in full up to {@link fullCompareBytesMax} bytes and at its ends beyond. One ballot
 * proposes one value per slot, so a difference is a bug; comparing every byte of every
 * resent megabyte made followers under large values spend half their time here.
 */
export function valueMayBe(held: Value, copy: Value): boolean {
  if (held.kind !== 'batch' || copy.kind !== 'batch') return valueEquals(held, copy);
  if (held.commands.length !== copy.commands.length) return false;
  for (let i = 0; i < held.commands.length; i++) {
    const a = held.commands[i]!;
    const b = copy.commands[i]!;
    if (a.byteLength <= fullCompareBytesMax) {
      if (!bytesEqual(a, b)) return false;
      continue;
    }
    const n = a.byteLength;
    if (b.byteLength !== n) return false;
    for (let j = 0; j < endBytes; j++) if (a[j] !== b[j] || a[n - 1 - j] !== b[n - 1 - j]) return false;
  }
  return true;
}

/** Commands up to this size are compared in full by {@link valueMayBe}; larger ones at their ends. */
const fullCompareBytesMax = 1024;
/** Bytes compared at each end of a larger command. */
const endBytes = 64;

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
