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
/** Bytes waiting for the file: above this the socket is paused, as a receiver's window would hold the sender back. */
const pendingBytesMax = 16 << 20;
const server = createServer((socket) => {
  let first = 0;
  let received = 0;
  let written = 0;
  let crc = 0;
  /** Chunks arrived and not yet handed to the file: written together, in one call, once the last write is done. */
  let waiting = [];
  let waitingBytes = 0;
  let writing = false;
  const writeWaiting = async () => {
    if (writing || waiting.length === 0) return;
    writing = true;
    while (waiting.length > 0) {
      const chunks = waiting;
      const bytes = waitingBytes;
      waiting = [];
      waitingBytes = 0;
      socket.resume();
      // One write of all that waits (copied together, as a receiver copies chunks into place).
      const joined = Buffer.concat(chunks, bytes);
      for (let at = 0; at < bytes; ) at += (await file.write(joined, at, bytes - at, written + at)).bytesWritten;
      written += bytes;
    }
    writing = false;
    if (written < total) return;
    await file.datasync();
    await file.close();
    console.log(JSON.stringify({ ms: performance.now() - first, bytes: received, crc }));
    socket.end();
    server.close();
  };
  socket.on('data', (bytes) => {
    if (first === 0) first = performance.now();
    crc = crc32(bytes, crc);
    received += bytes.byteLength;
    waiting.push(bytes);
    waitingBytes += bytes.byteLength;
    // A receiver's window: while this much waits for the file, the sender is held back.
    if (waitingBytes >= pendingBytesMax) socket.pause();
    void writeWaiting();
  });
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
