/**
 * One process fault of the nemesis tests, undone before it returns: a SIGKILL and a
 * restart, a SIGSTOP and a SIGCONT, or a partition (a minority of the members cut off
 * from the rest through the transport's fault hook) and its heal.
 */
import type { Prng } from '../../../src/testing/index.js';
import type { ServerProcesses } from './server-processes.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Picks a fault and a victim among `members` with `random`, and plays it, noting each
 * step. A killed victim is started again unless `restart(victim)` says no (it left
 * the cluster meanwhile).
 */
export async function processFault(
  processes: ServerProcesses,
  members: readonly string[],
  random: Prng,
  note: (line: string) => void,
  restart: (victim: string) => boolean = () => true,
): Promise<void> {
  const victim = members[random.int(members.length)]!;
  const kind = random.int(3);
  if (kind === 0) {
    note(`SIGKILL ${victim}`);
    processes.kill(victim, 'SIGKILL');
    await sleep(500 + random.int(2_000));
    if (restart(victim)) {
      note(`restart ${victim}`);
      await processes.start(victim);
    }
  } else if (kind === 1) {
    note(`SIGSTOP ${victim}`);
    processes.kill(victim, 'SIGSTOP');
    await sleep(500 + random.int(3_000));
    note(`SIGCONT ${victim}`);
    processes.kill(victim, 'SIGCONT');
  } else {
    const shuffled = [...members].sort(() => random.next() - 0.5);
    // A minority: one or two of five, one of three.
    const minority = shuffled.slice(0, 1 + random.int(Math.floor((members.length - 1) / 2)));
    const majority = shuffled.slice(minority.length);
    note(`partition ${minority.join(',')} | ${majority.join(',')}`);
    for (const id of members) if (processes.alive(id)) processes.children.get(id)!.send({ block: minority.includes(id) ? majority : minority });
    await sleep(1_000 + random.int(3_000));
    note('heal');
    for (const id of processes.children.keys()) if (processes.alive(id)) processes.children.get(id)!.send({ block: [] });
  }
}
