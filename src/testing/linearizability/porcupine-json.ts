/**
 * Histories in the JSON shape of Porcupine's `Operation` log: an array of
 * `{ "ClientId", "Input", "Call", "Output", "Return" }`, times as integers.
 *
 * Semantics, as Porcupine gives them: every operation took effect once within its
 * closed interval [Call, Return] (touching intervals are concurrent, as here).
 * Porcupine has no `fail`; a timed-out call is written with a `Return` at or beyond
 * 2^53 (Go's `math.MaxInt64`) or without one, and read back as `info`: it may have
 * happened at any time after its call, or never.
 */
import { HistoryError } from './history-error.js';
import { type Operation, validateHistory } from './history.js';

/** How a model's operations are written in Porcupine's `Input` and `Output`. */
export interface PorcupineCodec<I, O> {
  /** The key and input of an `Input`; throws an `Error` if it cannot be read. */
  input(input: unknown): { readonly key: string; readonly input: I };
  /** The output of a completed operation; throws an `Error` if it cannot be read. */
  output(output: unknown, input: I): O;
  /** The `Input` and `Output` of an operation (`Output` is `null` for an `info` one). */
  write(operation: Operation<I, O>): { readonly input: unknown; readonly output: unknown };
}

/**
 * The `Return` written for an `info` operation: 2^63 - 1, Go's `math.MaxInt64`, as
 * Porcupine's users write a timeout. Text, since JavaScript numbers cannot hold it.
 */
export const porcupineTimeoutReturn = '9223372036854775807';

/**
 * Reads a Porcupine JSON log. Throws {@link HistoryError} naming the operation on
 * JSON that is not an array of such records, or a record `codec` cannot read.
 *
 * @example
 * ```ts
 * const history = historyFromPorcupineJson(readFileSync('log.json', 'utf8'), myCodec);
 * ```
 */
export function historyFromPorcupineJson<I, O>(text: string, codec: PorcupineCodec<I, O>): Operation<I, O>[] {
  let records: unknown;
  try {
    records = JSON.parse(text);
  } catch (e) {
    throw new HistoryError(0, `not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!Array.isArray(records)) throw new HistoryError(0, 'a Porcupine log is a JSON array of operations');
  const history = records.map((record: unknown, index): Operation<I, O> => {
    if (typeof record !== 'object' || record === null) throw new HistoryError(index, 'an operation is an object');
    const { ClientId: client, Input: rawInput, Call: call, Output: rawOutput, Return: ret } = record as Record<string, unknown>;
    if (typeof call !== 'number') throw new HistoryError(index, `Call must be a number, got ${JSON.stringify(call)}`);
    if (ret !== undefined && ret !== null && typeof ret !== 'number') throw new HistoryError(index, `Return must be a number, got ${JSON.stringify(ret)}`);
    try {
      const { key, input } = codec.input(rawInput);
      const base = { client: String(client ?? index), key, input, invokedAt: call };
      if (typeof ret !== 'number' || ret >= 2 ** 53) return { ...base, outcome: 'info' };
      return { ...base, completedAt: ret, outcome: 'ok', output: codec.output(rawOutput, input) };
    } catch (e) {
      // A codec's own HistoryError carries the codec's index, not this record's.
      throw new HistoryError(index, `cannot read it: ${e instanceof Error ? e.message : String(e)}`);
    }
  });
  validateHistory(history);
  return history;
}

/**
 * Writes `history` as a Porcupine JSON log: clients numbered by first appearance,
 * `fail` operations left out (they did not happen), `info` ones returning at
 * {@link porcupineTimeoutReturn}.
 *
 * @example
 * ```ts
 * writeFileSync('log.json', historyToPorcupineJson(history, myCodec));
 * ```
 */
export function historyToPorcupineJson<I, O>(history: readonly Operation<I, O>[], codec: PorcupineCodec<I, O>): string {
  const clients = new Map<string, number>();
  const records = history
    .filter((operation) => operation.outcome !== 'fail')
    .map((operation) => {
      if (!clients.has(operation.client)) clients.set(operation.client, clients.size);
      const { input, output } = codec.write(operation);
      const ret = operation.outcome === 'info' ? '@RETURN@' : operation.completedAt;
      return {
        ClientId: clients.get(operation.client),
        Input: input,
        Call: operation.invokedAt,
        Output: operation.outcome === 'info' ? null : output,
        Return: ret,
      };
    });
  // 2^63 - 1 is not a JavaScript number: spliced in as text, which Go reads as an int64.
  return JSON.stringify(records).replaceAll('"@RETURN@"', porcupineTimeoutReturn);
}
