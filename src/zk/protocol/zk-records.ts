/** The jute records shared by many messages: Stat, Id, ACL, and vectors of strings. */
import { CodecError } from '../../encoding/codec-error.js';
import { zkLimits } from '../zk-limits.js';
import type { ZkAcl, ZkStat } from '../zk-types.js';
import type { JuteReader } from './jute-reader.js';
import type { JuteWriter } from './jute-writer.js';

export function writeStat(w: JuteWriter, s: ZkStat): void {
  w.long(s.czxid)
    .long(s.mzxid)
    .long(s.ctime)
    .long(s.mtime)
    .int(s.version)
    .int(s.cversion)
    .int(s.aversion)
    .long(s.ephemeralOwner)
    .int(s.dataLength)
    .int(s.numChildren)
    .long(s.pzxid);
}

export function readStat(r: JuteReader): ZkStat {
  return {
    czxid: r.long('stat czxid'),
    mzxid: r.long('stat mzxid'),
    ctime: r.long('stat ctime'),
    mtime: r.long('stat mtime'),
    version: r.int('stat version'),
    cversion: r.int('stat cversion'),
    aversion: r.int('stat aversion'),
    ephemeralOwner: r.long('stat ephemeralOwner'),
    dataLength: r.int('stat dataLength'),
    numChildren: r.int('stat numChildren'),
    pzxid: r.long('stat pzxid'),
  };
}

export function writeAcl(w: JuteWriter, acl: readonly ZkAcl[]): void {
  w.int(acl.length);
  for (const entry of acl) w.int(entry.perms).string(entry.id.scheme).string(entry.id.id);
}

export function readAcl(r: JuteReader): ZkAcl[] {
  const n = r.count('acl', 12);
  if (n > zkLimits.aclEntriesMax) throw new CodecError(`jute: an ACL of ${n} entries (at most ${zkLimits.aclEntriesMax})`);
  const acl: ZkAcl[] = [];
  for (let i = 0; i < n; i++)
    acl.push({ perms: r.int('acl perms'), id: { scheme: r.string('acl scheme', zkLimits.requestBytesMax), id: r.string('acl id', zkLimits.requestBytesMax) } });
  return acl;
}

export function writeStrings(w: JuteWriter, strings: readonly string[]): void {
  w.int(strings.length);
  for (const s of strings) w.string(s);
}

export function readStrings(r: JuteReader, what: string): string[] {
  const n = r.count(what, 4);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(r.string(what, zkLimits.requestBytesMax));
  return out;
}
