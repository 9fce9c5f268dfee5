import { describe, expect, it } from 'vitest';
import { machineStat, parseMachineStat, parseProcessStat, processCpuTicks, processStartTicks } from '../../../bench/compare/proc-stat.js';

describe('parseProcessStat', () => {
  it('reads state, CPU (user + system) and start time past a command name holding spaces and parentheses', () => {
    // Fields 1-22 of proc(5): pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime priority nice threads itrealvalue starttime
    const line = '4242 (a) b (c) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 9 9 20 0 12 0 987654 123456 789';
    expect(parseProcessStat(line)).toEqual({ state: 'S', cpuTicks: 325, startTicks: 987654 });
  });

  it('throws on text that is not a stat line', () => {
    expect(() => parseProcessStat('no parentheses here')).toThrow(/not a \/proc\/PID\/stat line/);
    expect(() => parseProcessStat('1 (x) S 1 2')).toThrow(/not a \/proc\/PID\/stat line/);
  });

  it('reads this process, and nothing for a PID that is not there', async () => {
    expect(await processStartTicks(process.pid)).toBeGreaterThan(0);
    expect(await processCpuTicks(process.pid)).toBeGreaterThanOrEqual(0);
    expect(await processStartTicks(2 ** 30)).toBeUndefined();
    expect(await processCpuTicks(2 ** 30)).toBe(0);
  });
});

describe('parseMachineStat', () => {
  it('sums busy time without idle, I/O wait and steal, and counts all of them in the total', () => {
    const text = 'cpu  100 5 50 1000 20 3 2 7 0 0\ncpu0 50 2 25 500 10 1 1 3 0 0\nintr 1\n';
    expect(parseMachineStat(text)).toEqual({ busy: 160, steal: 7, total: 1187 });
  });

  it('throws without a cpu line', () => {
    expect(() => parseMachineStat('intr 1\n')).toThrow(/no cpu line/);
  });

  it('reads this machine', async () => {
    const stat = await machineStat();
    expect(stat.total).toBeGreaterThanOrEqual(stat.busy + stat.steal);
  });
});
