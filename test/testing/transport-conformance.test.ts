/**
 * The Transport conformance suite can fail: run against deliberately broken
 * transports, the case that checks each broken rule goes red (and the others stay green).
 */
import { describe, expect, it } from 'vitest';
import type { NodeId, NodeMessage, Transport, TransportHandlers } from '../../src/index.js';
import { transportConformance } from '../../src/testing/index.js';

type Flaw = 'none' | 'buffers for dead peers' | 'delivers after close' | 'throws for unknown peers';

/** A tiny in-process hub with one deliberate flaw. */
class Hub {
  private readonly live = new Map<NodeId, TransportHandlers>();
  private readonly retired = new Map<NodeId, TransportHandlers>();
  private readonly parked = new Map<NodeId, NodeMessage[]>();

  constructor(private readonly flaw: Flaw) {}

  transport(id: NodeId): Transport {
    return {
      start: async (handlers) => {
        this.live.set(id, handlers);
        for (const m of this.parked.get(id) ?? []) setTimeout(() => handlers.deliver(m), 0);
        this.parked.delete(id);
      },
      send: (m) => {
        const to = this.live.get(m.to);
        if (to !== undefined) {
          setTimeout(() => this.live.get(m.to)?.deliver(m), 0);
          return;
        }
        if (this.flaw === 'throws for unknown peers' && !this.retired.has(m.to)) throw new Error(`unknown peer ${m.to}`);
        if (this.flaw === 'buffers for dead peers') this.parked.set(m.to, [...(this.parked.get(m.to) ?? []), m]);
        const old = this.retired.get(m.to);
        if (this.flaw === 'delivers after close' && old !== undefined) setTimeout(() => old.deliver(m), 0);
      },
      close: async () => {
        const h = this.live.get(id);
        if (h !== undefined) this.retired.set(id, h);
        this.live.delete(id);
      },
    };
  }
}

/** Runs the suite for `flaw` and returns, per case title, whether it passed. */
async function verdicts(flaw: Flaw): Promise<Map<string, boolean>> {
  const cases: { name: string; fn: () => Promise<void> }[] = [];
  let hub = new Hub(flaw);
  transportConformance(
    flaw,
    { setup: async () => void (hub = new Hub(flaw)), create: (id) => hub.transport(id) },
    { describe: (_name, fn) => fn(), it: (name, fn) => cases.push({ name, fn }) },
    { deliveryMsMax: 1_000, floodMessages: 2_000 },
  );
  const out = new Map<string, boolean>();
  for (const c of cases)
    out.set(
      c.name,
      await c.fn().then(
        () => true,
        () => false,
      ),
    );
  return out;
}

describe('transportConformance', () => {
  it('passes a correct transport, and each flaw fails exactly the case that checks it', async () => {
    const good = await verdicts('none');
    expect([...good.values()].every(Boolean)).toBe(true);
    const failing = async (flaw: Flaw): Promise<string[]> => [...(await verdicts(flaw))].filter(([, ok]) => !ok).map(([name]) => name);
    expect(await failing('buffers for dead peers')).toEqual(['a flood toward a dead peer is not stored without bound']);
    expect(await failing('delivers after close')).toEqual(['delivers nothing to a closed node, and send never throws toward it or an unknown peer']);
    expect(await failing('throws for unknown peers')).toEqual(['delivers nothing to a closed node, and send never throws toward it or an unknown peer']);
  }, 60_000);
});
