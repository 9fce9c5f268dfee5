/**
 * Jepsen's histories in EDN, read and written: `{:type :invoke, :f :read, :value nil,
 * :process 0, :time 10}` and its completion, `:ok`, `:fail` or `:info`.
 *
 * Semantics, as Jepsen (and Knossos) give them: an invocation is completed by the
 * next completion of the same `:process`. `:ok` took effect once, between the two
 * times; `:fail` did not happen (the checker drops it); `:info` (or no completion at
 * all) may have happened at any time after its invocation, or never. Entries whose
 * `:process` is not a number (the nemesis) are skipped. Times are `:time`, else
 * `:index`, else the entry's position.
 */
import { unreachable } from '../../core/assert.js';
import { type EdnValue, isKeyword, keyword, readEdn, writeEdn } from './edn.js';
import { HistoryError } from './history-error.js';
import { type HistoryEvent, type Operation, historyFromEvents } from './history.js';
import type { RegisterInput, RegisterOutput, RegisterValue } from './register-model.js';

/** How a model's operations are written in Jepsen's `:f` and `:value`. */
export interface JepsenCodec<I, O> {
  /** The key and input of an invocation of `f` with `value`; throws an `Error` if it cannot be read. */
  input(f: string, value: EdnValue): { readonly key: string; readonly input: I };
  /** The output of an `:ok` completion whose invocation had `invoked` and completion `completed`. */
  output(f: string, invoked: EdnValue, completed: EdnValue): O;
  /**
   * The `:f`, the invocation's `:value` and the completion's `:value` of an
   * operation; `refused` when an `ok` one is written `:fail` (it returned that it did
   * nothing, as a compare-and-set that did not swap).
   */
  write(operation: Operation<I, O>): { readonly f: string; readonly invoke: EdnValue; readonly complete: EdnValue; readonly refused?: boolean };
}

function field(entry: ReadonlyMap<string, EdnValue>, name: string): EdnValue | undefined {
  return entry.get(`:${name}`);
}

/**
 * Reads a Jepsen history from EDN text (one map per entry, or one vector of them).
 * Throws {@link HistoryError} naming the entry on text that is not EDN, an entry
 * without `:type`/`:f`/`:process`, a completion with no open invocation, a second
 * invocation by a busy process, or a value `codec` cannot read.
 *
 * @example
 * ```ts
 * const history = historyFromJepsenEdn(text, jepsenCasRegister);
 * checkLinearizability(history, registerModel);
 * ```
 */
export function historyFromJepsenEdn<I, O>(text: string, codec: JepsenCodec<I, O>): Operation<I, O>[] {
  const forms = readEdn(text);
  const entries = forms.length === 1 && Array.isArray(forms[0]) ? (forms[0] as readonly EdnValue[]) : forms;
  const events: HistoryEvent<I, O>[] = [];
  const open = new Map<number, { id: number; f: string; value: EdnValue }>();
  entries.forEach((entry, index) => {
    if (!(entry instanceof Map)) throw new HistoryError(index, `a Jepsen entry is a map, got ${writeEdn(entry)}`);
    const process = field(entry, 'process');
    if (typeof process !== 'number') return; // the nemesis, and other non-client entries
    const type = field(entry, 'type');
    const f = field(entry, 'f');
    const time = [field(entry, 'time'), field(entry, 'index')].find((t) => typeof t === 'number') ?? index;
    if (!isKeyword(f)) throw new HistoryError(index, `:f must be a keyword, got ${writeEdn(f ?? null)}`);
    const value = field(entry, 'value') ?? null;
    const pending = open.get(process);
    if (isKeyword(type, 'invoke')) {
      if (pending !== undefined) throw new HistoryError(index, `process ${process} invokes while its invocation ${pending.id} is open`);
      let read: { key: string; input: I };
      try {
        read = codec.input(f.keyword, value);
      } catch (e) {
        throw new HistoryError(index, `cannot read :f :${f.keyword} :value ${writeEdn(value)}: ${e instanceof Error ? e.message : String(e)}`);
      }
      open.set(process, { id: index, f: f.keyword, value });
      events.push({ type: 'invoke', id: index, client: String(process), key: read.key, input: read.input, at: time });
      return;
    }
    if (pending === undefined) throw new HistoryError(index, `a completion by process ${process}, which has no open invocation`);
    open.delete(process);
    if (isKeyword(type, 'ok')) {
      let output: O;
      try {
        output = codec.output(pending.f, pending.value, value);
      } catch (e) {
        throw new HistoryError(index, `cannot read the result ${writeEdn(value)} of :${pending.f}: ${e instanceof Error ? e.message : String(e)}`);
      }
      events.push({ type: 'ok', id: pending.id, output, at: time });
    } else if (isKeyword(type, 'fail')) events.push({ type: 'fail', id: pending.id, at: time });
    else if (isKeyword(type, 'info')) events.push({ type: 'info', id: pending.id });
    else throw new HistoryError(index, `:type must be :invoke, :ok, :fail or :info, got ${writeEdn(type ?? null)}`);
  });
  return historyFromEvents(events);
}

