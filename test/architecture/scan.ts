/**
 * A small source scanner for the architecture tests: it finds what a TypeScript file
 * imports and which banned globals it uses, without a full parser.
 *
 * The lexer blanks comments and the contents of string, template and regex literals
 * (keeping newlines, so offsets and line numbers still match the original), which
 * lets the identifier rules run on code only: TSDoc that mentions `Date` or a string
 * that says "setTimeout" does not trip them. String literals are kept aside so that
 * import specifiers can still be checked.
 */
import { readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

/** One problem found in a file. */
export interface Finding {
  /** Short, stable rule id, such as `node-import` or `Date`. */
  readonly rule: string;
  /** 1-based line. */
  readonly line: number;
  /** 1-based column. */
  readonly column: number;
  /** What is wrong, for the reader. */
  readonly message: string;
  /** The offending source line, trimmed. */
  readonly text: string;
}

/** A string literal (or a template literal without substitutions) in the source. */
interface StringLiteral {
  /** Offset of the opening quote. */
  readonly start: number;
  /** Offset just past the closing quote. */
  readonly end: number;
  /** The literal's value (simple escapes decoded). */
  readonly value: string;
}

/** A comment in the source. */
interface Comment {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

/** A lexed source file. */
export interface LexedSource {
  readonly source: string;
  /** `source` with comments and literal contents replaced by spaces (newlines kept). */
  readonly code: string;
  readonly strings: readonly StringLiteral[];
  readonly comments: readonly Comment[];
}

/** How a module is referenced. */
type ReferenceKind = 'static' | 'dynamic' | 'require' | 'triple-slash';

/** A module specifier the file depends on. */
export interface ModuleReference {
  readonly specifier: string;
  readonly kind: ReferenceKind;
  /** Offset of the specifier's literal in the source. */
  readonly offset: number;
}

/** Where a specifier points, before resolution. */
export type SpecifierClass = 'node-builtin' | 'package' | 'relative' | 'absolute' | 'url' | 'subpath-import';

const regexKeywords = new Set(['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await']);
const regexAfterPunctuator = new Set(['', '(', ',', '=', ':', '[', '!', '&', '|', '?', '{', '}', ';', '+', '-', '*', '%', '<', '>', '~', '^']);

const isIdentifierStart = (c: string): boolean => /[A-Za-z_$]/.test(c);
const isIdentifierPart = (c: string): boolean => /[\w$]/.test(c);

/** Splits a source file into code, strings and comments. */
export function lex(source: string): LexedSource {
  const out = source.split('');
  const strings: StringLiteral[] = [];
  const comments: Comment[] = [];
  /** For each open `${`, the depth of `{` nesting inside it. */
  const templateBraces: number[] = [];
  const n = source.length;
  let previous = ''; // last significant token: a punctuator or a word; 'literal' after literals
  let i = 0;

  const blank = (from: number, to: number): void => {
    for (let k = from; k < to; k++) if (out[k] !== '\n' && out[k] !== '\r') out[k] = ' ';
  };

  /** Scans template text from `from` (just past a backtick or a `}`); returns the index after it. */
  const templateChunk = (from: number, literalStart: number | undefined): number => {
    let j = from;
    while (j < n) {
      const c = source[j];
      if (c === '\\') {
        j += 2;
        continue;
      }
      if (c === '`') {
        blank(from, j);
        if (literalStart !== undefined) {
          strings.push({ start: literalStart, end: j + 1, value: unescape(source.slice(literalStart + 1, j)) });
        }
        previous = 'literal';
        return j + 1;
      }
      if (c === '$' && source[j + 1] === '{') {
        blank(from, j);
        templateBraces.push(0);
        previous = '(';
        return j + 2;
      }
      j++;
    }
    blank(from, n);
    return n;
  };

  while (i < n) {
    const c = source[i] as string;
    const next = source[i + 1];
    if (c === '/' && next === '/') {
      let end = source.indexOf('\n', i);
      if (end < 0) end = n;
      comments.push({ start: i, end, text: source.slice(i, end) });
      blank(i, end);
      i = end;
      continue;
    }
    if (c === '/' && next === '*') {
      let end = source.indexOf('*/', i + 2);
      end = end < 0 ? n : end + 2;
      comments.push({ start: i, end, text: source.slice(i, end) });
      blank(i, end);
      i = end;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < n && source[j] !== c && source[j] !== '\n') j += source[j] === '\\' ? 2 : 1;
      const end = Math.min(j + 1, n);
      strings.push({ start: i, end, value: unescape(source.slice(i + 1, j)) });
      blank(i + 1, j);
      previous = 'literal';
      i = end;
      continue;
    }
    if (c === '`') {
      i = templateChunk(i + 1, i);
      continue;
    }
    if (c === '{' && templateBraces.length > 0) {
      templateBraces[templateBraces.length - 1]! += 1;
    }
    if (c === '}' && templateBraces.length > 0) {
      if (templateBraces[templateBraces.length - 1] === 0) {
        templateBraces.pop();
        i = templateChunk(i + 1, undefined);
        continue;
      }
      templateBraces[templateBraces.length - 1]! -= 1;
    }
    if (c === '/' && (regexAfterPunctuator.has(previous) || regexKeywords.has(previous))) {
      const end = regexEnd(source, i);
      if (end !== undefined) {
        blank(i + 1, end);
        previous = 'literal';
        i = end + 1;
        while (i < n && /[a-z]/i.test(source[i] as string)) i++;
        continue;
      }
    }
    if (isIdentifierStart(c)) {
      let j = i + 1;
      while (j < n && isIdentifierPart(source[j] as string)) j++;
      previous = source.slice(i, j);
      i = j;
      continue;
    }
    if (/\d/.test(c)) {
      let j = i + 1;
      while (j < n && /[\w.]/.test(source[j] as string)) j++;
      previous = 'literal';
      i = j;
      continue;
    }
    if (!/\s/.test(c)) previous = c;
    i++;
  }
  return { source, code: out.join(''), strings, comments };
}

/** The index of the closing `/` of a regex literal opening at `start`, or undefined if it is not one. */
function regexEnd(source: string, start: number): number | undefined {
  let inClass = false;
  for (let j = start + 1; j < source.length; j++) {
    const c = source[j];
    if (c === '\\') {
      j++;
      continue;
    }
    if (c === '\n') return undefined;
    if (c === '[') inClass = true;
    else if (c === ']') inClass = false;
    else if (c === '/' && !inClass) return j;
  }
  return undefined;
}

function unescape(raw: string): string {
  return raw.replace(/\\(.)/g, '$1');
}

/** Every module the file references: static and dynamic imports, re-exports, `require`, triple-slash references. */
export function moduleReferences(lexed: LexedSource): ModuleReference[] {
  const references: ModuleReference[] = [];
  for (const literal of lexed.strings) {
    const before = lexed.code.slice(Math.max(0, literal.start - 80), literal.start);
    let kind: ReferenceKind | undefined;
    if (/(?:^|[^\w$.])(?:from|import)\s*$/.test(before)) kind = 'static';
    else if (/(?:^|[^\w$.])import\s*\(\s*$/.test(before)) kind = 'dynamic';
    else if (/(?:^|[^\w$.])require\s*\(\s*$/.test(before)) kind = 'require';
    if (kind !== undefined) references.push({ specifier: literal.value, kind, offset: literal.start });
  }
  for (const comment of lexed.comments) {
    const match = /^\/\/\/\s*<reference\s+(?:path|types|lib)\s*=\s*["']([^"']*)["']/.exec(comment.text);
    if (match) references.push({ specifier: match[1] as string, kind: 'triple-slash', offset: comment.start });
  }
  return references.sort((a, b) => a.offset - b.offset);
}

const builtins = new Set(builtinModules);

/** What kind of thing a specifier names. */
export function classifySpecifier(specifier: string): SpecifierClass {
  if (specifier.startsWith('node:')) return 'node-builtin';
  if (specifier.startsWith('./') || specifier.startsWith('../') || specifier === '.' || specifier === '..') return 'relative';
  if (specifier.startsWith('/') || /^[A-Za-z]:[\\/]/.test(specifier)) return 'absolute';
  if (/^[a-z][a-z0-9+.-]*:/i.test(specifier)) return 'url';
  if (specifier.startsWith('#')) return 'subpath-import';
  if (builtins.has(specifier) || builtins.has(specifier.split('/')[0] as string)) return 'node-builtin';
  return 'package';
}

/** Whether `target` is `root` or inside it. */
export function isInside(root: string, target: string): boolean {
  const rel = relative(root, target);
  if (rel === '') return true;
  return !isAbsolute(rel) && rel.split(sep)[0] !== '..';
}

/** 1-based line and column of an offset. */
export function position(source: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let k = 0; k < offset && k < source.length; k++) {
    if (source[k] === '\n') {
      line++;
      lineStart = k + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

function lineText(source: string, offset: number): string {
  const start = source.lastIndexOf('\n', offset - 1) + 1;
  let end = source.indexOf('\n', offset);
  if (end < 0) end = source.length;
  return source.slice(start, end).trim();
}

/** Objects through which a banned global can be reached as a property. */
const globalObjects = new Set(['globalThis', 'global', 'window', 'self']);

/**
 * A banned global. `valueOnly` globals (`process`, `performance`, `crypto`) are only
 * reported when used as objects (`process.env`, `performance.now()`), so that a local
 * method named `process(...)` is not mistaken for Node's global.
 */
interface Ban {
  readonly rule: string;
  readonly name: RegExp;
  readonly message: string;
  readonly valueOnly?: boolean;
  /** Extra condition on the text after the match. */
  readonly followedBy?: RegExp;
}

const bans: readonly Ban[] = [
  { rule: 'Date', name: /\bDate\b/g, message: 'reads the clock (`Date`); time enters the core as tick()' },
  { rule: 'Math.random', name: /\bMath\s*\.\s*random\b/g, message: 'uses `Math.random`; randomness is injected as a generator' },
  {
    rule: 'timer',
    name: /\b(?:setTimeout|setInterval|setImmediate|queueMicrotask|clearTimeout|clearInterval|clearImmediate)\b/g,
    message: 'sets a timer or schedules a task; the core is driven by tick()',
  },
  { rule: 'process', name: /\bprocess\b/g, message: "uses Node's `process`", valueOnly: true },
  { rule: 'performance', name: /\bperformance\b/g, message: 'reads the clock (`performance`)', valueOnly: true },
  { rule: 'crypto', name: /\bcrypto\b/g, message: 'uses the global `crypto` (randomness or Node/Web I/O)', valueOnly: true },
  { rule: 'Buffer', name: /\bBuffer\b/g, message: "uses Node's `Buffer`; the core must run in a browser unchanged" },
  { rule: 'require', name: /\brequire\b/g, followedBy: /^\s*\(/, message: 'calls `require(`' },
  {
    rule: 'async',
    name: /\basync\b/g,
    followedBy: /^\s*(?:function\b|\*|\(|<|[A-Za-z_$[#])/,
    message: 'declares an `async` function; the core is synchronous',
  },
  { rule: 'await', name: /\bawait\b/g, message: 'uses `await`; the core is synchronous' },
  { rule: 'Promise', name: /\bPromise(?:Like)?\b/g, message: 'uses `Promise`; the core is synchronous' },
];

/** Whether the match at `index` is a property of some object other than a global object. */
function isForeignProperty(code: string, index: number): boolean {
  const before = code.slice(Math.max(0, index - 80), index);
  const member = /([\w$]*)\s*\??\.\s*$/.exec(before);
  if (!member) return false;
  return !globalObjects.has(member[1] as string);
}

/** Whether the match is an object key, a parameter or property name (`name:`, `name?:`). */
function isKeyOrDeclaredName(after: string): boolean {
  return /^\s*\??\s*:(?!:)/.test(after);
}

/** The banned globals used in already-lexed code. */
function bannedGlobals(lexed: LexedSource): Finding[] {
  const findings: Finding[] = [];
  const { code, source } = lexed;
  for (const ban of bans) {
    for (const match of code.matchAll(ban.name)) {
      const index = match.index;
      const after = code.slice(index + match[0].length, index + match[0].length + 80);
      if (isForeignProperty(code, index)) continue;
      if (isKeyOrDeclaredName(after)) continue;
      if (ban.followedBy && !ban.followedBy.test(after)) continue;
      if (ban.valueOnly) {
        const typeofBefore = /\btypeof\s*$/.test(code.slice(Math.max(0, index - 20), index));
        if (!typeofBefore && !/^\s*(?:\??\.|\[)/.test(after)) continue;
      }
      const { line, column } = position(source, index);
      findings.push({ rule: ban.rule, line, column, message: ban.message, text: lineText(source, index) });
    }
  }
  return findings;
}

/**
 * Everything that makes a file under `coreRoot` impure (architecture rule 1): imports of
 * Node builtins, npm packages or anything outside `coreRoot`, and banned globals.
 * `file` is the file's absolute path (it need not exist: the self-test uses virtual paths).
 */
export function scanCoreSource(source: string, file: string, coreRoot: string): Finding[] {
  const lexed = lex(source);
  const findings: Finding[] = [];
  for (const reference of moduleReferences(lexed)) {
    const { specifier, offset } = reference;
    const where = position(source, offset);
    const text = lineText(source, offset);
    const push = (rule: string, message: string): void => {
      findings.push({ rule, line: where.line, column: where.column, message, text });
    };
    if (reference.kind === 'triple-slash') {
      push('triple-slash', `references '${specifier}' with a triple-slash directive`);
      continue;
    }
    switch (classifySpecifier(specifier)) {
      case 'node-builtin':
        push('node-import', `imports the Node builtin '${specifier}'`);
        break;
      case 'package':
        push('package-import', `imports the npm package '${specifier}'`);
        break;
      case 'relative': {
        const target = resolve(dirname(file), specifier);
        if (!isInside(coreRoot, target)) {
          push(
            'outside-core-import',
            `imports '${specifier}', outside src/core (resolves to ${relative(dirname(dirname(coreRoot)), target)
              .split(sep)
              .join('/')})`,
          );
        }
        break;
      }
      case 'absolute':
      case 'url':
      case 'subpath-import':
        push('outside-core-import', `imports '${specifier}', outside src/core`);
        break;
    }
  }
  findings.push(...bannedGlobals(lexed));
  return findings.sort((a, b) => a.line - b.line || a.column - b.column);
}

/** `file:line:column rule: message — text`, the form the tests print. */
export function formatFinding(file: string, finding: Finding): string {
  return `${file}:${finding.line}:${finding.column} [${finding.rule}] ${finding.message} — ${finding.text}`;
}

/** Every TypeScript file under `dir`, recursively, sorted; empty if `dir` does not exist. */
export function listTypeScriptFiles(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const files: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...listTypeScriptFiles(path));
    else if (entry.isFile() && /\.(?:ts|mts|cts|tsx)$/.test(entry.name)) files.push(path);
  }
  return files.sort();
}
