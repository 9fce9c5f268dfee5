/**
 * architecture rule 6, "layers point one way": encoding and core at the ground, then
 * runtime ← storage/transport; the KV uses the runtime's public API (and its Node-only
 * server and client compose the adapters through their public entries); testing may use
 * core and runtime; nothing below the testing kit imports it; storage and transport
 * adapters never import each other. Directories that do not exist yet are skipped, so
 * the rules are written once for the target layout.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { classifySpecifier, isInside, lex, listTypeScriptFiles, moduleReferences, position } from './scan.js';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const srcRoot = join(repoRoot, 'src');

/** A top-level folder of src/, `root` for files directly in src/ (the `synod` entry). */
type Layer =
  | 'encoding'
  | 'core'
  | 'connection'
  | 'runtime'
  | 'groups'
  | 'storage'
  | 'transport'
  | 'kv'
  | 'zk'
  | 'recipes'
  | 'testing'
  | 'prometheus'
  | 'cli'
  | 'root';

/** One file of a layer this one may not import as a whole, and which of this layer's folders may import it. */
interface Doorway {
  /** The importing files: this folder of src/ and everything under it. */
  readonly from: string;
  /** The file imported, from src/ (a `.ts` path). */
  readonly file: string;
}

interface LayerRule {
  readonly layer: Exclude<Layer, 'root'>;
  /** If given, the only layers this one may import. */
  readonly mayImport?: readonly Layer[];
  /** Layers this one must not import. */
  readonly mayNotImport?: readonly Layer[];
  /** Single files of layers outside `mayImport` that parts of this layer may still import. */
  readonly doorways?: readonly Doorway[];
}

const rules: readonly LayerRule[] = [
  // One byte layer under every format (writer, reader, slab, framing, CRC, CodecError):
  // it imports nothing but itself and the base class of synod's errors.
  { layer: 'encoding', mayImport: ['encoding'], doorways: [{ from: 'encoding', file: 'core/errors.ts' }] },
  { layer: 'core', mayImport: ['core'] },
  // The one authenticated framed connection (handshake, proof, frame loop, secrets) that
  // the TCP transport's peers and the KV's clients and servers share: beside the byte
  // layer, under both, importing neither (nor the runtime).
  { layer: 'connection', mayImport: ['encoding', 'core', 'connection'] },
  { layer: 'runtime', mayImport: ['encoding', 'core', 'runtime'] },
  // Many groups in one process: nodes of the runtime over one shared transport, beside
  // the runtime and above it; the adapters under the runtime know nothing of it.
  { layer: 'groups', mayImport: ['encoding', 'core', 'runtime', 'groups'] },
  { layer: 'storage', mayImport: ['encoding', 'core', 'runtime', 'storage'] },
  { layer: 'transport', mayImport: ['encoding', 'core', 'connection', 'runtime', 'transport'] },
  // The testing kit may run the group host, and put the messages of a simulated network
  // through the wire codec (pure, no Node), as a network transport would.
  {
    layer: 'testing',
    mayImport: ['encoding', 'core', 'runtime', 'groups', 'testing'],
    doorways: [{ from: 'testing', file: 'transport/codec/index.ts' }],
  },
  // The KV uses the runtime's public API. Its Node-only server and client (their own
  // subpaths) compose the file storage and the TCP transport, through their entries only,
  // and authenticate clients with the connection layer peers use too. The sharded KV
  // runs its ranges' groups on the group host, through its entry.
  {
    layer: 'kv',
    mayImport: ['encoding', 'core', 'connection', 'runtime', 'kv'],
    doorways: [
      { from: 'kv/shard', file: 'groups/index.ts' },
      { from: 'kv/server', file: 'storage/file/index.ts' },
      { from: 'kv/server', file: 'transport/tcp/index.ts' },
      { from: 'kv/client', file: 'transport/tcp/index.ts' },
    ],
  },
  // The ZooKeeper front end runs on the KV's node (one group serves both); the KV knows
  // nothing of it. Its server names TCP addresses, through the transport's entry.
  {
    layer: 'zk',
    mayImport: ['encoding', 'core', 'runtime', 'kv', 'zk'],
    doorways: [{ from: 'zk/server', file: 'transport/tcp/index.ts' }],
  },
  // The recipes are written against the KV's API (and the errors it shares with the runtime).
  { layer: 'recipes', mayImport: ['core', 'runtime', 'kv', 'recipes'] },
  // The prom-client helpers read the others' metrics (types only); nothing but the CLI imports them.
  { layer: 'prometheus', mayNotImport: ['storage', 'testing', 'cli', 'root'] },
];

