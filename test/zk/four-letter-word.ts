/**
 * A ZooKeeper four-letter word sent to a port on this machine (synod's or a real
 * ZooKeeper's), and its answer.
 */
import { connect } from 'node:net';

/** A four-letter word's answer ('' if the port does not answer within `timeoutMs`, or refuses). */
export function fourLetterWord(port: number, word: string, timeoutMs = 2_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(word));
    let text = '';
    // A port that accepts and never answers (another process took it) must not hang the caller.
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      resolve('');
    });
    socket.on('data', (b: Buffer) => (text += b.toString('utf8')));
    socket.on('end', () => resolve(text));
    socket.on('error', () => resolve(''));
  });
}
