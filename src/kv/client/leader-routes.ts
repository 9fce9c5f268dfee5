/**
 * Where a client sends a key's requests so they reach its range's leader first: the
 * ranges and their leaders as a server last listed them (`ranges`), the members'
 * client addresses from the configuration (`members`), and one lane (a client of its
 * own) per member led to. A request the map has no leader for goes the client's own
 * way. The map is only a hint: any member serves any key, so a stale one costs a hop
 * inside the cluster, never a wrong answer; it is read again every `refreshMs` while
 * requests come, and at once after a lane's request fails.
 */
import type { TcpAddress } from '../../transport/tcp/index.js';
import { parseMemberAddress } from '../server/member-address.js';
import type { RangeStatus } from '../shard/sharded-kv.js';

/** What the routes need of the client they route for. @internal */
export interface RouteSource {
  ranges(options: { timeoutMs?: number }): Promise<RangeStatus[]>;
  members(options: { timeoutMs?: number }): Promise<{ configuration: { readonly addresses: Readonly<Record<string, string>> } }>;
}

/** A lane: a client of one member, closed with the routes. @internal */
export interface Lane {
  close(): Promise<void>;
}

/** @internal */
export class LeaderRoutes<L extends Lane> {
  /** The ranges in key order, and each member's client address. */
  private map: { readonly ranges: readonly RangeStatus[]; readonly addresses: ReadonlyMap<string, TcpAddress> } | undefined;
  private readonly lanes = new Map<string, L>();
  private refreshing = false;
  private refreshedAt = Number.NEGATIVE_INFINITY;
  private closed = false;

  constructor(
    private readonly source: RouteSource,
    /** A client of the member at `address`, trying it first. */
    private readonly makeLane: (address: TcpAddress) => L,
    private readonly refreshMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** How many ranges the map holds (0 until first read). */
  get size(): number {
    return this.map?.ranges.length ?? 0;
  }

  /**
   * The lane to the member leading the range of `key`, or undefined (no map yet, no
   * leader known, or its address unknown): the caller sends it its own way.
   */
  laneFor(key: string): L | undefined {
    if (this.closed) return undefined;
    if (this.now() - this.refreshedAt >= this.refreshMs) void this.refresh();
    const map = this.map;
    if (map === undefined) return undefined;
    const range = rangeOf(map.ranges, key);
    const leader = range?.leader;
    if (leader === undefined) return undefined;
    const address = map.addresses.get(leader);
    if (address === undefined) return undefined;
    let lane = this.lanes.get(leader);
    if (lane === undefined) {
      lane = this.makeLane(address);
      this.lanes.set(leader, lane);
    }
    return lane;
  }

  /** A lane's request failed: read the map again soon (its leader may have moved). */
  failed(): void {
    this.refreshedAt = Number.NEGATIVE_INFINITY;
  }

  /** Reads the ranges and the members' addresses again; failures leave the map as it was. */
  async refresh(): Promise<void> {
    if (this.refreshing || this.closed) return;
    this.refreshing = true;
    this.refreshedAt = this.now();
    try {
      const [ranges, { configuration }] = await Promise.all([this.source.ranges({}), this.source.members({})]);
      const addresses = new Map<string, TcpAddress>();
      for (const [id, text] of Object.entries(configuration.addresses)) {
        try {
          addresses.set(id, parseMemberAddress('KvClient', text).client);
        } catch {
          // A member whose address does not parse is reached the client's own way.
        }
      }
      this.map = { ranges, addresses };
    } catch {
      // No map this time (a server down, no permission to list the ranges): requests go the client's own way.
    } finally {
      this.refreshing = false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.lanes.values()].map((lane) => lane.close()));
    this.lanes.clear();
  }
}

/** The range holding `key`, by binary search over ranges in key order (the first starts at ''). */
function rangeOf(ranges: readonly RangeStatus[], key: string): RangeStatus | undefined {
  let lo = 0;
  let hi = ranges.length - 1;
  let found: RangeStatus | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const range = ranges[mid]!;
    if (range.start <= key) {
      found = range;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found !== undefined && (found.end === undefined || key < found.end) ? found : undefined;
}
