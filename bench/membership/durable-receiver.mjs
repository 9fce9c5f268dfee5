// The floor a checked, durable snapshot transfer is measured against: one process that
// takes bytes from a loopback TCP connection, checks them with CRC-32 as they come,
// writes them to a file and syncs it, and nothing else (no framing, no protocol). Run
// by bench/membership/run.ts, which sends it the bytes from another process as a
// leader would. Prints its port, then one JSON line when the file is durable: the time
// from the first byte to the sync's end, the bytes and their CRC.
import { open } from 'node:fs/promises';
import { createServer } from 'node:net';
import { crc32 } from 'node:zlib';

const [path, total] = [process.argv[2], Number(process.argv[3])];
const file = await open(path, 'w');
/** Bytes handed to the file and not yet written: above this the socket is paused, as a receiver's window would hold the sender back. */
const pendingBytesMax = 16 << 20;
const server = createServer((socket) => {
  let first = 0;
  let received = 0;
  let pending = 0;
  let crc = 0;
  let writes = Promise.resolve();
  socket.on('data', (bytes) => {
    if (first === 0) first = performance.now();
    crc = crc32(bytes, crc);
    const at = received;
    received += bytes.byteLength;
    pending += bytes.byteLength;
    if (pending > pendingBytesMax) socket.pause();
    writes = writes.then(async () => {
      await file.write(bytes, 0, bytes.byteLength, at);
      pending -= bytes.byteLength;
      if (pending <= pendingBytesMax) socket.resume();
    });
    if (received < total) return;
    void writes.then(async () => {
      await file.datasync();
      await file.close();
      console.log(JSON.stringify({ ms: performance.now() - first, bytes: received, crc }));
      socket.end();
      server.close();
    });
  });
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
