/**
 * The four-letter words' text, from figures given: the layouts ZooKeeper 3.8 prints
 * that a live member in one role cannot show (a follower's `dump`, a connection still
 * in its handshake, figures after `crst`), and how numbers are written.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fourLetterWordAnswer, javaDate, type ZkServerStats } from '../../../src/zk/server/four-letter-words.js';
import { ZkConnectionStats, operationName } from '../../../src/zk/server/zk-connection-stats.js';
import { ZkLatency } from '../../../src/zk/server/zk-latency.js';
import { dirsAnswer } from '../../../src/zk/server/zk-data-dir-size.js';

const noReset = { resetServer: () => {}, resetConnections: () => {} };

function stats(overrides: Partial<ZkServerStats> = {}): ZkServerStats {
  return {
    mode: 'follower',
    serverId: 'b',
    zxid: 0x2a,
    nodeCount: 5,
    received: 0,
    sent: 0,
    latency: new ZkLatency(),
    connections: [],
    watchList: [],
    ephemerals: new Map(),
    dataBytes: 0,
    sessions: [],
    address: { host: '127.0.0.1', port: 2181 },
    sessionTimeoutMsMin: 4_000,
    sessionTimeoutMsMax: 40_000,
    connectionsMax: 60,
    dataDir: '/d',
    environment: () => [],
    ...overrides,
  };
}

describe('ZkLatency', () => {
  it('keeps the least, mean and most whole milliseconds, and 0 for each before any request or after a reset', () => {
    const l = new ZkLatency();
    expect([l.min, l.mean, l.max, l.lastMs]).toEqual([0, 0, 0, 0]);
    for (const ms of [8.9, 0.2, 4, 7]) l.record(ms);
    expect(() => l.record(-1)).toThrow(/-1 ms/);
    expect([l.min, l.max, l.lastMs, l.answered]).toEqual([0, 8, 7, 4]);
    expect(l.mean).toBe(19 / 4);
    l.reset();
    expect([l.min, l.mean, l.max, l.lastMs, l.answered]).toEqual([0, 0, 0, 0, 0]);
  });
});

describe('fourLetterWordAnswer', () => {
  it('prints the mean latency as ZooKeeper prints a double: up to four places, never bare', () => {
    const latency = new ZkLatency();
    const srvr = () => /^Latency min\/avg\/max: (.*)$/m.exec(fourLetterWordAnswer('srvr', () => stats({ latency }), noReset))![1];
    expect(srvr()).toBe('0/0.0/0');
    for (const ms of [0, 8, 1, 2, 3, 4, 1]) latency.record(ms);
    expect(srvr()).toBe('0/2.7143/8');
    latency.reset();
    latency.record(3);
    expect(srvr()).toBe('3/3.0/3');
  });

  it("prints a follower's dump with every session and its timeout, as ZooKeeper's followers do", () => {
    const text = fourLetterWordAnswer(
      'dump',
      () =>
        stats({
          sessions: [
            { id: 0x10, ttlMs: 6_000, expiresAt: undefined },
            { id: 0x2f, ttlMs: 10_000, expiresAt: undefined },
          ],
          ephemerals: new Map([[0x2f, ['/a', '/b/c']]]),
        }),
      noReset,
    );
    expect(text).toBe(
      'SessionTracker dump:\nGlobal Sessions(2):\n0x10\t6000ms\n0x2f\t10000ms\nephemeral nodes dump:\nSessions with Ephemerals (1):\n0x2f:\n\t/a\n\t/b/c\nConnections dump:\nConnections (0):\n',
    );
  });

  it("groups the leader's sessions by the second it expects to expire them, soonest first", () => {
    const t = Date.UTC(2026, 11, 5, 16, 2, 47);
    const sessions = [
      { id: 1, ttlMs: 4_000, expiresAt: t + 1_500 },
      { id: 2, ttlMs: 4_000, expiresAt: t - 200 },
      { id: 3, ttlMs: 4_000, expiresAt: t + 1_900 },
    ];
    expect(fourLetterWordAnswer('dump', () => stats({ mode: 'leader', sessions }), noReset)).toMatch(
      /^SessionTracker dump:\nSession Sets \(2\)\/\(3\):\n1 expire at Sat Dec 05 16:02:47 UTC 2026:\n\t0x2\n2 expire at Sat Dec 05 16:02:49 UTC 2026:\n\t0x1\n\t0x3\nephemeral nodes dump:\n/,
    );
  });

  it("prints a connection's figures after crst as ZooKeeper does, and one still in its handshake briefly", () => {
    const fresh = new ZkConnectionStats();
    fresh.received = 1;
    const used = new ZkConnectionStats();
    used.answered('GETD', 7, 0x2a, 100, 105.6);
    used.reset();
    const connections = [
      { remote: '::ffff:10.0.0.1:5000', reading: true, outstanding: 0, session: undefined, timeoutMs: 0, establishedAt: 1, stats: fresh },
      { remote: '10.0.0.2:5001', reading: false, outstanding: 2, session: 0xabc, timeoutMs: 6_000, establishedAt: 1_796_486_557_221, stats: used },
    ];
    expect(fourLetterWordAnswer('cons', () => stats({ connections }), noReset)).toBe(
      ' /10.0.0.1:5000[1](queued=0,recved=1,sent=0)\n /10.0.0.2:5001[0](queued=2,recved=0,sent=0,sid=0xabc,lop=NA,est=1796486557221,to=6000,lzxid=0xffffffffffffffff,lresp=0,llat=0,minlat=0,avglat=0,maxlat=0)\n\n',
    );
  });

  it('calls the resets for srst and crst, reads no figures for ruok and isro, and answers a word it does not know that it is not supported', () => {
    const calls: string[] = [];
    const reset = { resetServer: () => calls.push('server'), resetConnections: () => calls.push('connections') };
    expect(fourLetterWordAnswer('srst', () => stats(), reset)).toBe('Server stats reset.\n');
    expect(fourLetterWordAnswer('crst', () => stats(), reset)).toBe('Connection stats reset.\n');
    expect(calls).toEqual(['server', 'connections']);
    // A liveness probe's word reads no figures (they walk the whole tree).
    const unread = (): ZkServerStats => {
      throw new Error('figures read');
    };
    expect(fourLetterWordAnswer('ruok', unread, reset)).toBe('imok');
    expect(fourLetterWordAnswer('isro', unread, reset)).toBe('rw');
    expect(fourLetterWordAnswer('gtmk', () => stats(), reset)).toBe('gtmk is not executed because it is not supported by this server.\n');
  });

  it('writes times as Java writes a Date, in UTC', () => {
    expect(javaDate(Date.UTC(2026, 0, 4, 3, 5, 9))).toBe('Sun Jan 04 03:05:09 UTC 2026');
  });
});

describe('dirsAnswer', () => {
  it('counts the bytes of the files under the data directory, on both lines (snapshots and log share it)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'zk-dirs-'));
    try {
      await writeFile(join(dir, 'wal'), Buffer.alloc(1_000));
      await mkdir(join(dir, 'snapshots'));
      await writeFile(join(dir, 'snapshots', 'one'), Buffer.alloc(234));
      await symlink('/etc/hostname', join(dir, 'elsewhere'));
      expect(await dirsAnswer(dir)).toBe('datadir_size: 1234\nlogdir_size: 1234\n');
      expect(await dirsAnswer('')).toBe('datadir_size: 0\nlogdir_size: 0\n');
      expect(await dirsAnswer(join(dir, 'missing'))).toMatch(/^Unable to read the data directory .*missing: ENOENT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('operationName', () => {
  it("abbreviates operations as ZooKeeper's cons does", () => {
    expect(operationName({ type: 'getChildren2', path: '/', watch: false })).toBe('GETC');
    expect(
      operationName({ type: 'setWatches', version: 2, watches: { relativeZxid: 0, data: [], exist: [], child: [], persistent: [], persistentRecursive: [] } }),
    ).toBe('STW2');
    expect(operationName({ type: 'write', request: { op: 'multi', ops: [] } })).toBe('MULT');
    expect(operationName({ type: 'ping' })).toBe('PING');
  });
});
