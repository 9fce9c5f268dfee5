/**
 * Proves the safety suite can fail: applies each deliberate protocol bug in turn,
 * runs the simulation property, and reports how many schedules it took to go red.
 * Restores every file afterwards. Run on a scratch branch: `npx tsx scripts/mutants.ts`.
 * `--check` only checks that every mutant's pattern is still found in its file.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

interface Mutant {
  readonly name: string;
  readonly file: string;
  readonly from: string;
  readonly to: string;
  /** The property suite to run, if not the default one. */
  readonly suite?: string;
  /** For a mutant outside the core: the test files that must go red, run instead of the scenarios and the property. */
  readonly tests?: readonly string[];
}

const kvTests = ['test/kv'];
const membershipSuite = 'test/core/safety/membership.prop.test.ts';
const linTests = ['test/testing/linearizability'];
const fileLogTests = [
  'test/storage/file/file-storage.conformance.test.ts',
  'test/storage/file/preallocation.test.ts',
  'test/storage/file/faulty-file-system.test.ts',
];
const sharedLogTests = [
  'test/storage/file/shared-file-log.test.ts',
  'test/storage/file/shared-file-log.conformance.test.ts',
  'test/groups/group-host.shared-log.test.ts',
];
const tcpTests = ['test/transport/tcp/tcp-transport.security.test.ts', 'test/transport/tcp/tcp-transport.conformance.test.ts'];
const shardTests = ['test/kv/key-bounds.prop.test.ts', 'test/kv/shard/sharded-kv.test.ts'];
const groupTests = ['test/groups/group-host.test.ts', 'test/testing/groups-simulation.prop.test.ts'];
/** The shared authenticated connection (src/connection): its own unit tests, and the KV server's hardening tests that run it. */
const connectionTests = ['test/connection/handshake.test.ts', 'test/connection/frame-loop.test.ts', 'test/kv/server/kv-server.security.test.ts'];
const exactlyOnceTests = [
  'test/runtime/applier.test.ts',
  'test/runtime/dedup-table.test.ts',
  'test/runtime/dedup-table.prop.test.ts',
  'test/runtime/node.dedup-bounds.test.ts',
  'test/kv/kv-exactly-once-bounds.test.ts',
];

