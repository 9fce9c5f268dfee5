/**
 * The ZooKeeper state machine as the KV's extension: its commands ride in the KV's
 * log (`extension` commands), its state in the KV's snapshots, so one synod group
 * serves the KV and the ZooKeeper tree with one log and one leader.
 */
import type { KvExtension } from '../kv/kv-extension.js';
import type { ApplyMeta } from '../runtime/index.js';
import { CodecError } from '../encoding/codec-error.js';
import type { ZkCommand, ZkResult } from './zk-command.js';
import { decodeZkCommand, decodeZkResult, encodeZkCommand, encodeZkResult } from './zk-command-codec.js';
import { encodeZkSnapshot, restoreZkSnapshot } from './zk-snapshot.js';
import { ZkStateMachine } from './zk-state-machine.js';
import { ZkSessionTable } from './zk-session-table.js';
import { ZkTree } from './zk-tree.js';

/**
 * Runs a {@link ZkStateMachine} inside the KV's state machine.
 *
 * @example
 * ```ts
 * const zk = new ZkExtension();
 * const kv = createKvNode({ ..., kv: { extension: zk } });
 * ```
 */
export class ZkExtension implements KvExtension {
  /** The tree and sessions (this replica's copy). */
  readonly machine = new ZkStateMachine();

  apply(command: Uint8Array, meta: ApplyMeta): Uint8Array {
    let decoded: ZkCommand;
    try {
      decoded = decodeZkCommand(command);
    } catch (error) {
      if (!(error instanceof CodecError)) throw error;
      return encodeZkResult({ type: 'invalid', reason: error.message, zxid: this.machine.zxid });
    }
    return encodeZkResult(this.machine.apply(decoded, meta));
  }

  snapshot(): Uint8Array {
    return encodeZkSnapshot(this.machine);
  }

  restore(data: Uint8Array | undefined): void {
    if (data === undefined) this.machine.replace({ tree: new ZkTree(), sessions: new ZkSessionTable(), zxid: 0, time: 0 });
    else restoreZkSnapshot(this.machine, data);
  }
}

/** The KV command that carries `command`. */
export function zkKvCommand(command: ZkCommand): { readonly type: 'extension'; readonly data: Uint8Array } {
  return { type: 'extension', data: encodeZkCommand(command).slice() };
}

/** The ZooKeeper result in a KV result; a CodecError if it holds none. */
export function zkResultOf(result: { readonly type: string; readonly data?: Uint8Array }): ZkResult {
  if (result.type !== 'extension' || result.data === undefined) throw new CodecError(`zk: the KV answered ${result.type}, not an extension result`);
  return decodeZkResult(result.data);
}
