/**
 * Routing keys to their ranges' leaders, on its own: a fake source lists the ranges and
 * the members; the routes pick the lane of the leader of the range holding each key,
 * read the map again when it is old or a lane failed, and keep the last map when a
 * reading fails.
 */
import { describe, expect, it } from 'vitest';
import { LeaderRoutes } from '../../../src/kv/client/leader-routes.js';
import type { RangeStatus } from '../../../src/kv/index.js';
import type { TcpAddress } from '../../../src/transport/tcp/index.js';

const range = (group: number, start: string, end: string | undefined, leader: string | undefined): RangeStatus => ({
  group,
  start,
  ...(end === undefined ? {} : { end }),
  ...(leader === undefined ? {} : { leader }),
  revision: 1,
  keys: 0,
  valueBytes: 0,
});

class Source {
  list: RangeStatus[] = [range(1, '', 'g', 'a'), range(2, 'g', 'p', 'b'), range(3, 'p', undefined, undefined)];
  addresses: Record<string, string> = { a: '127.0.0.1:1,127.0.0.1:11', b: '127.0.0.1:2,127.0.0.1:12', c: 'not an address' };
  reads = 0;
  failing = false;
  async ranges(): Promise<RangeStatus[]> {
    this.reads++;
    if (this.failing) throw new Error('down');
    return this.list;
  }
  async members() {
    return { configuration: { addresses: this.addresses } };
  }
}

class FakeLane {
  closed = false;
  constructor(readonly address: TcpAddress) {}
  async close(): Promise<void> {
    this.closed = true;
  }
}

const settle = () => new Promise((r) => setTimeout(r, 0));

describe('leader routes', () => {
  it("send a key to the lane of its range's leader, once the map is read, and nowhere without a leader or an address", async () => {
    const source = new Source();
    let now = 0;
    const routes = new LeaderRoutes(
      source,
      (address) => new FakeLane(address),
      1_000,
      () => now,
    );
    expect(routes.laneFor('apple')).toBeUndefined();
    await settle();
    expect(source.reads).toBe(1);
    expect(routes.laneFor('apple')?.address).toEqual({ host: '127.0.0.1', port: 11 });
    expect(routes.laneFor('g')?.address.port).toBe(12);
    expect(routes.laneFor('orange')?.address.port).toBe(12);
    // Range 3 has no leader; '' is in range 1.
    expect(routes.laneFor('zebra')).toBeUndefined();
    expect(routes.laneFor('')?.address.port).toBe(11);
    expect(routes.laneFor('apple')).toBe(routes.laneFor('a'));
    // A leader whose address does not parse is reached the usual way.
    source.list = [range(1, '', undefined, 'c')];
    now = 1_000;
    routes.laneFor('x');
    await settle();
    expect(routes.laneFor('x')).toBeUndefined();
    expect(source.reads).toBe(2);
  });

  it('read the map again when it is old or a lane failed, and keep the last one when a reading fails', async () => {
    const source = new Source();
    let now = 0;
    const routes = new LeaderRoutes(
      source,
      (address) => new FakeLane(address),
      1_000,
      () => now,
    );
    routes.laneFor('a');
    await settle();
    now = 500;
    routes.laneFor('a');
    await settle();
    expect(source.reads).toBe(1);
    routes.failed();
    source.failing = true;
    expect(routes.laneFor('a')?.address.port).toBe(11);
    await settle();
    expect(source.reads).toBe(2);
    expect(routes.size).toBe(3);
    expect(routes.laneFor('a')?.address.port).toBe(11);
    source.failing = false;
    source.list = [range(1, '', undefined, 'b')];
    now = 2_000;
    routes.laneFor('a');
    await settle();
    expect(routes.laneFor('a')?.address.port).toBe(12);
    const lanes = [routes.laneFor('a')!];
    await routes.close();
    expect(lanes.every((l) => l.closed)).toBe(true);
    expect(routes.laneFor('a')).toBeUndefined();
  });
});
