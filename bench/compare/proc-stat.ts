/**
 * CPU accounting from Linux's `/proc`: a process's CPU time (`/proc/PID/stat`, all its
 * threads) and the machine's (`/proc/stat`: busy, idle and stolen time), in clock ticks.
 */
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';

/** Clock ticks per second (`getconf CLK_TCK`; 100 where it cannot be asked). */
export const clockTicksPerSecond: number = (() => {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isInteger(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
})();

/** The fields of `/proc/PID/stat` the harness uses. */
export interface ProcessStat {
  /** One letter: R running, S sleeping, Z zombie, ... */
  readonly state: string;
  /** CPU time in user mode plus kernel mode, in clock ticks, all threads. */
  readonly cpuTicks: number;
  /** When it started, in clock ticks after boot. */
  readonly startTicks: number;
}

/** Parses one `/proc/PID/stat` line; throws on one that is not. */
export function parseProcessStat(text: string): ProcessStat {
  // The command name (field 2) is in parentheses and may hold spaces or parentheses itself.
  const close = text.lastIndexOf(')');
  if (close < 0) throw new Error(`not a /proc/PID/stat line: ${JSON.stringify(text.slice(0, 80))}`);
  const fields = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  // fields[0] is field 3 (state); utime, stime, starttime are fields 14, 15 and 22.
  const [state, utime, stime, start] = [fields[0], Number(fields[11]), Number(fields[12]), Number(fields[19])];
  if (state === undefined || ![utime, stime, start].every(Number.isSafeInteger))
    throw new Error(`not a /proc/PID/stat line: ${JSON.stringify(text.slice(0, 80))}`);
  return { state, cpuTicks: utime + stime, startTicks: start };
}

async function processStat(pid: number): Promise<ProcessStat | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : parseProcessStat(text);
}

/** When process `pid` started (clock ticks after boot), or undefined if there is none or it has exited (a zombie). */
export async function processStartTicks(pid: number): Promise<number | undefined> {
  const stat = await processStat(pid);
  return stat === undefined || stat.state === 'Z' ? undefined : stat.startTicks;
}

/** CPU time process `pid` has used, in clock ticks; 0 if it is gone. */
export async function processCpuTicks(pid: number): Promise<number> {
  return (await processStat(pid))?.cpuTicks ?? 0;
}

/** The machine's CPU time since boot, all cores, in clock ticks. */
export interface MachineStat {
  /** Everything but idle, I/O wait and steal. */
  readonly busy: number;
  /** Time the hypervisor ran something else while this machine wanted the CPU. */
  readonly steal: number;
  /** Everything: busy, idle, I/O wait and steal. */
  readonly total: number;
}

/** Parses the `cpu` line of `/proc/stat`. */
export function parseMachineStat(text: string): MachineStat {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  const values = line?.trim().split(/\s+/).slice(1, 9).map(Number) ?? [];
  if (values.length < 8 || !values.every(Number.isSafeInteger)) throw new Error(`no cpu line in /proc/stat: ${JSON.stringify(text.slice(0, 80))}`);
  // user nice system idle iowait irq softirq steal (guest time is already in user)
  const [user, nice, system, idle, iowait, irq, softirq, steal] = values as [number, number, number, number, number, number, number, number];
  const busy = user + nice + system + irq + softirq;
  return { busy, steal, total: busy + idle + iowait + steal };
}

/** The machine's CPU time now (`/proc/stat`). */
export async function machineStat(): Promise<MachineStat> {
  return parseMachineStat(await readFile('/proc/stat', 'utf8'));
}
