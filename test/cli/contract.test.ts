// The CLI contract of docs/cli.md, for every command: the stream split
// (data on stdout, the rest on stderr, one JSON document with --json), the
// exit-code table, and one flag name per meaning. Real processes of the
// built CLI against one real local cluster shared by the file; unreachable
// cases dial a closed port.
import { execFile } from 'node:child_process';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthRefusedError, ForwardLostError, InvalidArgumentError, NoLeaderError, NotFoundError, RetriesExhaustedError, UnavailableError } from '../../src/client/index.js';
import { ClusterUnreachableError, ExitError, UsageError, failureOf } from '../../src/cli/errors.js';
import { buildProgram, commandModules, main } from '../../src/cli/main.js';
import { CorruptionError } from '../../src/raft/index.js';
import { SpecError } from '../../src/spec/index.js';
import type { LocalCluster } from '../../src/cluster/local-cluster.js';
import { cliArgv, repoRoot, runBuiltCli, type CliOutcome } from './cli-process.js';
import { clientFor, startCluster, waitFor } from '../integration/harness.js';
import { freePort } from '../../src/cluster/ports.js';

const exampleSpec = join(repoRoot, 'examples', 'testudo.yaml');
/** Environment of every child: no coordinators from the caller's shell, no CI. */
const cleanEnv = { TESTUDO_COORDINATORS: undefined, TESTUDO_ENDPOINTS: undefined, GITHUB_ACTIONS: undefined, GITHUB_STEP_SUMMARY: undefined, LOG_LEVEL: 'warn' };

let cluster: LocalCluster;
let cleanup: () => Promise<void>;
let endpoints: string;
let scratch: string;
let closedPort: number;


beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'testudo-cli-contract-'));
  closedPort = await freePort(); // reserved for this process, nobody listens on it
  ({ cluster, cleanup } = await startCluster({ coordinators: 1, basePort: 0 }));
  endpoints = cluster.endpoints().join(',');
  await cluster.startWorker('w1', { slots: 2 });
  const client = clientFor(cluster);
  try {
    await waitFor('w1 connected', async () => (await client.listWorkers()).some((w) => w.connected), 60_000);
  } finally {
    client.close();
  }
}, 120_000);

afterAll(async () => {
  await cleanup?.();
  await rm(scratch, { recursive: true, force: true });
});

function text(o: CliOutcome): { out: string; err: string; label: string } {
  const out = o.stdout.toString('utf8');
  const err = o.stderr.toString('utf8');
  return { out, err, label: `code ${o.code}\nstdout ${JSON.stringify(out)}\nstderr ${JSON.stringify(err)}` };
}

/** Runs `items` at most `width` at a time (each is a node process). */
async function inBatches<T, R>(items: readonly T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += width) out.push(...(await Promise.all(items.slice(i, i + width).map(fn))));
  return out;
}

describe('every command that talks to a cluster: an unreachable one is exit 3, said on stderr only', () => {
  const commands: readonly (readonly string[])[] = [
    ['run', exampleSpec],
    ['runs', 'list'],
    ['runs', 'show', 'r-x'],
    ['runs', 'cancel', 'r-x'],
    ['runs', 'report', 'r-x'],
    ['runs', 'log', 'r-x.t1.a1'],
    ['workers', 'list'],
    ['workers', 'drain', 'w-x'],
    ['workers', 'release', 'w-x'],
    ['workers', 'breaker-config'],
    ['kv', 'put', 'k', 'v'],
    ['kv', 'get', 'k'],
    ['kv', 'delete', 'k'],
    ['kv', 'list'],
    ['cluster', 'status'],
    ['cluster', 'transfer-leader', '--to', 'n2'],
    ['cluster', 'add-member', '--id', 'n9', '--address', '127.0.0.1:1'],
    ['cluster', 'remove-member', '--id', 'n9'],
    ['cluster', 'repair-member', '--id', 'n9'],
    ['snapshot', 'save', 'never-written.snap'],
  ];

  it('names the address tried, suggests --wait, prints no class name', async () => {
    const address = `127.0.0.1:${closedPort}`;
    const outcomes = await inBatches(commands, 4, (args) => runBuiltCli([...args, '--coordinators', address, '--wait', '500'], cleanEnv, scratch));
    for (const [i, o] of outcomes.entries()) {
      const { out, err, label } = text(o);
      const what = `testudo ${commands[i]!.join(' ')}: ${label}`;
      expect(o.code, what).toBe(3);
      expect(out, what).toBe('');
      expect(err, what).toContain(`cannot reach the Testudo cluster: no coordinator answered at ${address} within 0.5 s`);
      expect(err, what).toContain('--wait MS waits longer');
      expect(err, what).not.toContain('testudo up');
      expect(err, what).not.toMatch(/\b[A-Z][A-Za-z]*Error\b/);
    }
  }, 120_000);
});

