/**
 * The value lists of accepts and chosens, the bulk of what a node receives, decoded in
 * two steps. When the frame is decoded the list is checked in full (every count and
 * length against what is left, every configuration decoded), so a malformed frame is
 * refused there like any other; the values themselves, a view of the frame for each
 * command, are made only when `values` is first read. A message a node drops unread (a
 * stale ballot, a blocked peer) costs no views, and the receive path costs one pass
 * over the list's bytes with no allocation. Pure, like the rest of the codec.
 *
 * The frame must not change while a message decoded from it lives (the same rule as
 * for the views of eager decoding): the values are cut from it later. A frame changed
 * in between is caught when the values are cut, as the bug it is.
 */
import type { AcceptMessage, Ballot, ChosenMessage, ConfigValue, NodeId, Value } from '../../core/index.js';
import { decodeConfiguration, noop } from '../../core/index.js';
import { CodecError } from '../../encoding/codec-error.js';
import type { Reader } from '../../encoding/reader.js';

/** The command count that marks a configuration value (commands never number 2^32). @internal */
export const configMark = 2 ** 32;

/** A configuration value's bytes, decoded (the one place that does). @internal */
export function configValueOf(bytes: Uint8Array): ConfigValue {
  try {
    return { kind: 'config', config: decodeConfiguration(bytes) };
  } catch (e) {
    throw new CodecError(`bad configuration value: ${(e as Error).message}`);
  }
}

/** Where a checked value list lies in its frame, and its configurations, decoded. */
class ValueListSpan {
  constructor(
    readonly bytes: Uint8Array,
    /** Where the first value starts, after the list's count. */
    readonly start: number,
    /** Where the last value ends. */
    readonly end: number,
    readonly count: number,
    /** The list's configuration values, in order (undefined: none, the common case). */
    readonly configs: readonly ConfigValue[] | undefined,
  ) {}
}

/**
 * Checks the value list at `r` (a count, then each value: a command count, 0 for a
 * no-op, {@link configMark} for a configuration, then each command or the
 * configuration's bytes) and steps over it, cutting nothing.
 * @throws {@link CodecError} for anything malformed.
 */
function checkValueList(r: Reader, bytes: Uint8Array): ValueListSpan {
  const count = r.count('values', 1);
  const start = r.position;
  let configs: ConfigValue[] | undefined;
  for (let v = 0; v < count; v++) {
    const n = r.uint('value commands');
    if (n === 0) continue;
    if (n === configMark) {
      configs ??= [];
      configs.push(configValueOf(r.bytesOf('configuration', r.left)));
      continue;
    }
    if (n > r.left) throw new CodecError(`value commands: ${n} is more than the ${r.left} bytes left`);
    for (let i = 0; i < n; i++) r.skipBytes('command', r.left);
  }
  return new ValueListSpan(bytes, start, r.position, count, configs);
}

/** Where {@link varintAt} stopped. */
let cursor = 0;

/** The varint at `at` in bytes already checked; sets {@link cursor} past it. */
function varintAt(bytes: Uint8Array, at: number): number {
  let b = bytes[at++]!;
  if (b < 0x80) {
    cursor = at;
    return b;
  }
  let n = b & 0x7f;
  let scale = 0x80;
  do {
    b = bytes[at++]!;
    n += (b & 0x7f) * scale;
    scale *= 0x80;
  } while (b >= 0x80);
  cursor = at;
  return n;
}

/** The values of a list {@link checkValueList} passed: a view of the frame for each command. */
function cutValues(span: ValueListSpan): Value[] {
  const { bytes, count, configs } = span;
  const values = new Array<Value>(count);
  let at = span.start;
  let nextConfig = 0;
  for (let v = 0; v < count; v++) {
    const n = varintAt(bytes, at);
    at = cursor;
    if (n === 0) {
      values[v] = noop;
      continue;
    }
    if (n === configMark) {
      const length = varintAt(bytes, at); // sets the cursor: read it after
      at = cursor + length;
      const config = configs?.[nextConfig++];
      if (config === undefined) throw new Error(`a frame changed after it was decoded: value ${v} was not a configuration then`);
      values[v] = config;
      continue;
    }
    const commands = new Array<Uint8Array>(n);
    for (let i = 0; i < n; i++) {
      const length = varintAt(bytes, at);
      at = cursor + length;
      commands[i] = bytes.subarray(cursor, at);
    }
    values[v] = { kind: 'batch', commands };
  }
  // The same bytes were checked when the frame was decoded: anything else is a frame
  // reused (overwritten) while a message decoded from it lived.
  if (at !== span.end || nextConfig !== (configs?.length ?? 0))
    throw new Error(`a frame changed after it was decoded: its values end at ${at}, not ${span.end}`);
  return values;
}

/** An accept decoded from a frame, its values cut on first read. @internal */
export class FrameAccept implements AcceptMessage {
  readonly type = 'accept' as const;
  #span: ValueListSpan | undefined;
  #values: readonly Value[] | undefined;

  constructor(
    readonly from: NodeId,
    readonly to: NodeId,
    readonly ballot: Ballot,
    readonly firstSlot: number,
    readonly commitIndex: number,
    span: ValueListSpan,
  ) {
    this.#span = span;
  }

  get values(): readonly Value[] {
    if (this.#values === undefined) {
      this.#values = cutValues(this.#span!);
      this.#span = undefined;
    }
    return this.#values;
  }

  /** The message as plain data (`values` is a getter, which JSON would skip). */
  toJSON(): AcceptMessage {
    const { type, from, to, ballot, firstSlot, commitIndex, values } = this;
    return { type, from, to, ballot, firstSlot, commitIndex, values };
  }
}

/** A chosen decoded from a frame, its values cut on first read. @internal */
export class FrameChosen implements ChosenMessage {
  readonly type = 'chosen' as const;
  #span: ValueListSpan | undefined;
  #values: readonly Value[] | undefined;

  constructor(
    readonly from: NodeId,
    readonly to: NodeId,
    readonly firstSlot: number,
    readonly commitIndex: number,
    span: ValueListSpan,
  ) {
    this.#span = span;
  }

  get values(): readonly Value[] {
    if (this.#values === undefined) {
      this.#values = cutValues(this.#span!);
      this.#span = undefined;
    }
    return this.#values;
  }

  /** The message as plain data (`values` is a getter, which JSON would skip). */
  toJSON(): ChosenMessage {
    const { type, from, to, firstSlot, commitIndex, values } = this;
    return { type, from, to, firstSlot, commitIndex, values };
  }
}

/** Reads an accept's fields after its ids (`bytes`: what `r` reads); its values are checked now and cut when read. @internal */
export function readAccept(r: Reader, bytes: Uint8Array, from: NodeId, to: NodeId, ballot: Ballot): FrameAccept {
  const firstSlot = r.uint('firstSlot');
  const commitIndex = r.uint('commitIndex');
  return new FrameAccept(from, to, ballot, firstSlot, commitIndex, checkValueList(r, bytes));
}

/** Reads a chosen's fields after its ids; its values are checked now and cut when read. @internal */
export function readChosen(r: Reader, bytes: Uint8Array, from: NodeId, to: NodeId): FrameChosen {
  const firstSlot = r.uint('firstSlot');
  const commitIndex = r.uint('commitIndex');
  return new FrameChosen(from, to, firstSlot, commitIndex, checkValueList(r, bytes));
}
