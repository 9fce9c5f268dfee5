import { describe, expect, it } from 'vitest';
import { limitLogRate } from '../../src/runtime/index.js';

describe('limitLogRate', () => {
  it('passes linesMax lines of each kind per interval, counts the rest, and tells the next interval how many it dropped', () => {
    let t = 0;
    const lines: string[] = [];
    const sink = (level: string) => (fields: Record<string, unknown>, message: string) => lines.push(`${level} ${message} ${JSON.stringify(fields)}`);
    const logger = limitLogRate(
      { debug: sink('debug'), info: sink('info'), warn: sink('warn'), error: sink('error') },
      { linesMax: 2, intervalMs: 1_000, now: () => t },
    );
    for (let i = 0; i < 10; i++) logger.warn({ i }, 'refused');
    // Another kind (same message, another level; or another message) has its own allowance.
    logger.info({}, 'refused');
    logger.warn({}, 'closed');
    expect(lines).toEqual(['warn refused {"i":0}', 'warn refused {"i":1}', 'info refused {}', 'warn closed {}']);
    expect(logger.suppressed).toBe(8);
    t = 1_000;
    logger.warn({ i: 10 }, 'refused');
    expect(lines.at(-1)).toBe('warn refused {"i":10,"suppressed":8}');
    logger.warn({ i: 11 }, 'refused');
    expect(lines.at(-1)).toBe('warn refused {"i":11}');
    expect(logger.suppressed).toBe(8);
  });
});