describe('against a live cluster: data on stdout, exactly one JSON document with --json', () => {
  it('cluster status, runs list, workers list: --json is one document, the table is data too', async () => {
    const cases = [['cluster', 'status'], ['runs', 'list'], ['workers', 'list']];
    const outcomes = await inBatches(cases.flatMap((c) => [[...c, '--json'], c]), 3, (args) => runBuiltCli([...args, '--coordinators', endpoints], cleanEnv));
    for (const [i, o] of outcomes.entries()) {
      const { out, err, label } = text(o);
      expect(o.code, label).toBe(0);
      expect(err, label).toBe('');
      if (i % 2 === 0) expect(() => JSON.parse(out) as unknown, label).not.toThrow();
      else expect(out.length, label).toBeGreaterThan(0);
    }
  }, 60_000);

  it('kv put/get/list/delete print JSON on stdout; a missing key is exit 1', async () => {
    const kv = (...args: string[]): Promise<CliOutcome> => runBuiltCli(['kv', ...args, '--coordinators', endpoints], cleanEnv);
    const put = text(await kv('put', 'contract/a', 'one'));
    expect(JSON.parse(put.out), put.label).toMatchObject({});
    const got = text(await kv('get', 'contract/a'));
    expect(JSON.parse(got.out), got.label).toMatchObject({ found: true, value: 'one' });
    const listed = text(await kv('list', '--prefix', 'contract/'));
    expect(listed.out.trim().split('\n').map((l) => JSON.parse(l) as { key: string }).map((x) => x.key), listed.label).toEqual(['contract/a']);
    expect((await kv('delete', 'contract/a')).code).toBe(0);
    const missing = await kv('get', 'contract/a');
    expect(missing.code, text(missing).label).toBe(1);
    expect(JSON.parse(text(missing).out)).toMatchObject({ found: false });
  }, 60_000);

  it('run [path] --suite --json: progress on stderr, one JSON document on stdout, exit 0; runs show --json and a bad --set', async () => {
    const reportDir = join(scratch, 'reports-unit');
    const o = await runBuiltCli(['run', exampleSpec, '--suite', 'unit', '--set', 'suites.unit.shards=2', '--json', '--report-dir', reportDir, '--coordinators', endpoints], cleanEnv);
    const { out, err, label } = text(o);
    expect(o.code, label).toBe(0);
    const summary = JSON.parse(out) as { runId: string; state: string; totals: { tasks: number } };
    expect(summary.state, label).toBe('passed');
    expect(summary.totals.tasks, label).toBe(2);
    expect(err, label).toMatch(/^submitted run r-\S+ "example": 2 tasks$/m);
    const show = text(await runBuiltCli(['runs', 'show', summary.runId, '--json', '--coordinators', endpoints], cleanEnv));
    expect(JSON.parse(show.out), show.label).toMatchObject({ runId: summary.runId, state: 'passed' });
    const bad = text(await runBuiltCli(['run', exampleSpec, '--set', 'suites.unit.shardz=2', '--coordinators', endpoints], cleanEnv));
    expect(bad.out, bad.label).toBe('');
    expect(bad.err, bad.label).toContain('--set "suites.unit.shardz": unknown key; did you mean "suites.unit.shards"?');
  }, 120_000);

  it('a failing run is exit 1; in GitHub Actions its failure is an ::error annotation with file and line', async () => {
    const o = await runBuiltCli(['run', '-f', exampleSpec, '--suite', 'failing', '--no-progress', '--report-dir', join(scratch, 'reports-failing'), '--coordinators', endpoints], { ...cleanEnv, GITHUB_ACTIONS: 'true' });
    const { out, err, label } = text(o);
    expect(o.code, label).toBe(1);
    expect(out, label).toMatch(/^run r-\S+ \(example\): failed$/m);
    expect(out, label).not.toContain('::error');
    expect(err, label).toMatch(/^::error file=examples\/suite\/failing\/deliberate\.test\.js,line=\d+,title=failing%3A [^\n]*::Expected values to be strictly equal/m);
  }, 120_000);

  it('old spellings still work, with a deprecation note on stderr', async () => {
    const [status, list] = await Promise.all([
      runBuiltCli(['cluster', 'status', '--endpoints', endpoints], cleanEnv),
      runBuiltCli(['runs', 'list', '--json', '--timeout-ms', '5000'], { ...cleanEnv, TESTUDO_ENDPOINTS: endpoints }),
    ]);
    const s = text(status);
    expect(status.code, s.label).toBe(0);
    expect(s.out, s.label).toMatch(/^ID +ADDRESS +ROLE/);
    expect(s.err, s.label).toBe('testudo: --endpoints is deprecated; use --coordinators (the old spelling still works for now)\n');
    const l = text(list);
    expect(list.code, l.label).toBe(0);
    expect(() => JSON.parse(l.out) as unknown, l.label).not.toThrow();
    expect(l.err, l.label).toContain('TESTUDO_ENDPOINTS is deprecated; use TESTUDO_COORDINATORS');
    expect(l.err, l.label).toContain('--timeout-ms is deprecated; use --wait');
  }, 60_000);
});

