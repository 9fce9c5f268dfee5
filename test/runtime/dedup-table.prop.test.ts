/**
 * The exactly-once table against a naive oracle, over random requests (retries,
 * out-of-order sequence numbers, moving and stuck `ackedBelow`, results from tiny to
 * far over the bounds, more clients than it remembers): its bytes never pass either
 * bound, and no request is ever applied twice.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type DedupState, DedupTable, defaultDedupLimits } from '../../src/runtime/dedup-table.js';
import { estimateBytes } from '../../src/runtime/result-bytes.js';

const limits = { ...defaultDedupLimits, resultsPerClientMax: 8, clientsMax: 4, resultBytesPerClientMax: 1024, resultBytesMax: 3 * 1024 };

const request = fc.record({
  client: fc.integer({ min: 0, max: 6 }),
  seq: fc.integer({ min: 1, max: 24 }),
  /** How far below `seq` the client says it waits for nothing; often not at all (0). */
  acked: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 24 })),
  /** Characters of the result: most small, some beyond a client's whole bound. */
  chars: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 400, max: 4000 })),
  elapsedMs: fc.integer({ min: 0, max: 50 }),
});

describe('the deduplication table (property)', () => {
  it('stays within resultBytesPerClientMax and resultBytesMax, and applies no request twice', () => {
    /** What the runs went through, over all of them: each bound must have tripped, or the property proved little. */
    const seen = { tooLarge: 0, evictedForClient: 0, evictedForTotal: 0, dropped: 0, duplicate: 0 };
    fc.assert(
      fc.property(fc.array(request, { minLength: 1, maxLength: 300, size: 'max' }), (requests) => {
        const t = new DedupTable<string>(limits);
        const applied = new Map<string, string>();
        /** A retry keeps the time its request was first made, as the runtime does. */
        const createdAt = new Map<string, number>();
        let now = 1_000;
        for (const r of requests) {
          now += r.elapsedMs;
          const client = `c${r.client}`;
          const key = `${client}/${r.seq}`;
          if (!createdAt.has(key)) createdAt.set(key, now);
          const ackedBelow = r.acked < 0 ? 0 : Math.min(r.acked, r.seq);
          const lookup = t.check(client, r.seq, ackedBelow, createdAt.get(key)!, now);
          if (lookup.kind === 'new') {
            expect(applied.has(key), `${key} applied twice`).toBe(false);
            const value = `${key}:${'z'.repeat(r.chars)}`;
            applied.set(key, value);
            t.record(client, r.seq, { ok: true, value });
          } else if (lookup.kind === 'duplicate') {
            seen.duplicate++;
            expect(lookup.outcome, `${key}'s first outcome`).toEqual({ ok: true, value: applied.get(key) });
          } else if (lookup.kind === 'dropped') {
            seen.dropped++;
            expect(applied.has(key), `${key} dropped but never applied`).toBe(true);
          }
          const state = t.exportState();
          let total = 0;
          for (const c of state.clients) {
            let bytes = 0;
            for (const kept of c.results) bytes += kept.bytes!;
            expect(bytes, `${c.id}'s bytes`).toBeLessThanOrEqual(limits.resultBytesPerClientMax);
            total += bytes;
          }
          expect(t.stats.bytes).toBe(total);
          expect(total).toBeLessThanOrEqual(limits.resultBytesMax);
        }
        seen.tooLarge += t.stats.tooLarge;
        seen.evictedForClient += t.stats.evictedForClient;
        seen.evictedForTotal += t.stats.evictedForTotal;
      }),
      { numRuns: 300 },
    );
    for (const [what, count] of Object.entries(seen)) expect(count, `${what} over all runs`).toBeGreaterThan(0);
  });

  it('a capture is the table as it was when taken, whatever the table does after (records are copied before they change)', () => {
    /** A request of client c0 whose result is 300 characters: a few pass the client's byte bound. */
    const result = (seq: number) => ({ client: 0, seq, acked: -1, chars: 300, elapsedMs: 0 });
    const plain = (state: DedupState<string>) => ({
      ...state,
      // Each result copied too: a result changed in place after the capture must show.
      clients: state.clients.map((c) => ({ id: c.id, floor: c.floor, lastActive: c.lastActive, results: [...c.results].map((r) => ({ ...r })) })),
      tombstones: [...state.tombstones],
    });
    /** Over all runs: captures read after the table changed the records they share, dropped results they share, and forgot clients. */
    const seen = { changedAfter: 0, droppedAfter: 0, forgottenAfter: 0 };
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(request, fc.constant('capture' as const), fc.record({ progress: fc.integer({ min: 0, max: 6 }), acked: fc.integer({ min: 0, max: 24 }) })),
          {
            minLength: 1,
            maxLength: 200,
          },
        ),
        (steps) => {
          const t = new DedupTable<string>(limits);
          const captures: { state: DedupState<string>; asTaken: ReturnType<typeof plain> }[] = [];
          let now = 1_000;
          for (const step of steps) {
            if (step === 'capture') {
              captures.push({ state: t.captured(), asTaken: plain(t.exportState()) });
              continue;
            }
            if ('progress' in step) {
              t.progress(`c${step.progress}`, step.acked, now);
              continue;
            }
            now += step.elapsedMs * 1_000;
            const client = `c${step.client}`;
            if (t.check(client, step.seq, step.acked < 0 ? 0 : Math.min(step.acked, step.seq), now, now).kind === 'new')
              t.record(client, step.seq, { ok: true, value: 'z'.repeat(step.chars) });
          }
          const end = t.exportState();
          for (const { state, asTaken } of captures) {
            expect(plain(state)).toEqual(asTaken);
            if (JSON.stringify(asTaken.clients) !== JSON.stringify(end.clients)) seen.changedAfter++;
            if (asTaken.tombstones.length < end.tombstones.length) seen.forgottenAfter++;
            if (t.stats.evictedForClient + t.stats.evictedForTotal > 0 && asTaken.clients.some((c) => c.results.some((r) => r.outcome !== undefined)))
              seen.droppedAfter++;
          }
        },
      ),
      {
        numRuns: 300,
        // Run every time besides the random ones, so each kind of change after a capture
        // is met whatever the seed: a result captured, then dropped as the client's
        // later results pass its byte bound; more clients than it remembers, one forgotten.
        examples: [
          [[result(1), 'capture', result(2), result(3), result(4), result(5)]],
          [['capture', ...[0, 1, 2, 3, 4, 5].map((client) => ({ client, seq: 1, acked: -1, chars: 10, elapsedMs: 50 }))]],
        ],
      },
    );
    for (const [what, count] of Object.entries(seen)) expect(count, `${what} over all runs`).toBeGreaterThan(0);
  });

  it('charges a result what its estimate says, whatever else the table holds', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        const t = new DedupTable<string>(defaultDedupLimits);
        t.check('c', 1, 0, 0, 0);
        t.record('c', 1, { ok: true, value: text });
        expect(t.stats.bytes).toBe(64 + estimateBytes(text, Number.MAX_SAFE_INTEGER));
      }),
    );
  });
});
