/**
 * Where a node writes what it does: the shape of pino's logger (`logger.info(fields,
 * message)`), so a pino instance (or a child of one) can be passed as it is.
 *
 * @example
 * ```ts
 * import pino from 'pino';
 * createNode({ ..., logger: pino().child({ node: 'a' }) });
 * ```
 */
export interface Logger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

const ignore = (): void => {};

/** The default: logs nothing. */
export const silentLogger: Logger = Object.freeze({ debug: ignore, info: ignore, warn: ignore, error: ignore });