/** Every leaf command of the program, as its path of names. */
function leafCommands(program: Command, prefix: readonly string[] = []): { path: string[]; command: Command }[] {
  return program.commands.flatMap((c) => (c.commands.length === 0 ? [{ path: [...prefix, c.name()], command: c }] : leafCommands(c, [...prefix, c.name()])));
}

const quiet = { out: () => undefined, err: () => undefined };
const fullProgram = await buildProgram(quiet);

describe('loading only the command named', () => {
  it('each module registers exactly the top-level commands the table gives it, and all of them make the whole program', async () => {
    const topLevel = (program: Command): string[] => program.commands.map((c) => c.name()).filter((name) => name !== 'raft');
    expect(topLevel(fullProgram)).toEqual(commandModules.flatMap((m) => m.commands));
    for (const m of commandModules) {
      for (const name of m.commands) {
        const alone = await buildProgram(quiet, [name, '--help']);
        expect(topLevel(alone), name).toEqual(m.commands);
        // The command's whole tree, as the full program has it.
        const paths = (program: Command) => leafCommands(program).map((l) => l.path.join(' ')).filter((p) => p.split(' ')[0] === name);
        expect(paths(alone), name).toEqual(paths(fullProgram));
      }
    }
    // No command named, or one that does not exist: everything, so that help and the unknown-command error see it all.
    expect(topLevel(await buildProgram(quiet, ['--help']))).toEqual(topLevel(fullProgram));
    expect(topLevel(await buildProgram(quiet, ['nonsense']))).toEqual(topLevel(fullProgram));
    // `raft inspect` is the base program's own.
    const raftOnly = await buildProgram(quiet, ['raft', 'inspect', '--help']);
    expect(raftOnly.commands.map((c) => c.name())).toEqual(['raft']);
  });
});

