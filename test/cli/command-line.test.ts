/**
 * The `synod` command as a user meets it (issue 17, section 1), against a one-member
 * cluster run by `synod serve`: mistyped options and extra words are refused and write
 * nothing; help and --version; a malformed transaction is one line, exit 2; output
 * larger than a pipe's buffer reaches a reader that starts late; values from stdin
 * and files; a wrong secret or cluster id fails at once as AuthenticationError;
 * compact and status --json.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientOf } from '../../src/cli/client-commands.js';
import { readClusterConfig } from '../../src/cli/cluster-config.js';
import { writeLocalCluster } from '../../src/cli/cluster-up.js';
import { commands } from '../../src/cli/commands.js';
import { usageText } from '../../src/cli/help-text.js';
import { root, ServerProcesses, synod, synodCommand, until } from './cli-processes.js';

let dir: string;
let config: string;
const servers = new ServerProcesses();

/** Runs `synod ARGS` (no --config added) to its end. */
function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return shell(`${synodCommand.map((w) => `'${w}'`).join(' ')} ${args.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ')}`);
}

/** Runs a shell command line, where `SYNOD` stands for the synod command. */
function shell(line: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const command = line.replaceAll('SYNOD', synodCommand.map((w) => `'${w}'`).join(' '));
  return new Promise((done) => {
    execFile('sh', ['-c', command], { cwd: root, timeout: 30_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      done({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'synod-command-line-'));
  config = await writeLocalCluster(join(dir, '.synod'), 1);
  servers.serve(config, 'a');
  await until('the member to serve', 30_000, async () => (await synod(config, 'status')).code === 0);
}, 40_000);

afterAll(async () => {
  await servers.killAll();
  await rm(dir, { recursive: true, force: true });
});

describe('synod', () => {
  it('refuses a mistyped option or an extra word with exit status 2 and the valid options, and writes nothing', async () => {
    expect((await synod(config, 'put', 'k', 'v1')).code).toBe(0);
    const put = await synod(config, 'put', 'k', 'v2', '--expected-versoin', '999');
    expect(put.code).toBe(2);
    expect(put.stderr).toBe(
      'synod: UsageError: synod put: `--expected-versoin` is not an option of synod put; valid options: --config FILE, --json, --file FILE, --expected-version N, --sequential\n',
    );
    const del = await synod(config, 'del', 'k', '--expect-version', '1');
    expect(del.code).toBe(2);
    expect(del.stderr).toMatch(/`--expect-version` is not an option of synod del; valid options: .*--expected-version N/);
    const extra = await synod(config, 'put', 'k', 'v2', 'v3');
    expect(extra.code).toBe(2);
    expect(extra.stderr).toMatch(/`v3` is one word too many: usage: synod put KEY \[VALUE\]/);
    expect(await synod(config, 'get', 'k')).toMatchObject({ code: 0, stdout: 'v1\n' });
  });

  it('has help for every command (exit 0), names an unknown command (exit 2), and prints its version', async () => {
    const help = await run('help', 'put');
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toMatch(/^usage: synod put KEY \[VALUE\] \[options\]\n[\s\S]*--expected-version N +write only if/);
    expect(await run('put', '--help')).toEqual(help);
    const unknown = await run('frobnicate', 'k');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/`frobnicate` is not a command: cluster, serve, put, get/);
    const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    expect(await run('--version')).toMatchObject({ code: 0, stdout: `synod ${version.version}\n` });
    // The overview (what synod help prints) lists every option of serve, and of every other command.
    const usage = usageText(commands);
    for (const command of commands) {
      for (const name of Object.keys(command.options).filter((n) => n !== 'config' && n !== 'json'))
        expect(usage, `${command.name} --${name}`).toContain(`--${name}`);
    }
  });

  it('refuses a malformed transaction in one line, exit 2, and runs a good one', async () => {
    for (const json of ['not json', 'null', '{"compare":"x"}', '[]']) {
      const r = await synod(config, 'txn', json);
      expect(r.code, json).toBe(2);
      expect(r.stderr, json).toMatch(/^synod: UsageError: synod txn: `[^`]+` [^\n]+\n$/);
    }
    const ok = await synod(config, 'txn', '{"compare":[{"key":"t","target":"version","op":"==","value":0}],"success":[{"op":"put","key":"t","value":"x"}]}');
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ succeeded: true });
  });

  it('writes all of a large value to a pipe whose reader starts late, and reads values from stdin and files', async () => {
    // Larger than a pipe's buffer (64 KiB), read only after synod has finished writing.
    const big = Buffer.alloc(200_000, 'x');
    await writeFile(join(dir, 'big'), big);
    expect((await synod(config, 'put', 'big', '--file', join(dir, 'big'))).code).toBe(0);
    const late = await shell(`SYNOD get big --config '${config}' | (sleep 1; wc -c)`);
    expect(late.stdout.trim()).toBe(String(big.byteLength + 1));
    const range = await shell(`SYNOD range big --json --config '${config}' | (sleep 1; wc -c)`);
    expect(Number(range.stdout.trim())).toBeGreaterThan(big.byteLength);
    // stdin, bytes as they are (a trailing newline kept).
    expect((await shell(`printf 'line 1\\nline 2\\n' | SYNOD put lines - --config '${config}'`)).code).toBe(0);
    expect(JSON.parse((await synod(config, 'get', 'lines', '--json')).stdout)).toMatchObject({ value: 'line 1\nline 2\n' });
    const both = await synod(config, 'put', 'k', 'v', '--file', join(dir, 'big'));
    expect(both).toMatchObject({ code: 2, stderr: expect.stringMatching(/--file.*and a VALUE word were both given/) as unknown });
  });

  it('a wrong client secret or cluster id fails as AuthenticationError, never "may still take effect"', async () => {
    expect((await synod(config, 'put', 'guarded', 'kept')).code).toBe(0);
    const file = JSON.parse(await readFile(config, 'utf8')) as Record<string, unknown>;
    await writeFile(join(dir, '.synod', 'wrong-secret'), 'f'.repeat(64));
    const wrongSecret = join(dir, '.synod', 'wrong-secret.json');
    await writeFile(wrongSecret, JSON.stringify({ ...file, clientSecretFile: 'wrong-secret' }));
    const wrongCluster = join(dir, '.synod', 'wrong-cluster.json');
    await writeFile(wrongCluster, JSON.stringify({ ...file, clusterId: 'another' }));
    for (const [path, why] of [
      [wrongSecret, /refused this client: authentication failed/],
      [wrongCluster, /is a server of cluster local-[0-9a-f]+, not another/],
    ] as const) {
      const r = await synod(path, 'put', 'guarded', 'evil');
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^synod: AuthenticationError: KvClient: command: 127\.0\.0\.1:\d+ /);
      expect(r.stderr).toMatch(why);
      expect(r.stderr).toMatch(/it was never sent\n$/);
    }
    // Commands that look for the leader stop at the refusal too, instead of reporting no leader.
    expect(await synod(wrongSecret, 'leader', 'transfer', 'a')).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^synod: AuthenticationError: KvClient: status: .*authentication failed/) as unknown,
    });
    expect(await synod(config, 'get', 'guarded')).toMatchObject({ code: 0, stdout: 'kept\n' });
  });

  it('compacts history, and status --json gives every member role, commit, applied, lag and leader', async () => {
    const first = JSON.parse((await synod(config, 'put', 'c', '1', '--json')).stdout) as { revision: number };
    const second = JSON.parse((await synod(config, 'put', 'c', '2', '--json')).stdout) as { revision: number };
    expect(await synod(config, 'compact', String(second.revision))).toMatchObject({
      code: 0,
      stdout: `synod: history before revision ${second.revision} is compacted\n`,
    });
    const old = await synod(config, 'get', 'c', '--revision', String(first.revision));
    expect(old.code).toBe(1);
    expect(old.stderr).toMatch(/CompactedError/);
    expect((await synod(config, 'compact', 'zero')).code).toBe(2);
    const status = await synod(config, 'status', '--json');
    expect(status.code, status.stderr).toBe(0);
    const s = JSON.parse(status.stdout) as {
      leader: string;
      commitIndex: number;
      members: { node: string; reachable: boolean; role: string; leader: string; commitIndex: number; appliedIndex: number; lag: number }[];
    };
    expect(s.leader).toBe('a');
    expect(s.members).toEqual([
      expect.objectContaining({
        node: 'a',
        reachable: true,
        role: 'leader',
        leader: 'a',
        commitIndex: s.commitIndex,
        lag: expect.any(Number) as unknown,
        appliedIndex: expect.any(Number) as unknown,
      }),
    ]);
  });

  it('lists sessions and revokes one, deleting its ephemeral keys', async () => {
    const c = await readClusterConfig(config);
    const kv = clientOf(c);
    try {
      const session = await kv.createSession({ ttlMs: 60_000 });
      await kv.put('held', 'by me', { session: session.id });
      const listed = await synod(config, 'session', 'list', '--json');
      expect(listed.code, listed.stderr).toBe(0);
      expect((JSON.parse(listed.stdout) as { sessions: { id: number; keys: number }[] }).sessions).toContainEqual(
        expect.objectContaining({ id: session.id, keys: 1 }),
      );
      expect(await synod(config, 'session', 'revoke', String(session.id))).toMatchObject({
        code: 0,
        stdout: expect.stringMatching(new RegExp(`^synod: session ${session.id} revoked; 1 keys deleted at revision \\d+\n$`)) as unknown,
      });
      expect((await synod(config, 'get', 'held')).code).toBe(1);
      expect(await synod(config, 'session', 'revoke', String(session.id))).toMatchObject({ code: 1, stderr: expect.stringMatching(/is not live/) as unknown });
      expect((await synod(config, 'session', 'revoke', 'abc')).code).toBe(2);
    } finally {
      await kv.close();
    }
  });
});
