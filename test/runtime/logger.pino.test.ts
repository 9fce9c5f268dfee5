/**
 * A pino logger is taken as it is (the runtime's `Logger` is pino's shape): a cluster
 * logging through one writes JSON lines with pino's fields and ours, children included,
 * and `limitLogRate` wraps one too.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { limitLogRate } from '../../src/runtime/index.js';
import { clusterPerTest } from './local-cluster.js';

const clusters = clusterPerTest();

/** A pino logger writing into `lines`, one parsed JSON object per line. */
function capture(lines: Record<string, unknown>[]): pino.Logger {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return pino({ level: 'debug' }, sink);
}

describe('a pino logger', () => {
  it('is taken as it is, child loggers included: every node logs JSON lines through it', async () => {
    const lines: Record<string, unknown>[] = [];
    const root = capture(lines);
    const c = await clusters.start({ voters: 3, node: { logger: root.child({ service: 'test' }) } });
    const leader = await c.waitForLeader();
    await c.node(leader).propose({ key: 'k', add: 1 });
    await c.node(leader).close();
    await c.waitFor(() => lines.some((l) => l['msg'] === 'node closed' && l['node'] === leader), 'the close to be logged');
    // pino's own fields, the child's binding and ours.
    const started = lines.filter((l) => l['msg'] === 'node started');
    expect(started.map((l) => l['node']).sort()).toEqual([...c.ids].sort());
    for (const l of started) {
      expect(l['level']).toBe(30);
      expect(l['service']).toBe('test');
      expect(typeof l['time']).toBe('number');
      expect(typeof l['pid']).toBe('number');
    }
    expect(lines.some((l) => l['msg'] === 'leader changed' && l['leader'] === leader)).toBe(true);
  });

  it('can be rate-limited by limitLogRate', () => {
    const lines: Record<string, unknown>[] = [];
    const logger = limitLogRate(capture(lines), { linesMax: 2, intervalMs: 60_000 });
    for (let i = 0; i < 5; i++) logger.warn({ peer: 'x', i }, 'refused');
    expect(lines.map((l) => [l['level'], l['msg'], l['i']])).toEqual([
      [40, 'refused', 0],
      [40, 'refused', 1],
    ]);
    expect(logger.suppressed).toBe(3);
  });
});
