/**
 * The comparison's ZooKeeper client against a scripted server speaking the wire format
 * (ZooKeeper's jute records: big-endian, length-prefixed frames; a reply header of xid,
 * zxid and error code): the requests it sends and the replies it reads, byte for byte.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ZooKeeperClient, ZooKeeperError, zooErrors } from '../../../bench/compare/zookeeper-client.js';

/** A Stat record whose data version is `version` (68 bytes; the version at offset 32). */
function stat(version: number): Buffer {
  const b = Buffer.alloc(68);
  b.writeInt32BE(version, 32);
  return b;
}
const frame = (...parts: Buffer[]) => {
  const body = Buffer.concat(parts);
  const length = Buffer.alloc(4);
  length.writeInt32BE(body.length);
  return Buffer.concat([length, body]);
};
const int = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const jbuffer = (data: Buffer) => Buffer.concat([int(data.length), data]);
const reply = (xid: number, err: number, ...payload: Buffer[]) => frame(int(xid), Buffer.alloc(8), int(err), ...payload);

interface Request {
  readonly xid: number;
  readonly type: number;
  readonly body: Buffer;
}

/** A server that answers the handshake, then each request with `answer`; every request it saw is kept. */
async function scriptedServer(answer: (request: Request, socket: Socket) => void): Promise<{ server: Server; address: string; seen: Request[] }> {
  const seen: Request[] = [];
  const server = createServer((socket) => {
    let buffered = Buffer.alloc(0);
    let connected = false;
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
        const body = buffered.subarray(4, 4 + buffered.readInt32BE(0));
        buffered = buffered.subarray(4 + body.length);
        if (!connected) {
          connected = true;
          // ConnectResponse: protocolVersion, timeOut granted, sessionId, passwd.
          socket.write(frame(int(0), int(6000), Buffer.alloc(8, 1), jbuffer(Buffer.alloc(16))));
          continue;
        }
        const request = { xid: body.readInt32BE(0), type: body.readInt32BE(4), body: body.subarray(8) };
        seen.push(request);
        answer(request, socket);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return { server, address: `127.0.0.1:${(server.address() as { port: number }).port}`, seen };
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.close();
  }
});

const path = Buffer.from('/compare/k1');
const value = Buffer.from('hello');

describe('ZooKeeperClient', () => {
  it('sends setData as (path, data, version) and reads the new version from the Stat; a refused version is BADVERSION', async () => {
    const { address, seen } = await scriptedServer((r, socket) => {
      if (r.type === 5) socket.write(r.body.readInt32BE(r.body.length - 4) === 3 ? reply(r.xid, 0, stat(4)) : reply(r.xid, zooErrors.badVersion));
      if (r.type === -11) socket.write(reply(r.xid, 0));
    });
    const client = await ZooKeeperClient.connect(address);
    expect(await client.setData('/compare/k1', value, 3)).toBe(4);
    const refused = await client.setData('/compare/k1', value, 2).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ZooKeeperError);
    expect((refused as ZooKeeperError).code).toBe(zooErrors.badVersion);
    await client.close();
    expect(seen[0]!.type).toBe(5);
    expect(seen[0]!.body).toEqual(Buffer.concat([jbuffer(path), jbuffer(value), int(3)]));
    expect(seen.map((r) => r.xid)).toEqual([1, 2, 3]);
    expect(seen.at(-1)!.type).toBe(-11);
  });

  it('sends sync as (path) and getData as (path, no watch), and reads data then version', async () => {
    const { address, seen } = await scriptedServer((r, socket) => {
      if (r.type === 9) socket.write(reply(r.xid, 0, jbuffer(path)));
      if (r.type === 4) socket.write(reply(r.xid, 0, jbuffer(value), stat(7)));
      if (r.type === -11) socket.write(reply(r.xid, 0));
    });
    const client = await ZooKeeperClient.connect(address);
    await client.sync('/compare/k1');
    expect(await client.getData('/compare/k1')).toEqual({ data: Uint8Array.from(value), version: 7 });
    await client.close();
    expect(seen[0]).toMatchObject({ type: 9, body: jbuffer(path) });
    expect(seen[1]).toMatchObject({ type: 4, body: Buffer.concat([jbuffer(path), Buffer.from([0])]) });
  });

  it('sends an ephemeral sequential create as (path, data, open ACL, flags 3) and reads the path made; delete as (path, version)', async () => {
    const made = Buffer.from('/compare/e-0000000007');
    const { address, seen } = await scriptedServer((r, socket) => {
      if (r.type === 1) socket.write(reply(r.xid, 0, jbuffer(made)));
      if (r.type === 2) socket.write(reply(r.xid, 0));
      if (r.type === -11) socket.write(reply(r.xid, 0));
    });
    const client = await ZooKeeperClient.connect(address);
    expect(await client.createEphemeralSequential('/compare/e-', value)).toBe('/compare/e-0000000007');
    await client.delete('/compare/e-0000000007', -1);
    await client.close();
    expect(seen[0]!.body).toEqual(
      Buffer.concat([
        jbuffer(Buffer.from('/compare/e-')),
        jbuffer(value),
        int(1),
        int(31),
        jbuffer(Buffer.from('world')),
        jbuffer(Buffer.from('anyone')),
        int(3),
      ]),
    );
    expect(seen[1]).toMatchObject({ type: 2, body: Buffer.concat([jbuffer(made), int(-1)]) });
  });

  it('answers create with false when the node exists, and rejects every pending call when the connection is lost', async () => {
    const { address } = await scriptedServer((r, socket) => {
      if (r.type === 1) socket.write(reply(r.xid, zooErrors.nodeExists));
      if (r.type === 4) socket.destroy();
    });
    const client = await ZooKeeperClient.connect(address);
    expect(await client.create('/compare', Buffer.alloc(0))).toBe(false);
    await expect(client.getData('/compare')).rejects.toThrow(/closed/);
    await expect(client.sync('/compare')).rejects.toThrow(/closed/);
    await client.close();
  });

  it('fails on a frame longer than it accepts instead of buffering it', async () => {
    const { address } = await scriptedServer((r, socket) => {
      if (r.type === 9) socket.write(int(64 << 20));
    });
    const client = await ZooKeeperClient.connect(address);
    await expect(client.sync('/')).rejects.toThrow(/frame of 67108864 bytes/);
    await client.close();
  });

  it('closes even when the server never confirms the end of the session', async () => {
    const { address, seen } = await scriptedServer(() => {});
    const client = await ZooKeeperClient.connect(address);
    await client.close();
    expect(seen.map((r) => r.type)).toEqual([-11]);
    await expect(client.sync('/')).rejects.toThrow(/client closed/);
  });

  it('gives up on a server that takes the connection but never answers the handshake', async () => {
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    servers.push(silent);
    const address = `127.0.0.1:${(silent.address() as { port: number }).port}`;
    await expect(ZooKeeperClient.connect(address, { handshakeTimeoutMs: 200 })).rejects.toThrow(/did not answer the handshake within 200 ms/);
  });
});
