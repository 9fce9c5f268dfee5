/**
 * ZooKeeper's C client, through its Node binding (npm `zookeeper`, a native addon built
 * from the C client's sources by setup.sh into bench/compare/node_modules), with the
 * calls the ZooKeeper port benchmark makes, answering as `ZooKeeperClient` does: one
 * session per client, connected to one address.
 */
import { createRequire } from 'node:module';
import { type ZNodeData, ZooKeeperError, zooErrors } from './zookeeper-client.js';

interface Stat {
  readonly version: number;
}

interface NativeClient {
  init(config: Record<string, unknown>): unknown;
  on(event: 'connect', listener: () => void): unknown;
  close(): unknown;
  a_create(path: string, data: Buffer, flags: number, cb: (rc: number, error: string, path: string) => void): number;
  a_get(path: string, watch: boolean, cb: (rc: number, error: string, stat: Stat, data: Buffer | null) => void): number;
  a_set(path: string, data: Buffer, version: number, cb: (rc: number, error: string, stat: Stat) => void): number;
  a_delete_(path: string, version: number, cb: (rc: number, error: string) => void): number;
  a_sync(path: string, cb: (rc: number, error: string) => void): number;
}

interface Binding {
  new (config: Record<string, unknown>): NativeClient;
  readonly constants: {
    readonly ZOK: number;
    readonly ZOO_PERSISTENT: number;
    readonly ZOO_EPHEMERAL_SEQUENTIAL: number;
    readonly ZOO_LOG_LEVEL_ERROR: number;
  };
}

/** The binding, or why it is not installed (run `bash bench/compare/setup.sh`). */
export function loadCBinding(): Binding | string {
  try {
    return createRequire(import.meta.url)('zookeeper') as Binding;
  } catch (error) {
    return `ZooKeeper's C client binding is not installed (run bash bench/compare/setup.sh): ${(error as Error).message.split('\n')[0]}`;
  }
}

const bytes = (data: Uint8Array): Buffer => Buffer.from(data.buffer, data.byteOffset, data.byteLength);

/** One session of the C client. */
export class ZooKeeperCClient {
  private constructor(
    private readonly native: NativeClient,
    private readonly binding: Binding,
  ) {}

  /** Opens a session on `address` (`host:port`), with a 10 s session timeout. */
  static connect(binding: Binding, address: string): Promise<ZooKeeperCClient> {
    const native = new binding({
      connect: address,
      timeout: 10_000,
      debug_level: binding.constants.ZOO_LOG_LEVEL_ERROR,
      host_order_deterministic: true,
      data_as_buffer: true,
      // The binding closes a live session itself, as expired, once the C client's event
      // processing returned "nothing" more than this many times in a row (default 10):
      // on a loaded machine a slow answer did, and the benchmark died of ZOPERATIONTIMEOUT
      // (yfinkelstein/node-zookeeper issues 228 and 233). The C client's own timeouts stay.
      response_counter_limit: 1_000_000,
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the C client did not connect to ${address} within 10 s`)), 10_000);
      native.on('connect', () => {
        clearTimeout(timer);
        resolve(new ZooKeeperCClient(native, binding));
      });
      native.init({});
    });
  }

  /** Creates a persistent znode with open ACLs; resolves false if it exists already. */
  async create(path: string, data: Uint8Array): Promise<boolean> {
    const rc = await this.call<string>(
      path,
      (done) => this.native.a_create(path, bytes(data), this.binding.constants.ZOO_PERSISTENT, (code, _e, p) => done(code, p)),
      [zooErrors.nodeExists],
    );
    return rc !== undefined;
  }

  async createEphemeralSequential(prefix: string, data: Uint8Array): Promise<string> {
    return (await this.call<string>(prefix, (done) =>
      this.native.a_create(prefix, bytes(data), this.binding.constants.ZOO_EPHEMERAL_SEQUENTIAL, (code, _e, p) => done(code, p)),
    ))!;
  }

  async delete(path: string, version: number): Promise<void> {
    await this.call<undefined>(path, (done) => this.native.a_delete_(path, version, (code) => done(code, undefined)));
  }

  async getData(path: string): Promise<ZNodeData> {
    return (await this.call<ZNodeData>(path, (done) =>
      this.native.a_get(path, false, (code, _e, stat, data) => done(code, { data: data ?? new Uint8Array(0), version: stat?.version ?? -1 })),
    ))!;
  }

  async setData(path: string, data: Uint8Array, version: number): Promise<number> {
    return (await this.call<number>(path, (done) => this.native.a_set(path, bytes(data), version, (code, _e, stat) => done(code, stat?.version ?? -1))))!;
  }

  async sync(path: string): Promise<void> {
    await this.call<undefined>(path, (done) => this.native.a_sync(path, (code) => done(code, undefined)));
  }

  async close(): Promise<void> {
    this.native.close();
  }

  /** Runs one call: its value on ZOK, undefined on an error code in `tolerated`, else rejects with {@link ZooKeeperError}. */
  private call<T>(path: string, start: (done: (rc: number, value: T) => void) => number, tolerated: readonly number[] = []): Promise<T | undefined> {
    return new Promise((resolve, reject) => {
      const done = (rc: number, value: T): void => {
        if (rc === this.binding.constants.ZOK) resolve(value);
        else if (tolerated.includes(rc)) resolve(undefined);
        else reject(new ZooKeeperError(rc, path));
      };
      const rc = start(done);
      if (typeof rc === 'number' && rc < 0) reject(new ZooKeeperError(rc, path));
    });
  }
}