const mutants: Mutant[] = [
  {
    name: 'acceptor accepts below its promise',
    file: 'src/core/acceptor.ts',
    from: 'const order = compareBallots(ballot, this.promisedBallot);\n    if (order < 0) return false;\n    if (order > 0) {\n      this.promisedBallot = ballot;\n      out.persistPromised(ballot);\n    }\n    for',
    to: 'const order = compareBallots(ballot, this.promisedBallot);\n    if (order > 0) {\n      this.promisedBallot = ballot;\n      out.persistPromised(ballot);\n    }\n    for',
  },
  {
    name: 'new leader ignores accepted values reported in promises',
    file: 'src/core/proposer.ts',
    from: '  adoptedValues(): Value[] {\n',
    to: '  adoptedValues(): Value[] {\n    if (this.firstSlot > 0) return [];\n',
  },
  {
    name: 'slot counted chosen from accepts of different ballots (follower)',
    file: 'src/core/learner.ts',
    from: 'if (accepted === undefined || !ballotEquals(accepted.ballot, ballot)) {',
    to: 'if (accepted === undefined || (ballot.round < 0 && !ballotEquals(accepted.ballot, ballot))) {',
  },
  {
    name: 'slot counted chosen from accepts of different ballots (leader)',
    file: 'src/core/replica.ts',
    from: 'if (l === undefined || !ballotEquals(m.ballot, l.ballot)) return;\n    // Runs for every accepted message: messages are built only on failure.\n    if (m.count < 1) assert(false, `accepted of ${m.count} slots from ${m.from}`);\n    if (!this.quorum.isVoter(m.from)) assert(false, `accepted from ${m.from}, who does not vote`);\n    l.heard(m.from, this.now);\n    l.acknowledge(m.from, m.firstSlot, m.firstSlot + m.count - 1);',
    to: 'if (l === undefined) return;\n    // Runs for every accepted message: messages are built only on failure.\n    if (m.count < 1) assert(false, `accepted of ${m.count} slots from ${m.from}`);\n    if (!this.quorum.isVoter(m.from)) assert(false, `accepted from ${m.from}, who does not vote`);\n    l.heard(m.from, this.now);\n    l.acknowledge(m.from, m.firstSlot, Math.min(m.firstSlot + m.count - 1, l.nextSlot - 1));',
  },
  {
    name: 'promise sent before it was persisted',
    file: 'src/core/acceptor.ts',
    from: 'if (order > 0) {\n      this.promisedBallot = ballot;\n      out.persistPromised(ballot);\n    }\n    assert(firstSlot > this.entries.forgotten',
    to: 'if (order > 0) {\n      this.promisedBallot = ballot;\n    }\n    assert(firstSlot > this.entries.forgotten',
  },
  {
    name: 'driver sends messages before the write is durable',
    file: 'src/testing/simulator.ts',
    from: 'if (mayPrecedePersist(m)) this.send(node, m);',
    to: 'if (m.type.length > 0) this.send(node, m);',
  },
  {
    name: 'an accepted message may leave before its persist',
    file: 'src/core/output.ts',
    from: "new Set<MessageType>(['accept', 'heartbeat', 'commit', 'chosen', 'catchUp'])",
    to: "new Set<MessageType>(['accept', 'accepted', 'heartbeat', 'commit', 'chosen', 'catchUp'])",
  },
  {
    name: 'accepted entries are written without a sync',
    file: 'src/core/durable-state.ts',
    from: 'return batch.promised !== undefined || batch.accepted.length > 0 || batch.chosen.length > 0;',
    to: 'return batch.promised !== undefined || batch.chosen.length > 0;',
  },
  {
    name: 'the leader counts its own acceptance before it is durable',
    file: 'src/core/proposer.ts',
    from: '    this.selfAcks.push([persistSeq, lastSlot]);\n',
    to: '    this.selfAcks.push([persistSeq, lastSlot]);\n    this.persisted(persistSeq);\n',
  },
  {
    name: 'restarted node forgets its promised ballot',
    file: 'src/core/acceptor.ts',
    from: 'this.promisedBallot = state.promised;',
    to: 'this.promisedBallot = { round: 0, node: "" };',
  },
  {
    name: 'leader serves a read without a quorum round',
    file: 'src/core/proposer.ts',
    from: "if (vote !== 'won') break;",
    to: "if (vote !== 'won' && seq < 0) break;",
  },
  {
    name: 'read index ignores slots adopted in phase 1',
    file: 'src/core/replica.ts',
    from: 'l.addRead(id, Math.max(this.learner.commitIndex, l.adoptedEnd));',
    to: 'l.addRead(id, this.learner.commitIndex);',
  },
  {
    name: 'acceptor promises below its compaction point',
    file: 'src/core/replica.ts',
    from: 'if (m.firstSlot <= this.learner.compactedThrough) {',
    to: 'if (m.firstSlot < 0) {',
    suite: 'test/core/safety/snapshots.prop.test.ts',
  },
  {
    name: 'a voter with no promise on record votes at once (no amnesia guard)',
    file: 'src/core/replica.ts',
    from: 'if (this.isVoter && this.otherVoters.length > 0 && ballotEquals(this.acceptor.promised, ballotZero)) {',
    to: 'if (this.isVoter && this.otherVoters.length < 0) {',
    suite: 'test/core/safety/amnesia.prop.test.ts',
  },
  {
    name: 'a rejoining voter adopts no accepted entries',
    file: 'src/core/replica.ts',
    from: 'plan.accepted.filter((e) => e.slot > commitIndex && votesIn(e.slot)).map(',
    to: 'plan.accepted.filter((e) => e.slot < 0 && votesIn(e.slot)).map(',
    suite: 'test/core/safety/amnesia.prop.test.ts',
  },
  {
    name: 'membership: a configuration governs from the slot after its own (no window)',
    file: 'src/core/configuration/epochs.ts',
    from: 'const from = slot + latest.config.windowSlots;',
    to: 'const from = slot + 1;',
    suite: membershipSuite,
  },
  {
    name: 'membership: a leader proposes in a configuration no phase-1 quorum of it promised',
    file: 'src/core/replica.ts',
    from: "if (e.quorum.phase1((v) => (l.promisers.has(v) ? true : undefined)) !== 'won') {",
    to: "if (e.from < 0 && e.quorum.phase1((v) => (l.promisers.has(v) ? true : undefined)) !== 'won') {",
    suite: membershipSuite,
  },
  {
    name: 'membership: a slot goes to every voter of the window, removed or not yet added ones too',
    file: 'src/core/replica.ts',
    from: 'if (!e.quorum.isVoter(v)) {\n          // Not its slots',
    to: 'if (v.length < 0) {\n          // Not its slots',
    suite: membershipSuite,
  },
  {
    name: 'membership: a change whose quorums need not meet skips the joint step',
    file: 'src/core/configuration/membership-change.ts',
    from: 'if (!quorumsMeet(current, next)) next =',
    to: 'if (current.id < 0 && !quorumsMeet(current, next)) next =',
    suite: membershipSuite,
  },
  {
    name: 'membership: a new configuration decides before its voters hold the earlier slots (no handover)',
    file: 'src/core/replica.ts',
    from: 'if (e.source > 0 && l.nextSlot <= e.from) {',
    to: 'if (e.source < 0 && l.nextSlot <= e.from) {',
    suite: membershipSuite,
  },
  {
    name: 'membership: reads confirmed before the adopted slots are committed',
    file: 'src/core/proposer.ts',
    from: 'if (this.firstReadRound === Infinity && commitIndex >= this.adoptedThrough) this.firstReadRound = seq;',
    to: 'if (this.firstReadRound === Infinity) this.firstReadRound = seq;',
    suite: membershipSuite,
  },
  {
    name: 'tcp: the acceptor takes any proof',
    file: 'src/connection/handshake.ts',
    from: 'const bad = this.verify(c.wire.signers.first, proof);',
    to: 'const bad = undefined as HandshakeError | undefined;',
    tests: tcpTests,
  },
  {
    name: 'tcp: the acceptor reuses one nonce',
    file: 'src/transport/tcp/connection.ts',
    from: 'nonce: newNonce(),\n      vet: (claim) => this.vet(claim.id),',
    to: 'nonce: new Uint8Array(32),\n      vet: (claim) => this.vet(claim.id),',
    tests: tcpTests,
  },
  {
    name: 'tcp: the acceptor ignores the cluster id',
    file: 'src/connection/handshake.ts',
    from: 'if (cluster !== undefined && cluster !== c.cluster)',
    to: "if (cluster === '\\u0000')",
    tests: tcpTests,
  },
  {
    name: 'tcp: the acceptor takes unknown ids and ignores the dial rule',
    file: 'src/transport/tcp/connection.ts',
    from: 'const refusal = this.host.refusal(peer);',
    to: 'const refusal = undefined as string | undefined;',
    tests: tcpTests,
  },
  {
    name: 'tcp: the acceptor does not check that the certificate names the peer',
    file: 'src/transport/tcp/connection.ts',
    from: '    if (!certificateNamesNode(socket.getPeerCertificate(), id)) return',
    to: "    if (this.role === 'dialer' && !certificateNamesNode(socket.getPeerCertificate(), id)) return",
    tests: tcpTests,
  },
  {
    name: 'tcp: messages not from the authenticated peer are delivered',
    file: 'src/transport/tcp/connection.ts',
    from: 'if (message.from !== this.peer || message.to !== this.host.options.id) {',
    to: 'if (message.type === undefined) {',
    tests: tcpTests,
  },
  {
    name: 'tcp: no handshake timeout',
    file: 'src/transport/tcp/connection.ts',
    from: 'handshakeTimeoutMs: o.handshakeTimeoutMs,',
    to: 'handshakeTimeoutMs: o.handshakeTimeoutMs * 1000,',
    tests: tcpTests,
  },
  {
    name: 'tcp: no bound on handshakes in progress',
    file: 'src/transport/tcp/tcp-transport.ts',
    from: "if (this.state !== 'started' || trying >= max) {",
    to: "if (this.state !== 'started') {",
    tests: tcpTests,
  },
  {
    name: 'tcp: the queue toward a peer is not bounded',
    file: 'src/transport/tcp/peer-link.ts',
    from: 'if (this.batchMessages >= o.queueMessagesMax || this.heldBytes >= o.queueBytesMax) this.dropQueue();',
    to: '',
    tests: tcpTests,
  },
  {
    name: 'tcp: bad frames never close the connection',
    file: 'src/transport/tcp/connection.ts',
    from: 'if (this.badFrames >= this.host.options.badFramesMax) {',
    to: 'if (this.badFrames < 0) {',
    tests: tcpTests,
  },
  {
    name: "connection: a proof's label does not name its signer (a peer's proof passes for a client's, an acceptor's for a dialer's)",
    file: 'src/connection/proof.ts',
    from: 'return `${protocolOf[signer]} v${version} ${signer}`;',
    to: 'return `synod v${version}`;',
    tests: connectionTests,
  },
  {
    name: 'connection: the partial-frame budget is never charged',
    file: 'src/connection/frame-loop.ts',
    from: 'if (!budget.recharge(this.chargedBytes, held)) {',
    to: 'if (!budget.recharge(this.chargedBytes, 0)) {',
    tests: connectionTests,
  },
  {
    name: 'connection: a partial frame is never timed out',
    file: 'src/connection/frame-loop.ts',
    from: 'if (this.limits.frameCompleteMsMax !== undefined) this.timePartialFrame(this.limits.frameCompleteMsMax);',
    to: 'if (this.limits.frameCompleteMsMax === -1) this.timePartialFrame(this.limits.frameCompleteMsMax);',
    tests: connectionTests,
  },
  {
    name: 'lin: a return sorts before a call at the same instant (equal times ordered)',
    file: 'src/testing/linearizability/search.ts',
    from: 'times[calls[c]!]! <= times[returns[r]!]!',
    to: 'times[calls[c]!]! < times[returns[r]!]!',
    tests: linTests,
  },
  {
    name: 'lin: the memo ignores the model state',
    file: 'src/testing/linearizability/search.ts',
    from: 'this.memo.insert(nextHash, nextId, linearized)',
    to: 'this.memo.insert(nextHash, 0, linearized)',
    tests: linTests,
  },
  {
    name: 'lin: an overwritten info operation is skipped without comparing states',
    file: 'src/testing/linearizability/search.ts',
    from: '          if (without === nextId) {',
    to: '          if (without !== noMemory) {',
    tests: linTests,
  },
  {
    name: 'lin: an operation is skipped after an ok operation as if it were info',
    file: 'src/testing/linearizability/search.ts',
    from: ' && isOk[stackCall[depth - 1]! >>> 1] === 0) {',
    to: ') {',
    tests: linTests,
  },
  {
    name: 'lin: an info operation never takes effect',
    file: 'src/testing/linearizability/search.ts',
    from: '        if (nextId !== misfit) {\n          const word',
    to: '        if (nextId !== misfit && isOk[index] === 1) {\n          const word',
    tests: linTests,
  },
  {
    name: 'lin: a write counted read-only (skipped when backtracking)',
    file: 'src/testing/linearizability/versioned-kv-model.ts',
    from: "output.type !== 'written' && output.type !== 'deleted'",
    to: "output.type !== 'deleted'",
    tests: linTests,
  },
  {
    name: 'lin: a spent budget answers linearizable',
    file: 'src/testing/linearizability/partition-turns.ts',
    from: "    partition.unknown = budget.spentOn ?? 'step budget';",
    to: '',
    tests: linTests,
  },
  {
    name: 'lin: shrinking stops after one pass (not 1-minimal)',
    file: 'src/testing/linearizability/shrink.ts',
    from: 'else if (!dropped) break;',
    to: 'else break;',
    tests: linTests,
  },
  {
    name: 'kv: a put does not count versions',
    file: 'src/kv/mvcc-store.ts',
    from: 'version: (live?.version ?? 0) + 1,',
    to: 'version: 1,',
    tests: kvTests,
  },
  {
    name: 'kv: compaction drops the record current at the compacted revision',
    file: 'src/kv/mvcc-store.ts',
    from: 'if (history[keep]!.value === null) keep++;',
    to: 'keep++;',
    tests: kvTests,
  },
  {
    name: 'kv: a compare-and-set ignores the expected version',
    file: 'src/kv/kv-state-machine.ts',
    from: 'if (current() !== c.expectedVersion) return',
    to: 'if (current() < 0) return',
    tests: kvTests,
  },
  {
    name: 'kv: a session expires only after its expiry, not at it',
    file: 'src/kv/session-table.ts',
    from: 'if (session.expiresAt <= now) out.push',
    to: 'if (session.expiresAt < now) out.push',
    tests: kvTests,
  },
  {
    name: 'kv: a snapshot forgets which session owns a key',
    file: 'src/kv/kv-snapshot.ts',
    from: '      owner.keys.add(key);',
    to: '      void owner;',
    tests: kvTests,
  },
  {
    name: 'kv: changes of one revision not in key order',
    file: 'src/kv/change-log.ts',
    from: 'if (end - from > 1) {',
    to: 'if (end - from > 99) {',
    tests: kvTests,
  },
  {
    name: "kv: a snapshot's frozen key index changes under it when a key is inserted",
    file: 'src/kv/sorted-keys.ts',
    from: '    if (this.shared.has(block)) {',
    to: '    if (false && this.shared.has(block)) {',
    tests: ['test/kv/sorted-keys.test.ts', 'test/kv/kv-snapshot.test.ts'],
  },
  {
    name: 'core: a leader told of slots chosen that it has not assigned goes on assigning them',
    file: 'src/core/replica.ts',
    from: '    if (l !== undefined && m.values.length > 0 && m.firstSlot + m.values.length - 1 >= l.nextSlot) {',
    to: '    if (false && l !== undefined && m.values.length > 0 && m.firstSlot + m.values.length - 1 >= l.nextSlot) {',
    tests: ['test/core/replica.late-chosen.test.ts'],
  },
  {
    name: "runtime: a snapshot's capture of the exactly-once table changes under it as requests apply",
    file: 'src/runtime/dedup-table.ts',
    from: '    if (record.epoch === this.epoch) return record;',
    to: '    if (record.epoch === this.epoch || true) return record;',
    tests: ['test/runtime/dedup-table.prop.test.ts'],
  },
  {
    name: "kv: a restore's change log ignores keys within a revision",
    file: 'src/kv/change-log.ts',
    from: 'return d < 0 || (d === 0 && keys[a]! < keys[b]!);',
    to: 'return d < 0;',
    tests: ['test/kv/change-log.test.ts', 'test/kv/mvcc-store.test.ts'],
  },
  {
    name: 'file log: an append on the event loop skips its fdatasync',
    file: 'src/storage/file/wal.ts',
    from: '    handle.datasyncSync();\n',
    to: '\n',
    tests: fileLogTests,
  },
  {
    name: 'file log: an append may land where zeros are still being written',
    file: 'src/storage/file/wal.ts',
    from: 'if (end > tail.length && this.extending !== undefined) {',
    to: 'if (false) {',
    tests: fileLogTests,
  },
  {
    name: 'file log: a record torn inside preallocated zeros is refused as damage',
    file: 'src/storage/file/wal.ts',
    from: "if (read.kind === 'truncated' || read.kind === 'bad-crc') {",
    to: "if (read.kind === 'truncated' || (read.kind === 'bad-crc' && read.end === bytes.byteLength)) {",
    tests: fileLogTests,
  },
  {
    name: 'file log: a persist resolves while a sync of the zeros is under way',
    file: 'src/storage/file/wal.ts',
    from: '        if (this.extending !== undefined) await this.extending;\n        this.checkFailure();\n      } else',
    to: '      } else',
    tests: fileLogTests,
  },
  {
    name: 'file log: a failed sync of the zeros is ignored',
    file: 'src/storage/file/wal.ts',
    from: '        this.failure ??= naming(error, tail.file);',
    to: '        void error;',
    tests: fileLogTests,
  },
  {
    name: 'exactly-once: a kept result is never dropped to stay within the byte bounds',
    file: 'src/runtime/dedup-table.ts',
    from: '    const forClient = record.bytes > resultBytesPerClientMax ? this.shrink(record, seq, resultBytesPerClientMax) : 0;\n    const forTotal = this.bytes > resultBytesMax ? this.shrinkTotal(clientId, seq) : 0;\n    if (record.bytes > resultBytesPerClientMax) assert(',
    to: '    const forClient = 0;\n    const forTotal = 0;\n    if (forClient < 0) assert(',
    tests: exactlyOnceTests,
  },
  {
    name: 'exactly-once: a request whose result was dropped is applied again',
    file: 'src/runtime/dedup-table.ts',
    from: "return kept.outcome === undefined ? dropped : { kind: 'duplicate', outcome: kept.outcome };",
    to: "return kept.outcome === undefined ? newRequest : { kind: 'duplicate', outcome: kept.outcome };",
    tests: exactlyOnceTests,
  },
  {
    name: 'exactly-once: a read-only command keeps an entry',
    file: 'src/runtime/applier.ts',
    from: '    if (readOnly === undefined) return false;',
    to: '    if (readOnly !== null) return false;',
    tests: exactlyOnceTests,
  },
  {
    name: 'exactly-once: a leader skips a forwarded read-only retry its table refuses',
    file: 'src/runtime/proposals.ts',
    from: '(applier.known(e.clientId, e.seq) !== undefined && !applier.isReadOnlyPayload(e.payload))',
    to: '(applier.known(e.clientId, e.seq) !== undefined)',
    tests: exactlyOnceTests,
  },
  {
    name: 'kv client: a connection silent for a whole request timeout is kept',
    file: 'src/kv/client/kv-client.ts',
    from: 'if (this.open && socket !== undefined && written?.socket === socket && written.chunksReceived === this.chunksReceived) {',
    to: 'if (this.open && socket !== undefined && written?.socket === socket && written.chunksReceived < 0) {',
    tests: ['test/regressions/kv-client-silent-connection.test.ts'],
  },
  {
    name: "group host hands its first group's messages to its last group",
    file: 'src/groups/group-host.ts',
    from: 'const entry = this.running.get(group);',
    to: 'const ids = this.groups();\n    const entry = this.running.get(group === ids[0] ? ids[ids.length - 1]! : group);',
    tests: groupTests,
  },
  {
    name: 'a range of a sharded KV applies a command naming a key outside it',
    file: 'src/kv/kv-state-machine.ts',
    from: 'this.refuseWhileSeeding(command) ?? this.refuseByBounds(command) ?? this.execute(command, meta.slot);',
    to: 'this.refuseWhileSeeding(command) ?? this.execute(command, meta.slot);',
    tests: shardTests,
  },
  {
    name: 'a range of a sharded KV makes a sequential key outside it',
    file: 'src/kv/kv-state-machine.ts',
    from: '      if (this.bounds !== undefined && !boundsHold(this.bounds, key)) return this.wrongRange(this.bounds, key);\n',
    to: '',
    tests: shardTests,
  },
  {
    name: 'a sharded KV reads a range from its replica without a read point',
    file: 'src/kv/shard/sharded-kv.ts',
    from: "    return this.routed('get', (map) => this.node(map.rangeOf(key).group, 'get').get(key, options));",
    to: "    return this.routed('get', (map) => this.node(map.rangeOf(key).group, 'get').get(key, { ...options, consistency: 'serializable' }));",
    tests: ['test/kv/shard/sharded-kv.linearizability.test.ts'],
  },
  {
    name: "a range split's copy leaves out the first key of every chunk",
    file: 'src/kv/shard/range-split.ts',
    from: '  if (n === chunk.records.length) return { records: chunk.records, last: chunk.last, sequences: chunk.sequences };',
    to: '  if (n === chunk.records.length) return { records: chunk.records.slice(1), last: chunk.last, sequences: chunk.sequences };',
    tests: ['test/kv/shard/range-split.test.ts'],
  },
  {
    name: 'a range frozen for a split still takes writes to the keys it gave up',
    file: 'src/kv/kv-state-machine.ts',
    from: '    this.bounds = { start: bounds.start, end: at };\n',
    to: '',
    tests: ['test/kv/shard/range-split.test.ts', 'test/kv/kv-state-machine.range.test.ts'],
  },
  {
    name: "a member whose storage of a split's group was wiped votes in it at once",
    file: 'src/kv/shard/group-births.ts',
    from: '  return succeeded;\n',
    to: '  return true;\n',
    tests: ['test/kv/shard/range-split.test.ts', 'test/kv/shard/group-births.test.ts'],
  },
  {
    name: 'a read reaching its read point after a split took its key away answers it absent',
    file: 'src/kv/kv-node.ts',
    from: '    // away (and deleted them here), and their absence here says nothing of them.\n    inBounds();\n',
    to: '    // away (and deleted them here), and their absence here says nothing of them.\n',
    tests: ['test/kv/shard/range-split.test.ts'],
  },
  {
    name: 'a watch read after a split released its keys misses their changes without a word',
    file: 'src/kv/kv-watch.ts',
    from: '      if (released.revision >= this.nextRevision && keysWithin(this.range, released) !== undefined) return released;\n',
    to: '',
    tests: ['test/kv/shard/range-split.test.ts'],
  },
  {
    name: 'a watch resumed from before a split starts the range it made at its first own change',
    file: 'src/kv/shard/sharded-kv.ts',
    from: '  if (resumedAt !== undefined && resumedAt > seedRevision) return;\n',
    to: '  return;\n',
    tests: ['test/kv/shard/range-split.test.ts'],
  },
  {
    name: "an abandoned split's group keeps its storage on every member",
    file: 'src/kv/shard/sharded-kv.ts',
    from: '      .then(() => dropStorage?.(group))\n',
    to: '',
    tests: ['test/kv/shard/range-split.test.ts'],
  },
  {
    name: "a sharded server hands a client the old range's refusal of a write a split moved",
    file: 'src/kv/shard/sharded-kv.ts',
    from: "      if (result.type === 'wrong-range') throw new WrongRangeError('command', result.key, result.start, result.end);\n",
    to: '',
    tests: ['test/kv/server/kv-server.sharded.test.ts'],
  },
  {
    name: 'a watch reconnected inside a revision cut across frames repeats its delivered part',
    file: 'src/kv/client/revision-cursor.ts',
    from: '      this.partial = atNext;\n',
    to: '      this.partial = 0;\n',
    tests: ['test/kv/client/remote-watch.test.ts'],
  },
  {
    name: 'a watch across ranges resumed on another server starts from now, missing what was written meanwhile',
    file: 'src/kv/server/sharded-server-watch.ts',
    from: '      watch = sharded.watch(this.range, { fromRevisions: Object.fromEntries(from.map((f) => [f.group, f.revision])) });\n',
    to: '      watch = sharded.watch(this.range, {});\n',
    tests: ['test/kv/server/kv-server.sharded.test.ts'],
  },
  {
    name: "a client asked to route keys to their ranges' leaders sends them the usual way",
    file: 'src/kv/client/leader-routes.ts',
    from: '    if (leader === undefined) return undefined;\n',
    to: '    return undefined;\n',
    tests: ['test/kv/server/kv-server.sharded.test.ts', 'test/kv/client/leader-routes.test.ts'],
  },
  {
    name: "a sharded server reads a range's keys from its own replica, however stale, when a client asks for a linearizable read",
    file: 'src/kv/server/client-connection.ts',
    from: "        const result = await sharded.range(request.range, {\n          consistency: request.linearizable ? 'linearizable' : 'serializable',\n",
    to: "        const result = await sharded.range(request.range, {\n          consistency: 'serializable',\n",
    tests: ['test/kv/nemesis/sharded-nemesis.test.ts'],
  },
  {
    name: "a server opens a data directory of the other kind and reads the other's log",
    file: 'src/kv/server/kv-server.ts',
    from: '    await checkDataDirLayout(options.dataDir, options.shards !== undefined);\n',
    to: '',
    tests: ['test/kv/server/kv-server.sharded.test.ts'],
  },
  {
    name: "a sharded session's keys in other ranges outlive one range's expiry",
    file: 'src/kv/shard/sharded-session.ts',
    from: "    if (how === 'expired') for (const opening of this.ranges.values()) void opening.then((s) => s.close()).catch(() => undefined);\n",
    to: '',
    tests: ['test/kv/shard/sharded-kv.test.ts'],
  },
  {
    name: "group host rebuilds a heartbeat reply with its sender's ballot",
    file: 'src/groups/group-host.ts',
    from: "? { type: 'heartbeatReply', from, to, ballot: { round, node: to }, commitIndex, seq }",
    to: "? { type: 'heartbeatReply', from, to, ballot: { round, node: from }, commitIndex, seq }",
    tests: ['test/groups/group-host.heartbeats.test.ts'],
  },
  {
    name: "a host's groups tick on timers of their own, not on its beat",
    file: 'src/groups/beat-clock.ts',
    from: 'if (!(ms >= this.beatMs)) return { passed: this.base.setTimer(callback, ms) } satisfies PassedTimer;',
    to: 'if (ms >= 0) return { passed: this.base.setTimer(callback, ms) } satisfies PassedTimer;',
    tests: ['test/groups/group-host.heartbeats.test.ts'],
  },
  {
    name: "group host tags every group's messages as group 0",
    file: 'src/groups/group-host.ts',
    from: "this.options.transport.send({ type: 'group', from: message.from, to: message.to, group, message });",
    to: "this.options.transport.send({ type: 'group', from: message.from, to: message.to, group: group * 0, message });",
    tests: groupTests,
  },
  {
    name: 'quiescence: a quiesced follower ignores that its leader is unreachable',
    file: 'src/runtime/node.ts',
    from: 'if (this.replica?.quiesced === true && this.replica.status.leader === peer) this.wake();',
    to: 'if (this.replica?.quiesced === true && this.replica.status.leader === peer) void this.wake;',
    tests: ['test/groups/group-host.quiescence.test.ts'],
  },
  {
    name: 'quiescence: wake() leaves a quiesced replica asleep',
    file: 'src/core/replica.ts',
    from: '  wake(): void {\n    this.rouse(undefined);',
    to: '  wake(): void {\n    void this.rouse;',
    tests: ['test/core/replica.quiesce.test.ts', 'test/core/safety/quiescence-failover.prop.test.ts'],
  },
  {
    name: 'quiescence: a follower that lacks chosen slots quiesces',
    file: 'src/core/replica.ts',
    from: "(kind === 'follower' || kind === 'observer') && this.learner.commitIndex >= m.commitIndex;",
    to: "(kind === 'follower' || kind === 'observer');",
    tests: ['test/core/replica.quiesce.test.ts'],
  },
  {
    name: 'quiescence: the drive loop rests while a proposal waits on ticks',
    file: 'src/runtime/drive-loop.ts',
    from: 'return this.host.core().quiesced && this.heldCommitted === undefined && this.host.idle();',
    to: 'return this.host.core().quiesced && this.heldCommitted === undefined;',
    tests: ['test/runtime/drive-loop.test.ts'],
  },
  {
    name: "shared log: replay hands every group's records to group 0",
    file: 'src/storage/file/shared-file-log.ts',
    from: 'const record = splitGroupRecord(payload);',
    to: 'const record = { ...splitGroupRecord(payload), group: 0 };',
    tests: sharedLogTests,
  },
  {
    name: 'shared log: a group commit resolves its persists before the sync',
    file: 'src/storage/file/write-queue.ts',
    from: 'if (sync || this.unwrittenBytes > unwrittenBytesMax) await this.append([], sync);',
    to: 'if (sync || this.unwrittenBytes > unwrittenBytesMax) await this.append([], false);',
    tests: sharedLogTests,
  },
  {
    name: "shared log: a group commit holds one group's persists only",
    file: 'src/storage/file/write-queue.ts',
    from: "while (batch.length < groupPersistsMax && this.queue[0]?.kind === 'persist') {",
    to: "while (batch.length < groupPersistsMax && this.queue[0]?.kind === 'persist' && (batch.length === 0 || this.queue[0].persist.group === batch[0]!.persist.group)) {",
    tests: sharedLogTests,
  },
  {
    name: 'shared log: reclaiming deletes segments other groups still use',
    file: 'src/storage/file/shared-file-log.ts',
    from: '    for (const group of this.groups.values()) keepFrom = Math.min(keepFrom, group.since);\n    await this.wal.dropSegmentsBefore(keepFrom);\n    const first = this.wal.segmentFirstSequences[0]!;\n    for (const group of this.groups.values()) {\n      if (group.since < first)',
    to: '    await this.wal.dropSegmentsBefore(keepFrom);\n    const first = this.wal.segmentFirstSequences[0]!;\n    for (const group of this.groups.values()) {\n      if (false)',
    tests: sharedLogTests,
  },
  {
    name: 'shared log: compaction never rewrites the groups that use the oldest segment',
    file: 'src/storage/file/shared-file-log.ts',
    from: 'const pinning = [...this.groups.values()].filter((group) => group.since < second);',
    to: 'const pinning = [...this.groups.values()].filter((group) => group.since < second && false);',
    tests: sharedLogTests,
  },
  {
    name: 'shared log: compaction deletes segments before the groups it rewrote are durable',
    file: 'src/storage/file/shared-file-log.ts',
    from: 'await this.queue.append(pinning.map(baseRecord), true);',
    to: 'await this.queue.append(pinning.map(baseRecord), false);',
    tests: sharedLogTests,
  },
  {
    name: 'shared log: a base record of one group empties another',
    file: 'src/storage/file/shared-file-log.ts',
    from: '      } else if (type === RecordType.groupBase) {',
    to: '      } else if (type === RecordType.groupBase) {\n        for (const other of groups.values()) other.state.accepted.clear();',
    tests: sharedLogTests,
  },
];

