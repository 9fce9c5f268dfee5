/**
 * A node's own scheduled snapshots on a storage that writes snapshots a piece at a time
 * (`createSnapshot`, as FileStorage does): they are written in pieces, never copied
 * into one buffer and saved whole, and a node restarted on the same directory restores
 * from them. A storage without `createSnapshot` still gets them whole.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryNetwork, MemoryStorage, type Storage, type SynodNode, createNode } from '../../src/index.js';
import { copyBytesPerStep } from '../../src/runtime/snapshot-format.js';
import { FileStorage } from '../../src/storage/file/index.js';

/** Appends each command's bytes to one growing state: a few commands make a state of megabytes. */
class Blob {
  parts: number[] = [];
  apply(command: { bytes: number; fill: number }): number {
    this.parts.push(command.bytes, command.fill);
    return this.parts.length / 2;
  }
  snapshot(): { write(): Promise<Uint8Array> } {
    const parts = this.parts.slice();
    return {
      write: async () => {
        let total = 4 + 8 * (parts.length / 2);
        for (let i = 0; i < parts.length; i += 2) total += parts[i]!;
        const out = new Uint8Array(total);
        const view = new DataView(out.buffer);
        view.setUint32(0, parts.length / 2);
        let at = 4;
        for (let i = 0; i < parts.length; i += 2) {
          view.setUint32(at, parts[i]!);
          view.setUint32(at + 4, parts[i + 1]!);
          at += 8;
        }
        for (let i = 0; i < parts.length; i += 2) {
          out.fill(parts[i + 1]!, at, at + parts[i]!);
          at += parts[i]!;
        }
        return out;
      },
    };
  }
  restore(data: Uint8Array): void {
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const n = view.getUint32(0);
    const parts: number[] = [];
    let at = 4 + 8 * n;
    for (let i = 0; i < n; i++) {
      const bytes = view.getUint32(4 + 8 * i);
      const fill = view.getUint32(8 + 8 * i);
      // Every byte is checked: a piece written out of place or twice shows here.
      for (let b = at; b < at + bytes; b++) if (data[b] !== fill) throw new Error(`byte ${b} is ${data[b]}, not ${fill}`);
      at += bytes;
      parts.push(bytes, fill);
    }
    if (at !== data.byteLength) throw new Error(`${data.byteLength - at} bytes after the state`);
    this.parts = parts;
  }
}

/** What the node asked of its storage's snapshot calls. */
interface Calls {
  readonly whole: number[];
  readonly pieces: { slot: number; byteLength: number; writes: number[]; committed: boolean }[];
}

/** `storage`, recording its snapshot calls. */
function recording(storage: Storage): { storage: Storage; calls: Calls } {
  const calls: Calls = { whole: [], pieces: [] };
  const spy: Storage = Object.create(storage) as Storage;
  Object.assign(spy, {
    saveSnapshot: (snapshot: Parameters<Storage['saveSnapshot']>[0]) => {
      calls.whole.push(snapshot.slot);
      return storage.saveSnapshot(snapshot);
    },
  });
  const create = storage.createSnapshot?.bind(storage);
  if (create !== undefined) {
    Object.assign(spy, {
      createSnapshot: (slot: number, byteLength: number, options?: Parameters<NonNullable<Storage['createSnapshot']>>[2]) => {
        const writer = create(slot, byteLength, options);
        const call = { slot, byteLength, writes: [] as number[], committed: false };
        calls.pieces.push(call);
        return {
          write: (bytes: Uint8Array) => {
            call.writes.push(bytes.byteLength);
            return writer.write(bytes);
          },
          commit: async (crc?: number) => {
            await writer.commit(crc);
            call.committed = true;
          },
          abort: () => writer.abort(),
        };
      },
    });
  }
  return { storage: spy, calls };
}

const dirs: string[] = [];
const nodes: SynodNode<{ bytes: number; fill: number }, number>[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.close()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

function start(storage: Storage, machine: Blob): SynodNode<{ bytes: number; fill: number }, number> {
  const node = createNode<{ bytes: number; fill: number }, number>({
    id: 'a',
    members: ['a'],
    transport: new MemoryNetwork().transport('a'),
    storage,
    stateMachine: machine,
    snapshot: { everySlots: 10, trailingSlots: 2 },
  });
  nodes.push(node);
  return node;
}

/**
 * Commands of 200 KB each, one slot each, a snapshot due every 10: 15, then (the first
 * snapshot saved, a snapshot is not started while one is written) 15 more. Two
 * snapshots at least, of about 2 and 5 MB.
 */
async function fill(node: SynodNode<{ bytes: number; fill: number }, number>): Promise<void> {
  for (let i = 1; i <= 15; i++) await node.propose({ bytes: 200_000, fill: i });
  await waitFor('a snapshot saved', () => node.metrics().snapshots.saved >= 1);
  for (let i = 16; i <= 30; i++) await node.propose({ bytes: 200_000, fill: i });
}

async function waitFor(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 25));
  expect(check(), what).toBe(true);
}

describe("a node's own snapshots", () => {
  it('go to a storage with createSnapshot in pieces of at most a copy step, never whole, and a restart restores from them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'synod-snapshot-save-'));
    dirs.push(dir);
    const { storage, calls } = recording(await FileStorage.open(dir));
    const machine = new Blob();
    const node = start(storage, machine);
    await node.start();
    await fill(node);
    await waitFor('two snapshots saved', () => node.metrics().snapshots.saved >= 2);
    expect(calls.whole).toEqual([]);
    const committed = calls.pieces.filter((c) => c.committed);
    expect(committed.length).toBeGreaterThanOrEqual(2);
    for (const c of committed) {
      expect(c.writes.reduce((a, b) => a + b, 0)).toBe(c.byteLength);
      expect(Math.max(...c.writes)).toBeLessThanOrEqual(copyBytesPerStep);
    }
    // The one of 5 MB and more took the header's piece and at least two of the state's.
    expect(Math.max(...committed.map((c) => c.writes.length))).toBeGreaterThanOrEqual(3);
    const state = machine.parts.slice();
    await node.close();

    const again = new Blob();
    const restarted = start(await FileStorage.open(dir), again);
    await restarted.start();
    await waitFor('the restarted node to apply everything', () => restarted.status().appliedIndex >= 30);
    // The log the first snapshot covers was compacted: only the snapshot holds the first commands.
    expect(again.parts).toEqual(state);
  });

  it('go to a storage without createSnapshot whole', async () => {
    const { storage, calls } = recording(new MemoryStorage());
    const machine = new Blob();
    const node = start(storage, machine);
    await node.start();
    await fill(node);
    await waitFor('two snapshots saved', () => node.metrics().snapshots.saved >= 2);
    expect(calls.pieces).toEqual([]);
    expect(calls.whole.length).toBeGreaterThanOrEqual(2);
  });
});
