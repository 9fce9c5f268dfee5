/**
 * ZooKeeper's C client, through its Node binding (npm `zookeeper`, built from the C
 * client's sources by test/zk/clients/c-binding/setup.sh into that directory), typed
 * as much as the tests use, with each call's answer as ZooKeeper's return code and
 * values: the tests compare codes with the C client's own constants.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { root } from '../cli/cli-processes.js';

/** A znode's Stat as the C client gives it (64-bit fields as numbers). */
export interface CStat {
  readonly czxid: number;
  readonly mzxid: number;
  readonly pzxid: number;
  readonly version: number;
  readonly cversion: number;
  readonly aversion: number;
  readonly ephemeralOwner: number | string;
  readonly dataLength: number;
  readonly numChildren: number;
}

interface NativeClient {
  init(config: Record<string, unknown>): unknown;
  on(event: 'connect' | 'close' | 'connecting', listener: () => void): unknown;
  close(): unknown;
  readonly client_id: number | string;
  a_create(path: string, data: string, flags: number, cb: (rc: number, error: string, path: string) => void): number;
  a_get(path: string, watch: boolean, cb: (rc: number, error: string, stat: CStat, data: string) => void): number;
  aw_get(path: string, watch: (type: number, state: number, path: string) => void, cb: (rc: number, error: string, stat: CStat, data: string) => void): number;
  a_exists(path: string, watch: boolean, cb: (rc: number, error: string, stat: CStat) => void): number;
  a_set(path: string, data: string, version: number, cb: (rc: number, error: string, stat: CStat) => void): number;
  a_delete_(path: string, version: number, cb: (rc: number, error: string) => void): number;
  a_get_children(path: string, watch: boolean, cb: (rc: number, error: string, children: string[]) => void): number;
  a_sync(path: string, cb: (rc: number, error: string) => void): number;
}

/** The C client's constants the tests use (its own values, read from the binding). */
export interface CConstants {
  readonly ZOK: number;
  readonly ZNONODE: number;
  readonly ZNODEEXISTS: number;
  readonly ZBADVERSION: number;
  readonly ZNOTEMPTY: number;
  readonly ZNOCHILDRENFOREPHEMERALS: number;
  readonly ZCONNECTIONLOSS: number;
  readonly ZOPERATIONTIMEOUT: number;
  readonly ZSESSIONEXPIRED: number;
  readonly ZOO_PERSISTENT: number;
  readonly ZOO_EPHEMERAL: number;
  readonly ZOO_EPHEMERAL_SEQUENTIAL: number;
  readonly ZOO_PERSISTENT_SEQUENTIAL: number;
  readonly ZOO_CHANGED_EVENT: number;
  readonly ZOO_CHILD_EVENT: number;
  readonly ZOO_DELETED_EVENT: number;
  readonly ZOO_LOG_LEVEL_ERROR: number;
  readonly ZOO_LOG_LEVEL_INFO: number;
}

interface Binding {
  new (config: Record<string, unknown>): NativeClient;
  readonly constants: CConstants;
}

/** An answer: ZooKeeper's return code, and what came with it when it is ZOK. */
export interface Answer<T> {
  readonly rc: number;
  readonly value?: T;
}

/** The binding, or why it is not there (the tests that need it skip, saying so). */
export function loadCBinding(): { binding: Binding } | { missing: string } {
  const dir = join(root, 'test', 'zk', 'clients', 'c-binding');
  try {
    const binding = createRequire(join(dir, 'package.json'))('zookeeper') as Binding;
    return { binding };
  } catch (error) {
    return { missing: `ZooKeeper's C client binding is not built (run bash test/zk/clients/c-binding/setup.sh): ${(error as Error).message.split('\n')[0]}` };
  }
}

/** One session of the C client, each call a promise of its answer. */
export class CClient {
  private constructor(
    readonly native: NativeClient,
    readonly c: CConstants,
  ) {}

  /** Connects to `hosts` (`host:port,...`; the C client picks one and moves on failure) with a session of `timeoutMs`. */
  static connect(binding: Binding, hosts: string, timeoutMs: number): Promise<CClient> {
    const c = binding.constants;
    // The binding closes a session itself, as expired, once the C client's event
    // processing returned "nothing" more than `response_counter_limit` times in a row
    // (default 10), which a connection reset by a killed server can do while the session
    // is alive (yfinkelstein/node-zookeeper issues 228 and 233); the C client's own
    // reconnection is what the tests are about, so the binding's guess is set aside.
    // `SYNOD_ZK_C_LOG=1` shows the C client's log (connections, session moves).
    const native = new binding({
      connect: hosts,
      timeout: timeoutMs,
      debug_level: process.env['SYNOD_ZK_C_LOG'] === undefined ? c.ZOO_LOG_LEVEL_ERROR : c.ZOO_LOG_LEVEL_INFO,
      host_order_deterministic: false,
      data_as_buffer: false,
      response_counter_limit: 1_000_000,
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the C client did not connect to ${hosts} within ${timeoutMs} ms`)), timeoutMs);
      native.on('connect', () => {
        clearTimeout(timer);
        resolve(new CClient(native, c));
      });
      native.init({});
    });
  }

  /** The session id, as ZooKeeper's four-letter words print it (`0x` and hex). */
  get sessionHex(): string {
    const id = this.native.client_id;
    return typeof id === 'string' ? `0x${BigInt(id.startsWith('0x') ? id : `0x${id}`).toString(16)}` : `0x${id.toString(16)}`;
  }

  create(path: string, data: string, flags: number): Promise<Answer<string>> {
    return this.call((done) => this.native.a_create(path, data, flags, (rc, _e, p) => done(rc, p)));
  }

  get(path: string): Promise<Answer<{ stat: CStat; data: string }>> {
    return this.call((done) => this.native.a_get(path, false, (rc, _e, stat, data) => done(rc, { stat, data })));
  }

  /** getData with a one-shot watch: `fired` gets the event's type and path. */
  watchGet(path: string, fired: (type: number, path: string) => void): Promise<Answer<{ stat: CStat; data: string }>> {
    return this.call((done) =>
      this.native.aw_get(
        path,
        (type, _state, p) => fired(type, p),
        (rc, _e, stat, data) => done(rc, { stat, data }),
      ),
    );
  }

  exists(path: string): Promise<Answer<CStat>> {
    return this.call((done) => this.native.a_exists(path, false, (rc, _e, stat) => done(rc, stat)));
  }

  set(path: string, data: string, version: number): Promise<Answer<CStat>> {
    return this.call((done) => this.native.a_set(path, data, version, (rc, _e, stat) => done(rc, stat)));
  }

  delete(path: string, version: number): Promise<Answer<undefined>> {
    return this.call((done) => this.native.a_delete_(path, version, (rc) => done(rc, undefined)));
  }

  children(path: string): Promise<Answer<string[]>> {
    return this.call((done) => this.native.a_get_children(path, false, (rc, _e, children) => done(rc, [...children].sort())));
  }

  sync(path: string): Promise<Answer<undefined>> {
    return this.call((done) => this.native.a_sync(path, (rc) => done(rc, undefined)));
  }

  close(): void {
    this.native.close();
  }

  private call<T>(start: (done: (rc: number, value: T) => void) => number): Promise<Answer<T>> {
    return new Promise((resolve) => {
      const rc = start((code, value) => resolve(code === this.c.ZOK ? { rc: code, value } : { rc: code }));
      // A call the C client refused before sending (a bad argument, a closed handle).
      if (typeof rc === 'number' && rc < 0) resolve({ rc });
    });
  }
}