/** The entry file of `synod` may not pull in the testing kit: it has its own subpath. */
const rootMayNotImport: readonly Layer[] = ['testing', 'prometheus', 'cli'];

const packageSubpaths: Readonly<Record<string, Layer>> = {
  synod: 'root',
  'synod/testing': 'testing',
  'synod/kv': 'kv',
  'synod/recipes': 'recipes',
  'synod/kv-server': 'kv',
  'synod/kv-client': 'kv',
  'synod/zk': 'zk',
  'synod/zk-server': 'zk',
  'synod/file-storage': 'storage',
  'synod/tcp-transport': 'transport',
  'synod/prometheus': 'prometheus',
};

/**
 * The layer a specifier imported from `file` lands in, or undefined for npm packages,
 * Node builtins and files outside src/ (other tests check those).
 */
function targetLayer(file: string, specifier: string, src: string): Layer | 'outside-src' | undefined {
  const self = packageSubpaths[specifier];
  if (self !== undefined) return self;
  if (specifier.startsWith('synod/')) return specifier.split('/')[1] as Layer;
  if (classifySpecifier(specifier) !== 'relative') return undefined;
  const target = resolve(dirname(file), specifier);
  if (!isInside(src, target)) return 'outside-src';
  return layerOf(target, src);
}

/** The file a relative `specifier` in `file` names, from `src` with `/` separators and a `.ts` ending; undefined for a package. */
function targetFile(file: string, specifier: string, src: string): string | undefined {
  if (classifySpecifier(specifier) !== 'relative') return undefined;
  return relative(src, resolve(dirname(file), specifier))
    .split(sep)
    .join('/')
    .replace(/\.js$/, '.ts');
}

function layerOf(path: string, src: string): Layer {
  const parts = relative(src, path).split(sep);
  return parts.length === 1 ? 'root' : (parts[0] as Layer);
}

/** Every import in `source` (at `file`, inside `src`) that breaks a layer rule, as `file:line text`. */
function layerViolations(file: string, source: string, src: string): string[] {
  const from = layerOf(file, src);
  const rule = rules.find((r) => r.layer === from);
  const fromPath = relative(src, file).split(sep).join('/');
  const forbidden = (to: Layer, specifier: string): boolean => {
    if (to === from) return false;
    if (from === 'root') return rootMayNotImport.includes(to);
    if (rule === undefined) return false;
    if (rule.mayImport !== undefined && !rule.mayImport.includes(to)) {
      const target = targetFile(file, specifier, src);
      return !(rule.doorways ?? []).some((d) => d.file === target && fromPath.startsWith(`${d.from}/`));
    }
    return rule.mayNotImport?.includes(to) ?? false;
  };
  const violations: string[] = [];
  for (const reference of moduleReferences(lex(source))) {
    const to = targetLayer(file, reference.specifier, src);
    if (to === undefined) continue;
    const { line } = position(source, reference.offset);
    const name = relative(dirname(src), file).split(sep).join('/');
    if (to === 'outside-src') {
      violations.push(`${name}:${line} imports '${reference.specifier}', outside src/`);
    } else if (forbidden(to, reference.specifier)) {
      violations.push(`${name}:${line} src/${from} imports '${reference.specifier}' (src/${to === 'root' ? 'index' : to})`);
    }
  }
  return violations;
}

describe('layers point one way (architecture rule 6)', () => {
  it('src/core exists and has files', () => {
    expect(existsSync(join(srcRoot, 'core'))).toBe(true);
    expect(listTypeScriptFiles(join(srcRoot, 'core')).length).toBeGreaterThan(0);
  });

  const present = [...rules.map((r) => r.layer), 'root' as const].filter((layer) => layer === 'root' || existsSync(join(srcRoot, layer)));

  it.each(present)('src/%s imports only what its layer allows', (layer) => {
    const files = layer === 'root' ? listTypeScriptFiles(srcRoot).filter((f) => layerOf(f, srcRoot) === 'root') : listTypeScriptFiles(join(srcRoot, layer));
    const violations = files.flatMap((file) => layerViolations(file, readFileSync(file, 'utf8'), srcRoot));
    expect(violations, `architecture rule 6 broken:\n${violations.join('\n')}`).toEqual([]);
  });
});