/**
 * Writes `history` as a Jepsen EDN history, one entry a line in time order: each
 * client a `:process` (numbered by first appearance), an `info` operation's
 * completion as `:info` at its `completedAt` (none when it has none).
 *
 * @example
 * ```ts
 * writeFileSync('history.edn', historyToJepsenEdn(history, jepsenCasRegister));
 * ```
 */
export function historyToJepsenEdn<I, O>(history: readonly Operation<I, O>[], codec: JepsenCodec<I, O>): string {
  const processes = new Map<string, number>();
  // Pushed in the history's order; the sort is stable, so that order stays among equals.
  const lines: { at: number; completion: number; text: string }[] = [];
  history.forEach((operation) => {
    if (!processes.has(operation.client)) processes.set(operation.client, processes.size);
    const process = processes.get(operation.client)!;
    const { f, invoke, complete, refused } = codec.write(operation);
    const entry = (type: string, value: EdnValue, time: number) =>
      writeEdn(
        new Map<string, EdnValue>([
          [':type', keyword(type)],
          [':f', keyword(f)],
          [':value', value],
          [':process', process],
          [':time', time],
        ]),
      );
    lines.push({ at: operation.invokedAt, completion: 0, text: entry('invoke', invoke, operation.invokedAt) });
    if (operation.completedAt === undefined) return;
    const type = operation.outcome === 'ok' && refused === true ? 'fail' : operation.outcome;
    lines.push({ at: operation.completedAt, completion: 1, text: entry(type, operation.outcome === 'ok' ? complete : invoke, operation.completedAt) });
  });
  // Invocations before completions at equal times, so equal times stay concurrent.
  lines.sort((a, b) => a.at - b.at || a.completion - b.completion);
  return lines.map((line) => `${line.text}\n`).join('');
}

function registerValue(value: EdnValue): RegisterValue {
  if (value === null || typeof value === 'number' || typeof value === 'string') return value;
  throw new Error(`a register holds nil, a number or a string, not ${writeEdn(value)}`);
}

/**
 * Jepsen's `cas-register` (Knossos's `cas-register` model): `:read` (`:value` the
 * value read), `:write v`, `:cas [old new]`, all on one key, `register`. A `:cas`
 * that did not swap is a `:fail` in Jepsen (it did not happen); `historyToJepsenEdn`
 * writes a refused one so.
 */
export const jepsenCasRegister: JepsenCodec<RegisterInput, RegisterOutput> = {
  input(f, value) {
    if (f === 'read') return { key: 'register', input: { op: 'read' } };
    if (f === 'write') return { key: 'register', input: { op: 'write', value: registerValue(value) } };
    if (f === 'cas' && Array.isArray(value) && value.length === 2) {
      return { key: 'register', input: { op: 'cas', expected: registerValue(value[0]!), value: registerValue(value[1]!) } };
    }
    throw new Error(`not a cas-register operation`);
  },
  output(f, _invoked, completed) {
    if (f === 'read') return { type: 'value', value: registerValue(completed) };
    return f === 'write' ? { type: 'written' } : { type: 'cas', ok: true };
  },
  write(operation) {
    const { input, output } = operation;
    switch (input.op) {
      case 'read':
        return { f: 'read', invoke: null, complete: output?.type === 'value' ? output.value : null };
      case 'write':
        return { f: 'write', invoke: input.value, complete: input.value };
      case 'cas':
        return { f: 'cas', invoke: [input.expected, input.value], complete: [input.expected, input.value], refused: output?.type === 'cas' && !output.ok };
      default:
        return unreachable(input);
    }
  },
};

/**
 * A codec of many independent keys, as Jepsen's `independent` checker writes them:
 * every `:value` is a tuple `[key value]`, and `inner` reads the value (its own key
 * is replaced).
 */
export function jepsenIndependent<I, O>(inner: JepsenCodec<I, O>): JepsenCodec<I, O> {
  const split = (value: EdnValue): [string, EdnValue] => {
    if (!Array.isArray(value) || value.length !== 2) throw new Error(`an independent value is a tuple [key value], got ${writeEdn(value)}`);
    const key = value[0]!;
    return [typeof key === 'string' ? key : writeEdn(key), value[1]!];
  };
  return {
    input(f, value) {
      const [key, inside] = split(value);
      return { key, input: inner.input(f, inside).input };
    },
    output(f, invoked, completed) {
      return inner.output(f, split(invoked)[1], split(completed)[1]);
    },
    write(operation) {
      const written = inner.write(operation);
      // As a number only if it reads back as the same key: '007', '-0' and integers past
      // 2^53 stay strings (as numbers they came back as '7', '0' or another integer, and
      // two keys could fall into one).
      const n = Number(operation.key);
      const key = Number.isSafeInteger(n) && String(n) === operation.key ? n : operation.key;
      return { ...written, invoke: [key, written.invoke], complete: [key, written.complete] };
    },
  };
}
