/**
 * Errors as the `synod` command writes them: the whole `cause` chain, since the cause
 * is often the part that says what to do ("ENOSPC on /var/lib/synod/a/wal-3.log").
 */
import { SynodError } from '../core/index.js';

/** How many causes deep to follow (a cycle or a very long chain stops here). */
const causesMax = 5;

/** One line: `Name: message; caused by Name: message; ...`. A plain Error's stack is kept for bugs. */
export function errorLine(error: unknown): string {
  const parts: string[] = [];
  let e: unknown = error;
  for (let depth = 0; e !== undefined && depth <= causesMax; depth++) {
    if (e instanceof SynodError || (e instanceof Error && depth > 0)) parts.push(`${e.name}: ${e.message}`);
    else if (e instanceof Error) parts.push(e.stack ?? `${e.name}: ${e.message}`);
    else parts.push(String(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join('; caused by ');
}

/** An error as JSON log fields: name, message, code and its causes. */
export function errorFields(error: Error, depth = 0): Record<string, unknown> {
  const { code, path } = error as { code?: unknown; path?: unknown };
  return {
    name: error.name,
    message: error.message,
    ...(typeof code === 'string' ? { code } : {}),
    ...(typeof path === 'string' ? { path } : {}),
    ...(error.cause instanceof Error && depth < causesMax ? { cause: errorFields(error.cause, depth + 1) } : {}),
  };
}