describe('the layer check can fail', () => {
  const src = resolve('/virtual/src');
  const at = (path: string): string => join(src, ...path.split('/'));
  const cases: ReadonlyArray<readonly [string, string, boolean]> = [
    ['core/replica.ts', "import { Node } from '../runtime/node.js';", true],
    ['core/quorum/joint.ts', "import { Simulator } from '../../testing/simulator.js';", true],
    ['core/replica.ts', "import { x } from '../index.js';", true],
    ['core/replica.ts', "import { x } from '../../test/helpers.js';", true],
    ['core/replica.ts', "import { Simulator } from 'synod/testing';", true],
    ['runtime/node.ts', "import type { FileStorage } from '../storage/file/wal.js';", true],
    ['runtime/node.ts', "import { Simulator } from '../testing/simulator.js';", true],
    ['runtime/node.ts', "import { KvStore } from '../kv/store.js';", true],
    ['runtime/node.ts', "import { tcp } from '../transport/tcp/tcp.js';", true],
    ['storage/file/wal.ts', "import { frame } from '../../transport/tcp/framing.js';", true],
    ['transport/memory.ts', "import { MemoryStorage } from '../storage/memory.js';", true],
    ['testing/simulator.ts', "import { KvStore } from '../kv/store.js';", true],
    ['testing/simulator.ts', "import { FileStorage } from '../storage/file.js';", true],
    ['testing/groups-simulation.ts', "import { TcpTransport } from '../transport/tcp/index.js';", true],
    ['testing/groups-simulation.ts', "import { writeMessage } from '../transport/codec/message-codec.js';", true],
    ['index.ts', "export * from './testing/index.js';", true],
    ['index.ts', "export * from './prometheus/index.js';", true],
    ['kv/server/kv-server.ts', "import { registerKvServerMetrics } from '../../prometheus/index.js';", true],
    ['prometheus/node-metrics.ts', "import { FileStorage } from '../storage/file/index.js';", true],
    ['runtime/node.ts', "import { GroupHost } from '../groups/group-host.js';", true],
    ['core/replica.ts', "import { GroupHost } from '../groups/index.js';", true],
    ['transport/tcp/peer-link.ts', "import { GroupHost } from '../../groups/index.js';", true],
    ['storage/file/wal.ts', "import { GroupHost } from '../../groups/index.js';", true],
    ['groups/group-host.ts', "import { TcpTransport } from '../transport/tcp/index.js';", true],
    ['groups/group-host.ts', "import { MemoryStorage } from '../storage/memory-storage.js';", true],
    ['groups/group-host.ts', "import { Simulator } from '../testing/simulator.js';", true],
    // The byte layer stands alone; kv and zk reach the adapters only where and as allowed.
    ['encoding/writer.ts', "import type { NodeMessage } from '../runtime/index.js';", true],
    ['encoding/writer.ts', "import { noop } from '../core/index.js';", true],
    ['encoding/reader.ts', "import { FrameReader } from '../transport/codec/index.js';", true],
    ['kv/kv-codec.ts', "import { Reader } from '../transport/codec/wire.js';", true],
    ['kv/protocol/client-codec.ts', "import { FrameReader } from '../../transport/codec/frame-reader.js';", true],
    ['kv/kv-node.ts', "import { TcpTransport } from '../transport/tcp/index.js';", true],
    ['kv/kv-node.ts', "import { FileStorage } from '../storage/file/index.js';", true],
    ['kv/server/kv-server.ts', "import { Wal } from '../../storage/file/wal.js';", true],
    ['kv/server/kv-server.ts', "import { PeerLink } from '../../transport/tcp/peer-link.js';", true],
    ['kv/client/kv-client.ts', "import { FileStorage } from '../../storage/file/index.js';", true],
    ['kv/kv-node.ts', "import { createNode } from '../index.js';", true],
    // The sharded KV reaches the group host through its entry; the rest of the KV not at all.
    ['kv/shard/sharded-kv.ts', "import { GroupHost } from '../../groups/index.js';", false],
    ['kv/shard/sharded-kv.ts', "import { BeatClock } from '../../groups/beat-clock.js';", true],
    ['kv/kv-node.ts', "import { GroupHost } from '../groups/index.js';", true],
    ['kv/server/kv-server.ts', "import { GroupHost } from '../../groups/index.js';", true],
    ['zk/protocol/zk-request.ts', "import { CodecError } from '../../transport/codec/codec-error.js';", true],
    ['zk/zk-tree.ts', "import type { TcpAddress } from '../transport/tcp/index.js';", true],
    ['storage/file/record.ts', "import { KvStore } from '../../kv/mvcc-store.js';", true],
    ['transport/tcp/connection.ts', "import { ZkServer } from '../../zk/server/zk-server.js';", true],
    // The shared connection sits under transport and kv: it reaches up to neither, and kv reaches no transport internal.
    ['connection/handshake.ts', "import { peerWire } from '../transport/tcp/handshake.js';", true],
    ['connection/frame-loop.ts', "import type { ClientConnection } from '../kv/server/client-connection.js';", true],
    ['connection/frame-loop.ts', "import type { Logger } from '../runtime/index.js';", true],
    ['kv/client/kv-client.ts', "import { secretBytes } from '../../transport/tcp/tcp-options.js';", true],
    ['kv/server/kv-server.ts', "import { secretBytes } from '../../transport/tcp/tcp-options.js';", true],
    ['kv/server/client-connection.ts', "import { FrameLoop } from '../../connection/frame-loop.js';", false],
    ['transport/tcp/connection.ts', "import { Handshake } from '../../connection/handshake.js';", false],
    ['connection/proof.ts', "import { Writer } from '../encoding/writer.js';", false],
    ['connection/secret.ts', "import { ConfigError } from '../core/errors.js';", false],
    ['encoding/codec-error.ts', "import { SynodError } from '../core/errors.js';", false],
    ['encoding/writer.ts', "import { carve } from './slab.js';", false],
    ['kv/kv-codec.ts', "import { Reader } from '../encoding/reader.js';", false],
    ['zk/protocol/zk-request.ts', "import { CodecError } from '../../encoding/codec-error.js';", false],
    ['kv/server/kv-server.ts', "import { FileStorage } from '../../storage/file/index.js';", false],
    ['kv/server/kv-server.ts', "import { TcpTransport } from '../../transport/tcp/index.js';", false],
    ['kv/client/kv-client.ts', "import type { TcpAddress } from '../../transport/tcp/index.js';", false],
    ['zk/server/zk-server.ts', "import type { TcpAddress } from '../../transport/tcp/index.js';", false],
    ['transport/codec/message-codec.ts', "import { Writer } from '../../encoding/writer.js';", false],
    ['storage/file/record.ts', "import { carve } from '../../encoding/slab.js';", false],
    ['runtime/envelope.ts', "import { setF64 } from '../encoding/little-endian.js';", false],
    ['core/replica.ts', "import { compareBallots } from './ballot.js';", false],
    ['core/quorum/joint.ts', "import type { NodeId } from '../node-id.js';", false],
    ['runtime/node.ts', "import { Replica } from '../core/replica.js';", false],
    ['testing/simulator.ts', "import { Replica } from '../core/replica.js';", false],
    ['testing/simulator.ts', "import { Node } from '../runtime/node.js';", false],
    ['testing/simulator.ts', "import fc from 'fast-check';", false],
    ['groups/group-host.ts', "import { createNode } from '../runtime/index.js';", false],
    ['testing/groups-simulation.ts', "import { GroupHost } from '../groups/index.js';", false],
    ['testing/groups-simulation.ts', "import { decodeMessage } from '../transport/codec/index.js';", false],
    ['storage/file/wal.ts', "import { assert } from '../../core/assert.js';", false],
    ['storage/file/wal.ts', "import { open } from 'node:fs/promises';", false],
    ['kv/server.ts', "import { Node } from '../runtime/node.js';", false],
    ['prometheus/node-metrics.ts', "import type { NodeMetrics } from '../runtime/metrics.js';", false],
    ['prometheus/node-metrics.ts', "import { Counter } from 'prom-client';", false],
    ['index.ts', "export * from './core/ballot.js';", false],
  ];

  it.each(cases)('%s: %s → violation %s', (path, source, expected) => {
    expect(layerViolations(at(path), source, src).length > 0).toBe(expected);
  });
});

