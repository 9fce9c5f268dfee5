/**
 * A reader and writer of the part of EDN (Clojure's data notation) that Jepsen
 * histories use: nil, booleans, numbers, strings, keywords, symbols, vectors, lists,
 * sets and maps, with `;` comments, commas as whitespace, and `#tag value` read as the
 * value.
 */
import { HistoryError } from './history-error.js';

/** A keyword (`:read`), kept apart from strings. */
export interface EdnKeyword {
  readonly keyword: string;
}

/**
 * An EDN value as JavaScript: `nil` is `null`, vectors and lists are arrays, sets
 * are `{ set: [...] }`, maps are `Map`s keyed by the EDN text of their keys
 * (`':type'`, `'"name"'`, `'1'`), symbols are `{ symbol }`.
 */
export type EdnValue =
  | null
  | boolean
  | number
  | string
  | EdnKeyword
  | { readonly symbol: string }
  | { readonly set: readonly EdnValue[] }
  | readonly EdnValue[]
  | ReadonlyMap<string, EdnValue>;

/** A keyword value. */
export const keyword = (name: string): EdnKeyword => ({ keyword: name });

/** Whether `value` is the keyword `name`. */
export function isKeyword(value: EdnValue | undefined, name?: string): value is EdnKeyword {
  return typeof value === 'object' && value !== null && 'keyword' in value && (name === undefined || value.keyword === name);
}

/** The escapes of a string besides `\uXXXX`: EDN's, and `\b` and `\f`, which Clojure reads and {@link writeEdn} may write. */
const escapes: Readonly<Record<string, string>> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', '"': '"', '\\': '\\' };

const delimiters = new Set([' ', '\t', '\n', '\r', ',', '(', ')', '[', ']', '{', '}', '"', ';']);

/**
 * Reads every top-level EDN value of `text`. Throws {@link HistoryError} naming the
 * top-level form and the character where the text is not EDN.
 *
 * @example
 * ```ts
 * readEdn('{:type :invoke, :f :read, :value nil} {:type :ok}'); // two Maps
 * ```
 */
export function readEdn(text: string): EdnValue[] {
  let at = 0;
  let form = 0;
  const fail = (why: string): never => {
    throw new HistoryError(form, `EDN at character ${at}: ${why}`);
  };
  /** Skips whitespace, commas, comments and discarded forms (`#_` and the form after it, which may end a collection or the text). */
  const skip = () => {
    for (;;) {
      const c = text[at];
      if (c === undefined) return;
      if (c === ';') {
        while (at < text.length && text[at] !== '\n') at++;
      } else if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === ',') at++;
      else if (c === '#' && text[at + 1] === '_') {
        at += 2;
        value(); // discarded
      } else return;
    }
  };
  const token = () => {
    const start = at;
    while (at < text.length && !delimiters.has(text[at]!)) at++;
    return text.slice(start, at);
  };
  const sequence = (close: string): EdnValue[] => {
    const items: EdnValue[] = [];
    for (;;) {
      skip();
      if (at >= text.length) fail(`unclosed, expected '${close}'`);
      if (text[at] === close) {
        at++;
        return items;
      }
      items.push(value());
    }
  };
  const value = (): EdnValue => {
    skip();
    const c = text[at];
    if (c === undefined) return fail('expected a value, found the end');
    if (c === '[') {
      at++;
      return sequence(']');
    }
    if (c === '(') {
      at++;
      return sequence(')');
    }
    if (c === '{') {
      at++;
      const items = sequence('}');
      if (items.length % 2 !== 0) fail('a map with an odd number of forms');
      const map = new Map<string, EdnValue>();
      for (let i = 0; i < items.length; i += 2) map.set(writeEdn(items[i]!), items[i + 1]!);
      return map;
    }
    if (c === '"') {
      at++;
      let out = '';
      for (;;) {
        const d = text[at++];
        if (d === undefined) return fail('unclosed string');
        if (d === '"') return out;
        if (d !== '\\') {
          out += d;
          continue;
        }
        const e = text[at++];
        if (e === 'u') {
          const hex = text.slice(at, at + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail(`bad escape \\u${hex}: four hexadecimal digits expected`);
          out += String.fromCharCode(parseInt(hex, 16));
          at += 4;
        } else if (e !== undefined && escapes[e] !== undefined) out += escapes[e];
        else fail(`bad escape \\${e ?? ''}`);
      }
    }
    if (c === '#') {
      at++;
      if (text[at] === '{') {
        at++;
        return { set: sequence('}') };
      }
      token(); // a tag such as #inst or #jepsen.history.Op: the value that follows stands
      return value();
    }
    if (c === ':') {
      at++;
      const name = token();
      if (name === '') fail('an empty keyword');
      return keyword(name);
    }
    const word = token();
    if (word === 'nil') return null;
    if (word === 'true') return true;
    if (word === 'false') return false;
    if (/^[+-]?\d/.test(word)) {
      const number = Number(word.replace(/[NM]$/, ''));
      if (!Number.isFinite(number)) fail(`not a number: ${word}`);
      return number;
    }
    // A closer where a value should be: the only delimiter that reaches here.
    if (word === '') return fail(`unexpected '${c}'`);
    return { symbol: word };
  };
  const values: EdnValue[] = [];
  for (;;) {
    skip();
    if (at >= text.length) return values;
    values.push(value());
    form++;
  }
}

/**
 * Writes `value` as EDN text.
 *
 * @example
 * ```ts
 * writeEdn(new Map([[':f', keyword('read')]])); // '{:f :read}'
 * ```
 */
export function writeEdn(value: EdnValue): string {
  if (value === null) return 'nil';
  if (typeof value === 'boolean' || typeof value === 'number') return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(writeEdn).join(' ')}]`;
  if (value instanceof Map) return `{${[...value].map(([k, v]) => `${k} ${writeEdn(v as EdnValue)}`).join(', ')}}`;
  if ('keyword' in value) return `:${value.keyword}`;
  if ('symbol' in value) return value.symbol;
  if ('set' in value) return `#{${value.set.map(writeEdn).join(' ')}}`;
  throw new HistoryError(0, `not an EDN value: ${String(value)}`);
}
