/**
 * What `cons` prints for one client connection, as ZooKeeper keeps it: packets in and
 * out, the last operation (ZooKeeper's four-letter abbreviation), its xid and zxid,
 * when it was answered, and the latency of the requests answered. `crst` resets them.
 */
import type { ZkRequest } from '../protocol/zk-request.js';
import { ZkLatency } from './zk-latency.js';

/** One connection's figures. @internal */
export class ZkConnectionStats {
  /** Frames read (requests, the handshake and a four-letter word included). */
  received = 0;
  /** Frames written (answers and watch events). */
  sent = 0;
  /** The last answered operation, as ZooKeeper abbreviates it (`GETD`, `CREA`, ...); `NA` before any. */
  lastOp = 'NA';
  /** The last answered request's xid; -1 before any (and for pings, whose xid is negative, `cons` leaves it out). */
  lastCxid = -1;
  /** The zxid of the last answer; -1 before any (`cons` prints it as 0xffffffffffffffff, as ZooKeeper does). */
  lastZxid = -1;
  /** When the last answer went out, ms on the server's monotonic clock; 0 before any. */
  lastResponseMs = 0;
  readonly latency = new ZkLatency();

  /** Notes an answer to a request read at `readAtMs` (monotonic ms), answered at `nowMs`. */
  answered(op: string, cxid: number, zxid: number, readAtMs: number, nowMs: number): void {
    this.lastOp = op;
    this.lastCxid = cxid;
    this.lastZxid = zxid;
    this.lastResponseMs = Math.floor(nowMs);
    this.latency.record(nowMs - readAtMs);
  }

  /** Forgets every figure (`crst`). */
  reset(): void {
    this.received = 0;
    this.sent = 0;
    this.lastOp = 'NA';
    this.lastCxid = -1;
    this.lastZxid = -1;
    this.lastResponseMs = 0;
    this.latency.reset();
  }
}

const readOps: Record<Exclude<ZkRequest['type'], 'write' | 'auth'>, string> = {
  ping: 'PING',
  closeSession: 'CLOS',
  setWatches: 'SETW',
  sync: 'SYNC',
  exists: 'EXIS',
  getData: 'GETD',
  getChildren: 'GETC',
  getChildren2: 'GETC',
  getACL: 'GETA',
  getAllChildrenNumber: 'GETACN',
  getEphemerals: 'GETE',
  addWatch: 'ADDW',
  removeWatches: 'REMW',
  checkWatches: 'CHKW',
  multiRead: 'MLTR',
  unknown: 'UNKN',
};

const writeOps = { create: 'CREA', delete: 'DELE', setData: 'SETD', setACL: 'SETA', check: 'CHEC', multi: 'MULT' } as const;

/** ZooKeeper's abbreviation of a request, as `cons` prints it in `lop`. @internal */
export function operationName(request: Exclude<ZkRequest, { type: 'auth' }>): string {
  if (request.type === 'write') return writeOps[request.request.op];
  if (request.type === 'setWatches' && request.version === 2) return 'STW2';
  return readOps[request.type];
}