// `--check`: only that every mutant still applies (a pattern that no longer matches
// would prove nothing); fast, run by the tests.
if (process.argv.includes('--check')) {
  const stale = mutants.filter((m) => !readFileSync(m.file, 'utf8').includes(m.from));
  for (const m of stale) console.log(`mutant "${m.name}": pattern not found in ${m.file}`);
  console.log(`${mutants.length - stale.length} of ${mutants.length} mutant patterns apply`);
  process.exit(stale.length === 0 ? 0 : 1);
}

const runs = Number(process.env['SYNOD_SCHEDULES'] ?? 1000);
const suite = process.env['SYNOD_SUITE'] ?? 'test/core/safety/mixed.prop.test.ts';
const scenarios = [
  'test/core/replica.scenario.test.ts',
  'test/core/replica.reads.scenario.test.ts',
  'test/core/replica.amnesia.scenario.test.ts',
  'test/core/replica.membership.scenario.test.ts',
];
const only = process.env['SYNOD_MUTANT'];
const rows: string[] = [];
for (const m of mutants) {
  if (only !== undefined && !m.name.includes(only)) continue;
  const original = readFileSync(m.file, 'utf8');
  if (!original.includes(m.from)) throw new Error(`mutant "${m.name}": pattern not found in ${m.file}`);
  writeFileSync(m.file, original.replace(m.from, m.to));
  if (m.tests !== undefined) {
    let row: string;
    try {
      execFileSync('npx', ['vitest', 'run', ...m.tests], { stdio: 'pipe', encoding: 'utf8' });
      row = `- ${m.name}: NOT CAUGHT by ${m.tests.join(', ')}`;
    } catch (e) {
      const out = String((e as { stdout?: string }).stdout ?? '');
      const failed = [...out.matchAll(/^\s+× (.*?)(?: \d+ms)?$/gm)].map((x) => x[1]);
      row = `- ${m.name}: caught, ${failed.length} red: ${failed.join(' | ').slice(0, 300)}`;
    } finally {
      writeFileSync(m.file, original);
    }
    console.log(row);
    rows.push(row);
    continue;
  }
  let verdict: string;
  let scenario: string;
  try {
    execFileSync('npx', ['vitest', 'run', ...scenarios], { stdio: 'pipe', encoding: 'utf8' });
    scenario = 'scenarios green';
  } catch (e) {
    const out = String((e as { stdout?: string }).stdout ?? '');
    scenario = `scenarios red (${/Tests\s+(\d+ failed)/.exec(out)?.[1] ?? 'failed'})`;
  }
  try {
    execFileSync('npx', ['vitest', 'run', m.suite ?? suite], {
      env: { ...process.env, SYNOD_SCHEDULES: String(runs), SYNOD_NO_SHRINK: '1' },
      stdio: 'pipe',
      encoding: 'utf8',
    });
    verdict = `NOT CAUGHT in ${runs} schedules`;
  } catch (e) {
    const out = String((e as { stdout?: string }).stdout ?? '') + String((e as { stderr?: string }).stderr ?? '');
    const after = /simulation failed after (\d+) schedule/.exec(out)?.[1] ?? '?';
    const shrunk = /shrunk (\d+) time/.exec(out)?.[1] ?? '0';
    const why = /Caused by: ([^\n]*)/.exec(out)?.[1] ?? out.split('\n').find((l) => /Error/.test(l)) ?? '';
    verdict = `caught after ${after} schedule(s) (shrunk ${shrunk}x): ${why.slice(0, 160)}`;
  } finally {
    writeFileSync(m.file, original);
  }
  const row = `- ${m.name}: ${scenario}; property ${verdict}`;
  console.log(row);
  rows.push(row);
}
console.log(`\n${rows.length} mutants, ${rows.filter((r) => r.includes('NOT CAUGHT')).length} not caught`);