describe('flags of every command (in-process, the real program)', () => {
  const leaves = leafCommands(fullProgram);

  it('one name per meaning: --coordinators is addresses and comes with --wait; counts are --replicas; old names are hidden', () => {
    expect(leaves.length).toBeGreaterThan(30);
    for (const { path, command } of leaves) {
      const visible = command.options.filter((o) => !o.hidden).map((o) => o.long);
      const where = `testudo ${path.join(' ')}: ${visible.join(' ')}`;
      expect(visible, where).not.toContain('--endpoints');
      expect(visible, where).not.toContain('--timeout-ms');
      const coordinators = command.options.find((o) => o.long === '--coordinators' && !o.hidden);
      if (coordinators !== undefined) expect(coordinators.flags, where).toBe('--coordinators <list>');
      const talksToCluster = command.options.some((o) => o.long === '--token-file') && path[0] !== 'worker' && path[0] !== 'coordinator';
      if (talksToCluster) {
        expect(visible, where).toContain('--coordinators');
        expect(visible, where).toContain('--wait');
        expect(visible, where).toContain('--tls-ca');
      }
    }
    for (const starter of [['up'], ['demo'], ['drill', 'failover']]) {
      const leaf = leaves.find((l) => l.path.join(' ') === starter.join(' '));
      expect(leaf?.command.options.map((o) => o.long), starter.join(' ')).toContain('--replicas');
    }
  });

  it('--help is data (stdout, exit 0) and ends with the exit-code table; an unknown flag is exit 2 on stderr, for every command', async () => {
    for (const { path } of leaves) {
      let out = '';
      let err = '';
      const help = await main([...path, '--help'], (t) => (out += t), (t) => (err += t));
      expect(help, path.join(' ')).toBe(0);
      expect(out, path.join(' ')).toMatch(/^Usage: testudo /);
      expect(err, path.join(' ')).toBe('');
      out = '';
      const bad = await main([...path, '--no-such-flag'], (t) => (out += t), (t) => (err += t));
      expect(bad, path.join(' ')).toBe(2);
      expect(out, path.join(' ')).toBe('');
      expect(err, path.join(' ')).toMatch(/^error: (unknown option '--no-such-flag'|required option|missing required argument)/);
      err = '';
    }
    let top = '';
    expect(await main(['--help'], (t) => (top += t), () => undefined)).toBe(0);
    expect(top).toContain('Exit codes (every command; docs/cli.md#exit-codes)');
    expect(top).toMatch(/^ {2}4 {2}refused by the cluster's authentication$/m);
  });
});

describe('the exit-code table (errors.ts), row by row', () => {
  const target = { endpoints: ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003'], localDefault: true, waitMs: 5000, tls: false };
  const refused = new UnavailableError('127.0.0.1:7003: UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:7003. Resolution note: ', { code: 'UNAVAILABLE', retryable: true, endpoint: '127.0.0.1:7003' });
  const rows: { error: unknown; code: number; says?: string }[] = [
    { error: new ExitError(1), code: 1 },
    { error: new NotFoundError('no run r-1', { code: 'not-found', retryable: false }), code: 1, says: 'no run r-1' },
    { error: new Error('boom'), code: 1, says: 'unexpected error: boom' },
    { error: new CommanderError(1, 'commander.unknownOption', 'x'), code: 2 },
    { error: new UsageError('--wait must be a positive integer'), code: 2, says: '--wait must be' },
    { error: new InvalidArgumentError('InvalidArgumentError: key too long', { code: 'invalid', retryable: false }), code: 2, says: 'testudo: key too long' },
    { error: new SpecError({ file: 'testudo.yaml', line: 3, column: 1, detail: 'bad' }), code: 2, says: 'testudo.yaml:3' },
    { error: new ClusterUnreachableError(target, new RetriesExhaustedError(20, refused)), code: 3, says: 'start a local cluster with `testudo up`' },
    { error: new ClusterUnreachableError({ ...target, localDefault: false }, new NoLeaderError('no leader', { code: 'no-leader', retryable: true })), code: 3, says: 'have no leader' },
    { error: new RetriesExhaustedError(3, refused), code: 3, says: '127.0.0.1:7003: connection refused' },
    { error: new CorruptionError(7, 'crc mismatch'), code: 3, says: 'damaged data' },
    { error: new AuthRefusedError('no token', { code: 'unauthenticated', retryable: false, grpcCode: 16 }), code: 4, says: '--token-file' },
    { error: new ForwardLostError('forward to n1 lost: connection dropped', { code: 'forward-lost', retryable: true }), code: 3, says: 'it may have been applied' },
    { error: new ClusterUnreachableError(target, new ForwardLostError('forward to n1 lost', { code: 'forward-lost', retryable: true })), code: 3, says: 'look with `testudo cluster status`' },
  ];

  it('maps each expected failure to its code and a message without class names', () => {
    for (const row of rows) {
      const failure = failureOf(row.error);
      const what = `${(row.error as Error).name}: ${failure.message}`;
      expect(failure.code, what).toBe(row.code);
      if (row.says !== undefined) expect(failure.message, what).toContain(row.says);
      expect(failure.message, what).not.toMatch(/\b[A-Z][A-Za-z]*Error\b/);
    }
  });

  it('the unreachable message names every address and the last problem in words', () => {
    const message = failureOf(new ClusterUnreachableError(target, new RetriesExhaustedError(20, refused))).message;
    expect(message).toBe(
      'testudo: cannot reach the Testudo cluster: no coordinator answered at 127.0.0.1:7001, 127.0.0.1:7002, 127.0.0.1:7003 within 5.0 s (last: 127.0.0.1:7003: connection refused)\n' +
        '  start a local cluster with `testudo up`, or name yours with --coordinators host:port,… (or TESTUDO_COORDINATORS); --wait MS waits longer; if the cluster uses TLS, pass --tls-ca (and --tls-cert, --tls-key for mutual TLS)\n',
    );
  });
});

/** The `npx testudo …` lines of the CI snippets in docs/cli.md ("## In CI"), and the report paths they publish. */
async function ciSnippets(): Promise<{ commands: string[]; paths: string[] }> {
  const doc = await readFile(join(repoRoot, 'docs', 'cli.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## In CI'));
  const blocks = [...section.matchAll(/```(?:yaml|groovy)\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const commands = blocks.flatMap((b) => [...b.matchAll(/(npx testudo [^'\n]+)/g)].map((m) => m[1]!.trim()));
  const paths = [...new Set(blocks.flatMap((b) => [...b.matchAll(/testudo-reports\/[\w.-]*/g)].map((m) => m[0].replace(/\/$/, ''))))];
  return { commands, paths };
}

describe('the CI snippets of docs/cli.md', () => {
  it('their commands run as written (npx testudo = the built CLI) and publish files that exist', async () => {
    const { commands, paths } = await ciSnippets();
    expect(commands).toEqual(['npx testudo run testudo.yaml --step-summary', 'npx testudo run testudo.yaml', 'npx testudo run testudo.yaml']);
    expect(paths.sort()).toEqual(['testudo-reports', 'testudo-reports/testudo-report.xml']);
    for (const [i, command] of commands.entries()) {
      const dir = await mkdtemp(join(scratch, `ci-${i}-`));
      await writeFile(join(dir, 'testudo.yaml'), 'name: ci\nsuites:\n  - name: quick\n    command: node --test --test-reporter=junit --test-reporter-destination="$TESTUDO_JUNIT" $TESTUDO_FILES\n    files: "*.test.mjs"\n');
      await writeFile(join(dir, 'a.test.mjs'), "import test from 'node:test';\ntest('adds', () => {});\n");
      const summary = join(dir, 'step-summary.md');
      await writeFile(summary, '');
      const shell = command.replace(/^npx testudo/, [process.execPath, ...cliArgv()].map((a) => `'${a}'`).join(' '));
      const env = { ...process.env, TESTUDO_COORDINATORS: endpoints, TESTUDO_ENDPOINTS: '', GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: summary };
      const code = await new Promise<number>((resolve) => execFile('sh', ['-c', shell], { cwd: dir, env, timeout: 120_000 }, (error) => resolve(error === null ? 0 : typeof error.code === 'number' ? error.code : -1)));
      expect(code, command).toBe(0);
      for (const path of paths) await access(join(dir, path));
      if (command.includes('--step-summary')) expect(await readFile(summary, 'utf8')).toMatch(/^## Testudo run ci: PASSED/);
    }
  }, 180_000);
});