/** Every import matching `wanted` in a module reachable from `entry` (through relative imports, type-only ones included), as `file imports specifier`. */
function importsReachable(entry: string, wanted: (specifier: string) => boolean): string[] {
  const seen = new Set<string>();
  const found: string[] = [];
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    for (const reference of moduleReferences(lex(source))) {
      if (reference.kind === 'triple-slash') continue;
      const specifier = reference.specifier;
      if (wanted(specifier)) found.push(`${relative(repoRoot, file)} imports ${specifier}`);
      if (classifySpecifier(specifier) !== 'relative') continue;
      visit(resolve(dirname(file), specifier).replace(/\.js$/, '.ts'));
    }
  };
  visit(entry);
  return found;
}

/**
 * architecture rule 6, second half: Node-only code (fs, net, tls, ...) lives in the file
 * storage, the TCP transport and the CLI, on their own subpaths. So the `synod` entry,
 * followed through every import, reaches no Node builtin: a browser bundle of it works.
 */
describe('the synod entry reaches no Node builtin', () => {
  /** Every module reachable from `entry`, and the Node builtins each imports. */
  function builtinsReachable(entry: string): string[] {
    return importsReachable(entry, (specifier) => specifier.startsWith('node:'));
  }

  it('src/index.ts imports no node: module, directly or through any import', () => {
    expect(builtinsReachable(join(srcRoot, 'index.ts'))).toEqual([]);
  });

  it('neither does synod/kv (the KV state machine and the embedded node); its server and client are Node-only subpaths', () => {
    expect(builtinsReachable(join(srcRoot, 'kv', 'index.ts'))).toEqual([]);
    expect(builtinsReachable(join(srcRoot, 'kv', 'server', 'index.ts')).some((f) => f.includes('node:net'))).toBe(true);
  });

  it('no file under src/encoding reaches one: every format, in Node or in a browser, shares the byte layer', () => {
    const found = listTypeScriptFiles(join(srcRoot, 'encoding')).flatMap((file) => builtinsReachable(file));
    expect(found).toEqual([]);
  });

  it('the check sees a builtin behind the Node-only subpaths', () => {
    expect(builtinsReachable(join(srcRoot, 'transport', 'tcp', 'index.ts')).some((f) => f.includes('node:net'))).toBe(true);
    expect(builtinsReachable(join(srcRoot, 'storage', 'file', 'index.ts')).some((f) => f.includes('node:fs'))).toBe(true);
  });
});

