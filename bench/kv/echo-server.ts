/**
 * The latency floor's other end, run by `run.ts` as `node --import tsx echo-server.ts
 * REQUEST_BYTES ANSWER_BYTES`: a bare `node:net` server on 127.0.0.1 (a free port,
 * said in `ready`) that answers every REQUEST_BYTES it receives with ANSWER_BYTES, at
 * once: a KV request and its answer with everything but the bytes taken away.
 * Request `mark`: this process's CPU time so far (user + system), in µs.
 */
import { createServer } from 'node:net';
import { answerParent, tellReady } from './parent.js';

const [requestBytes, answerBytes] = process.argv.slice(2).map(Number);
if (!(requestBytes! > 0 && answerBytes! > 0)) throw new Error('echo-server: expected REQUEST_BYTES ANSWER_BYTES');
const answer = Buffer.alloc(answerBytes!, 0x5a);

const server = createServer((socket) => {
  socket.setNoDelay(true);
  let received = 0;
  socket.on('data', (chunk: Buffer) => {
    received += chunk.byteLength;
    while (received >= requestBytes!) {
      received -= requestBytes!;
      socket.write(answer);
    }
  });
  socket.on('error', () => socket.destroy());
});
await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
const { port } = server.address() as { port: number };

answerParent(
  {
    mark: () => {
      const cpu = process.cpuUsage();
      return cpu.user + cpu.system;
    },
  },
  async () => {
    server.close();
  },
);
tellReady({ port });
