import type { Logger } from './logger.js';

/** How much of one kind of line {@link limitLogRate} passes. */
export interface LogRateLimit {
  /** Lines of one level and message passed per interval; more are counted and dropped. Default 20. */
  readonly linesMax?: number;
  /** The interval, in ms. Default 10,000. */
  readonly intervalMs?: number;
  /** The clock, in ms. Default `Date.now`. */
  readonly now?: () => number;
}

/** A logger that passes a bounded number of lines of each kind, and counts the rest. */
export interface RateLimitedLogger extends Logger {
  /** Lines dropped so far, all kinds together. */
  readonly suppressed: number;
}

/** Kinds of line tracked at once; beyond it, tracking starts over (a flood cannot grow this). */
const kindsMax = 1_024;

/**
 * Wraps `logger` so that each kind of line (level and message; the fields may differ)
 * passes at most `linesMax` times per `intervalMs`. A flood of refused connections
 * then costs a few lines, not megabytes: the first line of the next interval carries
 * `suppressed`, how many like it were dropped. Messages are fixed strings with the
 * details in fields, so a kind is one cause.
 *
 * @example
 * ```ts
 * const logger = limitLogRate(pino(), { linesMax: 5, intervalMs: 60_000 });
 * ```
 */
export function limitLogRate(logger: Logger, limit: LogRateLimit = {}): RateLimitedLogger {
  const linesMax = limit.linesMax ?? 20;
  const intervalMs = limit.intervalMs ?? 10_000;
  const now = limit.now ?? Date.now;
  const kinds = new Map<string, { start: number; lines: number; dropped: number }>();
  let suppressed = 0;
  const level =
    (name: keyof Logger) =>
    (fields: Record<string, unknown>, message: string): void => {
      const key = `${name} ${message}`;
      const t = now();
      let kind = kinds.get(key);
      if (kind === undefined) {
        if (kinds.size >= kindsMax) kinds.clear();
        kind = { start: t, lines: 0, dropped: 0 };
        kinds.set(key, kind);
      }
      let dropped = 0;
      if (t - kind.start >= intervalMs) {
        dropped = kind.dropped;
        kind.start = t;
        kind.lines = 0;
        kind.dropped = 0;
      }
      if (kind.lines >= linesMax) {
        kind.dropped++;
        suppressed++;
        return;
      }
      kind.lines++;
      logger[name](dropped === 0 ? fields : { ...fields, suppressed: dropped }, message);
    };
  return {
    debug: level('debug'),
    info: level('info'),
    warn: level('warn'),
    error: level('error'),
    get suppressed() {
      return suppressed;
    },
  };
}