/**
 * prom-client is for the `synod/prometheus` subpath and `synod serve` alone: the core,
 * the `synod` entry, `synod/kv` and `synod/testing` never load it, so an embedder that
 * does not export metrics (or runs in a browser) never pulls it in.
 */
describe('prom-client stays on its own subpath', () => {
  const promClient = (specifier: string): boolean => specifier === 'prom-client' || specifier.startsWith('prom-client/');

  it.each(['index.ts', 'kv/index.ts', 'testing/index.ts', 'kv/client/index.ts', 'storage/file/index.ts', 'transport/tcp/index.ts'])(
    'src/%s reaches no prom-client import',
    (entry) => {
      expect(importsReachable(join(srcRoot, ...entry.split('/')), promClient)).toEqual([]);
    },
  );

  it('no file under src/core imports it', () => {
    const found = listTypeScriptFiles(join(srcRoot, 'core')).flatMap((file) => importsReachable(file, promClient));
    expect(found).toEqual([]);
  });

  it('synod/prometheus reaches no Node builtin of its own (only types of the Node-only parts)', () => {
    expect(importsReachable(join(srcRoot, 'prometheus', 'index.ts'), (s) => s.startsWith('node:'))).toEqual([]);
  });

  it('the check sees prom-client behind synod/prometheus and the synod command', () => {
    expect(importsReachable(join(srcRoot, 'prometheus', 'index.ts'), promClient).length).toBeGreaterThan(0);
    expect(importsReachable(join(srcRoot, 'cli', 'synod.ts'), promClient).length).toBeGreaterThan(0);
  });
});
