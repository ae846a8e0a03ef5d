import { EventEmitter } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { NotFoundError, UnavailableError, type WorkerInfo } from '../../src/client/index.js';
import { failureOf } from '../../src/cli/errors.js';
import { coordinatorsOf } from '../../src/cli/connect.js';
import { registerRunCommand } from '../../src/cli/run-cmd.js';
import {
  formatDuration,
  formatRunReport,
  formatAttemptLine,
  formatRunView,
  formatRunsTable,
  formatWorkersTable,
  parseBreakerSettings,
  registerRunsCommands,
  type RunCommandsEnv,
  type RunsClient,
} from '../../src/cli/run-cmds.js';
import type { AttemptView, RunCounts, RunSubmission, RunSummary, RunView, TaskTemplate, TaskView, TestCaseResult } from '../../src/model/types.js';
import { mergeRun } from '../../src/report/merge.js';
import { buildSummary } from '../../src/report/summary.js';
import { freePort } from '../../src/cluster/ports.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'testudo-run-cmds-'));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** Runs one command line against a fresh program; the exit code as main() would return it, stdout, stderr. */
async function cli(args: string[], env: RunCommandsEnv = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io = { out: (text: string): void => void (out += text), err: (text: string): void => void (err += text) };
  const program = new Command('testudo').exitOverride().configureOutput({ writeOut: io.out, writeErr: io.err });
  registerRunCommand(program, io, env);
  registerRunsCommands(program, io, env);
  try {
    await program.parseAsync(args, { from: 'user' });
    return { code: 0, out, err };
  } catch (error) {
    const failure = failureOf(error);
    return { code: failure.code, out, err: err + failure.message };
  }
}


// ------------------------------------------------------------------ fixtures

const T0 = Date.UTC(2026, 0, 2, 3, 4, 5);

function template(suite: string, shard = 1, shardCount = 1, matrix: Record<string, string> = {}): TaskTemplate {
  return {
    suite,
    command: 'node --test',
    cwd: '.',
    shard,
    shardCount,
    files: [],
    splitByTimings: false,
    matrix,
    env: {},
    requirements: { labels: {}, cpus: 0, memoryMb: 0, tools: [] },
    priority: 0,
    timeoutSec: 60,
    retries: 1,
    exclusive: false,
  };
}

function testCase(name: string, status: TestCaseResult['status'], message = ''): TestCaseResult {
  return { classname: 'math', name, file: 'math.test.js', status, timeSec: 0.25, message, type: '', details: '' };
}

function attempt(taskId: string, n: number, workerId: string, state: AttemptView['state'], extra: Partial<AttemptView> & { tests?: TestCaseResult[]; infraClass?: string; reason?: string } = {}): AttemptView {
  const startedAtMs = T0 + n * 10_000;
  const reported = state === 'passed' || state === 'failed' || state === 'infra-error';
  const resultReason = extra.reason ?? '';
  return {
    attemptId: `${taskId}-a${n}`,
    number: n,
    workerId,
    assignedAtMs: startedAtMs,
    state,
    reason: reported ? '' : resultReason,
    lateResults: extra.lateResults ?? 0,
    ...(reported
      ? {
          result: {
            attemptId: `${taskId}-a${n}`,
            taskId,
            workerId,
            outcome: state === 'infra-error' ? 'infra-error' : state,
            infraClass: (extra.infraClass ?? '') as never,
            reason: resultReason,
            exitCode: state === 'passed' ? 0 : 1,
            signal: '',
            startedAtMs,
            finishedAtMs: startedAtMs + 4_500,
            tests: extra.tests ?? [],
            outputTail: '',
            logBytes: 10,
          },
        }
      : {}),
  };
}

function task(taskId: string, tmpl: TaskTemplate, state: TaskView['state'], attempts: AttemptView[], reason = ''): TaskView {
  return { taskId, runId: 'r-1', template: tmpl, files: [], state, reason, queuedAtMs: T0, finishedAtMs: state === 'running' ? 0 : T0 + 60_000, expectedMs: 1000, attempts, decisions: [] };
}

function countsOf(tasks: readonly TaskView[]): RunCounts {
  const n = (s: TaskView['state']): number => tasks.filter((t) => t.state === s).length;
  return { tasks: tasks.length, queued: n('queued'), running: n('running'), passed: n('passed'), failed: n('failed'), cancelled: n('cancelled'), failedInfra: n('failed-infra') };
}

function runView(state: RunView['state'], tasks: TaskView[], runId = 'r-1'): RunView {
  return {
    degraded: false,
    runId,
    name: 'demo',
    state,
    submittedAtMs: T0,
    finishedAtMs: state === 'running' ? 0 : T0 + 83_000,
    counts: countsOf(tasks),
    setup: [],
    setupCacheKey: 'k',
    sourceDir: '/src',
    tasks,
    flakiness: { 'unit/math::flaky add': 0.25 },
  };
}

function failedRun(): RunView {
  return runView('failed', [
    task('t-1', template('unit', 1, 2), 'passed', [attempt('t-1', 1, 'w-a', 'passed', { tests: [testCase('add', 'passed'), testCase('skip', 'skipped')] })]),
    task('t-2', template('unit', 2, 2), 'passed', [
      attempt('t-2', 1, 'w-a', 'failed', { tests: [testCase('flaky add', 'failed', 'expected 2')] }),
      attempt('t-2', 2, 'w-b', 'passed', { tests: [testCase('flaky add', 'passed')] }),
    ]),
    task('t-3', template('e2e', 1, 1, { locale: 'fr' }), 'failed', [attempt('t-3', 1, 'w-b', 'failed', { tests: [testCase('sub', 'failed', 'expected 1\ngot 2')] })]),
    task(
      't-4',
      template('db'),
      'failed-infra',
      [attempt('t-4', 1, 'w-a', 'lost', { reason: 'worker w-a lost' }), attempt('t-4', 2, 'w-b', 'infra-error', { infraClass: 'timeout', reason: 'timed out after 60 s' })],
      'infrastructure failure after 2 attempts',
    ),
  ]);
}

function worker(id: string, extra: Partial<WorkerInfo> = {}): WorkerInfo {
  return {
    breakerState: 'closed',
    breakerReason: '',
    breakerSinceMs: 0,
    resetting: false,
    lastHeartbeatAgeMs: 0,
    service: 'full',
    serviceReason: '',
    workerId: id,
    name: `host-${id}`,
    state: 'active',
    slots: 4,
    running: ['x', 'y'],
    labels: { os: 'linux', arch: 'x64' },
    cpus: 8,
    memoryMb: 16_384,
    tools: ['node'],
    httpAddress: '',
    connected: true,
    registeredAtMs: T0,
    ...extra,
  };
}

/** A stand-in for TestudoClient: plays `summaries` to watchRun, serves `run`. */
class FakeClient implements Pick<RunsClient, 'close'> {
  readonly calls: string[] = [];
  closed = false;
  onWatchStep: ((i: number) => Promise<void> | void) | null = null;
  runs = new Map<string, RunView>();
  submitError: Error | null = null;
  submitted: RunSubmission | null = null;
  constructor(
    readonly summaries: RunSummary[],
    run: RunView,
  ) {
    this.runs.set(run.runId, run);
  }
  async submitRun(submission: RunSubmission, options?: { runId?: string }): Promise<{ runId: string; tasks: number; duplicate: boolean }> {
    this.calls.push(`submit ${options?.runId ?? ''}`);
    this.submitted = submission;
    if (this.submitError !== null) throw this.submitError;
    return { runId: options?.runId ?? 'r-1', tasks: 4, duplicate: false };
  }
  async *watchRun(runId: string): AsyncGenerator<RunSummary, void, undefined> {
    this.calls.push(`watch ${runId}`);
    for (const [i, s] of this.summaries.entries()) {
      await this.onWatchStep?.(i);
      yield s;
    }
  }
  async getRun(runId: string): Promise<RunView & { archived: boolean }> {
    this.calls.push(`get ${runId}`);
    const run = this.runs.get(runId);
    if (run === undefined) throw new NotFoundError(`127.0.0.1:1: not-found: no run ${runId}`, { code: 'not-found', retryable: false });
    return { ...run, archived: false };
  }
  async listRuns(): Promise<RunSummary[]> {
    return [...this.runs.values()];
  }
  async cancelRun(runId: string, reason: string): Promise<{ state: string; cancelledAttempts: number }> {
    this.calls.push(`cancel ${runId} ${reason}`);
    return { state: 'cancelled', cancelledAttempts: 2 };
  }
  async listWorkers(): Promise<WorkerInfo[]> {
    return [worker('w-b'), worker('w-a', { state: 'draining', connected: false, running: [], labels: {} })];
  }
  async drainWorker(workerId: string, undrain: boolean): Promise<{ state: string }> {
    if (workerId !== 'w-a') throw new NotFoundError(`x: not-found: no worker ${workerId}`, { code: 'not-found', retryable: false });
    return { state: undrain ? 'active' : 'draining' };
  }
  close(): void {
    this.closed = true;
  }
}

function summaryOf(run: RunView, state: RunView['state'], counts: Partial<RunCounts>): RunSummary {
  return { degraded: false, runId: run.runId, name: run.name, state, submittedAtMs: run.submittedAtMs, finishedAtMs: state === 'running' ? 0 : run.finishedAtMs, counts: { ...run.counts, queued: 0, running: 0, passed: 0, failed: 0, cancelled: 0, failedInfra: 0, ...counts } };
}

function envFor(client: FakeClient, extra: Partial<RunCommandsEnv> = {}): RunCommandsEnv {
  return { createClient: () => client as unknown as RunsClient, isTTY: () => false, now: () => T0 + 90_000, progressIntervalMs: 0, ...extra };
}

async function specDir(yaml: string): Promise<string> {
  const dir = await tempDir();
  await writeFile(join(dir, 'testudo.yaml'), yaml);
  return dir;
}

const GOOD_SPEC = 'name: demo\nsuites:\n  - {name: unit, command: "echo hi", shards: 2}\n';

// ------------------------------------------------------------------ testudo run

describe('testudo run: spec and connection errors', () => {
  it('a spec error prints file:line messages on stderr and exits 2', async () => {
    const dir = await specDir('name: demo\nsuites:\n  - name: unit\n    command: echo\n    shards: three\n    colour: blue\n');
    const { code, out, err } = await cli(['run', join(dir, 'testudo.yaml'), '--coordinators', '127.0.0.1:1']);
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toMatch(/testudo\.yaml:5:\d+: suites\[0\]\.shards/);
    expect(err).toMatch(/testudo\.yaml:6:\d+: .*colour/);
  });

  it('a missing spec file exits 2', async () => {
    const dir = await tempDir();
    const { code, err } = await cli(['run', '-f', join(dir, 'nope.yaml')]);
    expect(code).toBe(2);
    expect(err).toContain('spec file not found');
  });

  it('the spec given both as the path and -f is a usage error', async () => {
    const dir = await specDir(GOOD_SPEC);
    const { code, err } = await cli(['run', dir, '-f', dir]);
    expect(code).toBe(2);
    expect(err).toContain('give the spec once');
  });

  it('a cluster nobody listens on exits 3, naming the address, and with the old --timeout-ms a deprecation note', async () => {
    const dir = await specDir(GOOD_SPEC);
    const port = await freePort();
    const { code, out, err } = await cli(['run', dir, '--coordinators', `127.0.0.1:${port}`, '--timeout-ms', '1500', '--report-dir', join(dir, 'r')]);
    expect(code).toBe(3);
    expect(out).toBe('');
    expect(err).toContain('--timeout-ms is deprecated; use --wait');
    expect(err).toContain(`cannot reach the Testudo cluster: no coordinator answered at 127.0.0.1:${port} within 1.5 s`);
    expect(err).not.toMatch(/[A-Za-z]+Error\b/);
  }, 30_000);

  it('bad --coordinators and --wait are usage errors', async () => {
    const dir = await specDir(GOOD_SPEC);
    expect((await cli(['run', dir, '--coordinators', 'nope'])).code).toBe(2);
    expect((await cli(['run', dir, '--coordinators', '127.0.0.1:1', '--wait', '0'])).code).toBe(2);
    expect((await cli(['run', dir, '--coordinators', ' , '])).code).toBe(2);
    expect((await cli(['run', dir, '--coordinators', '127.0.0.1:1', '--endpoints', '127.0.0.1:2'])).code).toBe(2);
  });

  it('coordinatorsOf: --coordinators, then --endpoints, then TESTUDO_COORDINATORS, then TESTUDO_ENDPOINTS, then the local defaults', () => {
    const notes: string[] = [];
    const warn = (t: string): void => void notes.push(t);
    expect(coordinatorsOf({ coordinators: 'a:1, b:2' }, {}, warn)).toEqual({ endpoints: ['a:1', 'b:2'], localDefault: false });
    expect(coordinatorsOf({ endpoints: 'c:3' }, {}, warn)).toEqual({ endpoints: ['c:3'], localDefault: false });
    expect(coordinatorsOf({}, { TESTUDO_COORDINATORS: 'e:5', TESTUDO_ENDPOINTS: 'd:4' }, warn).endpoints).toEqual(['e:5']);
    expect(coordinatorsOf({}, { TESTUDO_ENDPOINTS: 'd:4' }, warn).endpoints).toEqual(['d:4']);
    expect(coordinatorsOf({}, {}, warn)).toEqual({ endpoints: ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003'], localDefault: true });
    expect(coordinatorsOf({ coordinators: '[::1]:7001' }, {}, warn).endpoints).toEqual(['[::1]:7001']);
    expect(notes).toEqual([
      'testudo: --endpoints is deprecated; use --coordinators (the old spelling still works for now)\n',
      'testudo: TESTUDO_ENDPOINTS is deprecated; use TESTUDO_COORDINATORS (the old spelling still works for now)\n',
    ]);
  });
});

describe('testudo run: following a run (fake client)', () => {
  it('a failed run: progress and warnings on stderr, summary on stdout, reports, exit 1', async () => {
    const run = failedRun();
    const client = new FakeClient([summaryOf(run, 'running', { queued: 4 }), summaryOf(run, 'running', { running: 2, passed: 1, queued: 1 }), { ...run }], run);
    const dir = await specDir('name: demo\nsuites:\n  - {name: unit, command: "echo hi", files: "*.js", shards: 3}\n');
    await writeFile(join(dir, 'a.js'), '');
    const reportDir = join(dir, 'reports');
    const { code, out, err } = await cli(['run', dir, '--report-dir', reportDir, '--run-id', 'r-1', '--name', 'nightly'], envFor(client));
    expect(code).toBe(1);
    expect(err).toMatch(/^warning: .*shards: 3 shards but only 1 file match/m);
    expect(err).toContain('submitted run r-1 "nightly": 4 tasks');
    expect(err).toContain('progress: 0/4 tasks done (passed 0, failed 0, infra 0, cancelled 0), running 0, queued 4\n');
    expect(err).toContain('progress: 4/4 tasks done (passed 2, failed 1, infra 1, cancelled 0), running 0, queued 0\n');
    expect(out).toMatch(/^run r-1 \(demo\): failed\n/);
    expect(out).not.toMatch(/progress:|warning:|submitted/);
    expect(out).toContain('tests:    5 total');
    expect(out).toContain('tasks:    4 total, 2 passed, 1 failed, 1 infra, 0 cancelled');
    expect(out).toContain('duration: 1m23s');
    expect(out).toMatch(/failed tests \(2\):\n {2}✗ e2e\[locale=fr\] {2}math::sub: expected 1 got 2/);
    expect(out).toMatch(/flaky tests \(1\):\n {2}~ unit {2}math::flaky add \(passed after 2 attempts, flaky in 25% of recent runs\)/);
    expect(out).toContain(`junit     ${join(reportDir, 'testudo-report.xml')}`);
    const json = JSON.parse(await readFile(join(reportDir, 'testudo-report.json'), 'utf8')) as { runId: string; state: string };
    expect(json).toMatchObject({ runId: 'r-1', state: 'failed' });
    expect(client.calls).toEqual(['submit r-1', 'watch r-1', 'get r-1']);
    expect(client.closed).toBe(true);
  });

  it('a passed run exits 0; --json prints exactly one JSON document on stdout; --no-progress prints no progress', async () => {
    const run = runView('passed', [task('t-1', template('unit'), 'passed', [attempt('t-1', 1, 'w-a', 'passed', { tests: [testCase('add', 'passed')] })])]);
    const client = new FakeClient([summaryOf(run, 'running', { running: 1 }), { ...run }], run);
    const dir = await specDir(GOOD_SPEC);
    const { code, out, err } = await cli(['run', dir, '--report-dir', join(dir, 'out'), '--json', '--no-progress'], envFor(client));
    expect(code).toBe(0);
    expect(err).not.toContain('progress:');
    expect(JSON.parse(out)).toMatchObject({ schemaVersion: 1, runId: 'r-1', state: 'passed', totals: { tests: 1, passed: 1 } });
  });

  it('--suite, --exclude-suite and --set shape the submission; a bad name or key exits 2 naming it', async () => {
    const spec = 'name: demo\nsuites:\n  - {name: unit, command: "echo u"}\n  - {name: e2e, command: "echo e", retries: 1}\n  - {name: lint, command: "echo l"}\n';
    const run = runView('passed', [task('t-1', template('unit'), 'passed', [attempt('t-1', 1, 'w-a', 'passed', { tests: [testCase('add', 'passed')] })])]);
    const client = new FakeClient([{ ...run }], run);
    const dir = await specDir(spec);
    const ok = await cli(['run', dir, '--report-dir', join(dir, 'out'), '--suite', 'unit', '--suite', 'e2e', '--exclude-suite', 'unit', '--set', 'suites.e2e.retries=3', '--set', 'name=picked', '--set', 'env.MODE=ci'], envFor(client));
    expect(ok.code).toBe(0);
    expect(client.submitted?.name).toBe('picked');
    expect(client.submitted?.tasks.map((t) => [t.suite, t.retries, t.env.MODE])).toEqual([['e2e', 3, 'ci']]);
    const bad = [
      { args: ['--suite', 'unti'], says: ['--suite "unti"', 'did you mean "unit"', 'suites: unit, e2e, lint'] },
      { args: ['--exclude-suite', 'nope'], says: ['--exclude-suite "nope"'] },
      { args: ['--suite', 'unit', '--exclude-suite', 'unit'], says: ['leave no suite'] },
      { args: ['--set', 'retires=2'], says: ['--set "retires"', 'unknown key', 'did you mean "retries"'] },
      { args: ['--set', 'suites.nope.retries=2'], says: ['no suite "nope"'] },
      { args: ['--set', 'retries=99'], says: ['--set retries must be an integer from 0 to 10', '"99"'] },
      { args: ['--set', 'noequals'], says: ['is not key=value'] },
    ];
    for (const c of bad) {
      const r = await cli(['run', dir, '--coordinators', '127.0.0.1:1', ...c.args], envFor(client));
      expect(r.code, c.args.join(' ')).toBe(2);
      expect(r.out).toBe('');
      for (const text of c.says) expect(r.err, c.args.join(' ')).toContain(text);
    }
  });

  it('in GitHub Actions, failures become ::error annotations on stderr and --step-summary appends the Markdown', async () => {
    const run = failedRun();
    const client = new FakeClient([{ ...run }], run);
    const dir = await specDir(GOOD_SPEC);
    const summaryFile = join(dir, 'step-summary.md');
    await writeFile(summaryFile, '# before\n');
    const vars = { GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: summaryFile };
    const { code, out, err } = await cli(['run', dir, '--report-dir', join(dir, 'out'), '--step-summary'], envFor(client, { vars }));
    expect(code).toBe(1);
    expect(out).not.toContain('::error');
    expect(err).toContain('\n::error file=math.test.js,title=e2e[locale=fr]%3A sub::expected 1%0Agot 2\n');
    expect(err).toContain('\n::error title=db%3A t-4 (shard 1/1)::infrastructure failure after 2 attempts\n');
    const summary = await readFile(summaryFile, 'utf8');
    expect(summary.startsWith('# before\n## Testudo run demo: FAILED')).toBe(true);
    const noFile = await cli(['run', dir, '--step-summary'], envFor(client, { vars: {} }));
    expect(noFile.code).toBe(2);
    expect(noFile.err).toContain('--step-summary needs GITHUB_STEP_SUMMARY');
  });

  it('a cancelled run exits 1', async () => {
    const run = runView('cancelled', [task('t-1', template('unit'), 'cancelled', [], 'run cancelled')]);
    const client = new FakeClient([{ ...run }], run);
    const dir = await specDir(GOOD_SPEC);
    const { code, out } = await cli(['run', dir, '--report-dir', join(dir, 'out')], envFor(client));
    expect(code).toBe(1);
    expect(out).toContain('run r-1 (demo): cancelled');
  });

  it('the first Ctrl-C cancels the run and keeps watching to the end', async () => {
    const run = runView('cancelled', [task('t-1', template('unit'), 'cancelled', [], 'run cancelled')]);
    const client = new FakeClient([summaryOf(run, 'running', { running: 1 }), summaryOf(run, 'running', { running: 1 }), { ...run }], run);
    const signals = new EventEmitter();
    client.onWatchStep = async (i) => {
      if (i === 1) {
        signals.emit('SIGINT');
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    const dir = await specDir(GOOD_SPEC);
    const { code, err } = await cli(['run', dir, '--report-dir', join(dir, 'out')], envFor(client, { signals: signals as never, isTTY: () => true, columns: () => 100 }));
    expect(code).toBe(1);
    expect(client.calls).toContain('cancel r-1 cancelled from testudo run (Ctrl-C)');
    expect(err).toContain('cancelling run r-1 (Ctrl-C again to stop watching)');
    expect(err).toContain('running attempts cancelled; waiting for the run to end');
    expect(err.replaceAll('\r\x1b[K', '<CL>')).toMatch(/<CL>\[#+\] 1\/1 tasks {2}passed 0 failed 0 cancelled 1 running 0 queued 0 {2}00:00\n/);
    expect(client.calls.at(-1)).toBe('get r-1');
    expect(signals.listenerCount('SIGINT')).toBe(0);
  });

  it('a second Ctrl-C stops watching with exit 130; --no-progress still prints the notes', async () => {
    const run = runView('running', [task('t-1', template('unit'), 'running', [])]);
    const client = new FakeClient([summaryOf(run, 'running', { running: 1 })], run);
    const signals = new EventEmitter();
    const closed = new Promise<void>((resolve) => {
      client.close = (): void => {
        client.closed = true;
        resolve();
      };
    });
    client.onWatchStep = async () => {
      signals.emit('SIGINT');
      await new Promise((resolve) => setImmediate(resolve));
      signals.emit('SIGINT');
      await closed;
      throw new Error('the Testudo client is closed');
    };
    const dir = await specDir(GOOD_SPEC);
    const { code, err } = await cli(['run', dir, '--no-progress'], envFor(client, { signals: signals as never }));
    expect(code).toBe(130);
    expect(err).toContain('cancelling run r-1 (Ctrl-C again to stop watching)…\n');
    expect(err).toContain('stopped watching run r-1; its cancellation goes on');
    expect(client.calls).toEqual(['submit ', 'watch r-1', 'cancel r-1 cancelled from testudo run (Ctrl-C)']);
    expect(signals.listenerCount('SIGINT')).toBe(0);
  });

  it('an unreachable cluster at submit time exits 3 without watching', async () => {
    const run = failedRun();
    const client = new FakeClient([], run);
    client.submitError = new UnavailableError('127.0.0.1:9: UNAVAILABLE: No connection established', { code: 'UNAVAILABLE', retryable: true });
    const dir = await specDir(GOOD_SPEC);
    const { code, err } = await cli(['run', dir, '--coordinators', '127.0.0.1:9'], envFor(client));
    expect(code).toBe(3);
    expect(err).toContain('no coordinator answered at 127.0.0.1:9');
    expect(client.calls).toEqual(['submit ']);
  });
});

// ------------------------------------------------------------------ runs / workers commands

describe('testudo runs / workers (fake client)', () => {
  it('runs show of an unknown run says so on stderr and exits 1', async () => {
    const client = new FakeClient([], failedRun());
    const { code, out, err } = await cli(['runs', 'show', 'r-nope'], envFor(client));
    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err).toBe('testudo: no run r-nope\n');
  });

  it('runs show, list, cancel, report', async () => {
    const client = new FakeClient([], failedRun());
    const show = await cli(['runs', 'show', 'r-1', '--explain'], envFor(client));
    expect(show.code).toBe(0);
    expect(show.out).toContain('attempt 2 t-4-a2  worker w-b  infra-error exit 1  infra timeout');
    expect(JSON.parse((await cli(['runs', 'show', 'r-1', '--json'], envFor(client))).out)).toMatchObject({ runId: 'r-1', tasks: [{ taskId: 't-1' }, {}, {}, {}] });
    expect((await cli(['runs', 'list'], envFor(client))).out).toMatch(/^RUN +NAME +STATE/);
    const cancel = await cli(['runs', 'cancel', 'r-1', '--reason', 'enough'], envFor(client));
    expect(cancel.out).toBe('run r-1: cancelled (2 running attempts cancelled)\n');
    expect(client.calls).toContain('cancel r-1 enough');
    const dir = await tempDir();
    const report = await cli(['runs', 'report', 'r-1', '--report-dir', dir], envFor(client));
    expect(report.code).toBe(0);
    expect(report.out).toContain(join(dir, 'testudo-report.html'));
    expect(await readFile(join(dir, 'testudo-report.xml'), 'utf8')).toContain('<testsuites');
    expect(report.out).toContain(`ctrf      ${join(dir, 'testudo-report.ctrf.json')}`);
    // --junit-classname: the runner's own class, or the test's file, for every case.
    expect((await cli(['runs', 'report', 'r-1', '--report-dir', dir, '--junit-classname', 'runner'], envFor(client))).code).toBe(0);
    expect(await readFile(join(dir, 'testudo-report.xml'), 'utf8')).toMatch(/<testcase classname="math" /);
    expect((await cli(['runs', 'report', 'r-1', '--report-dir', dir, '--junit-classname', 'file'], envFor(client))).code).toBe(0);
    const byFile = await readFile(join(dir, 'testudo-report.xml'), 'utf8');
    expect(byFile).toMatch(/<testcase classname="math\.test\.js" /);
    expect(byFile).not.toMatch(/<testcase classname="math" /);
    const bad = await cli(['runs', 'report', 'r-1', '--report-dir', dir, '--junit-classname', 'bogus'], envFor(client));
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--junit-classname must be one of auto, file, suite, runner, got "bogus"');
  });

  it('runs report refuses a running run', async () => {
    const client = new FakeClient([], runView('running', [task('t-1', template('unit'), 'running', [attempt('t-1', 1, 'w-a', 'running')])]));
    const { code, err } = await cli(['runs', 'report', 'r-1', '--report-dir', await tempDir()], envFor(client));
    expect(code).toBe(1);
    expect(err).toContain('still running');
  });

  it('workers list and drain', async () => {
    const client = new FakeClient([], failedRun());
    const list = await cli(['workers', 'list'], envFor(client));
    expect(list.out.split('\n')[1]).toMatch(/^w-a +host-w-a +draining +no +closed +full +0\/4 +- +8 +16\.0G$/);
    expect((await cli(['workers', 'drain', 'w-a'], envFor(client))).out).toBe('worker w-a: draining\n');
    expect((await cli(['workers', 'drain', 'w-a', '--undrain'], envFor(client))).out).toBe('worker w-a: active\n');
    const missing = await cli(['workers', 'drain', 'w-zzz'], envFor(client));
    expect(missing).toEqual({ code: 1, out: '', err: 'testudo: no worker w-zzz\n' });
  });
});

// ------------------------------------------------------------------ pure formatters

describe('formatters', () => {
  it('formatRunView: header and one row per task', () => {
    const text = formatRunView(failedRun(), { explain: false, nowMs: T0 + 90_000 });
    const lines = text.split('\n');
    expect(lines[0]).toBe('run r-1  demo');
    expect(lines[1]).toBe('state: failed');
    expect(lines[2]).toBe('submitted: 2026-01-02T03:04:05.000Z  finished: 2026-01-02T03:05:28.000Z  duration: 1m23s');
    expect(lines[3]).toBe('tasks: 4/4 done  passed 2, failed 1, infra 1, cancelled 0, running 0, queued 0');
    expect(lines[5]).toMatch(/^TASK +SUITE +SHARD +STATE +ATTEMPTS +WORKERS +DURATION +REASON$/);
    expect(lines[6]).toMatch(/^t-1 +unit +1\/2 +passed +1 +w-a +4\.5s$/);
    expect(lines[7]).toMatch(/^t-2 +unit +2\/2 +passed +2 +w-a,w-b +4\.5s$/);
    expect(lines[8]).toMatch(/^t-3 +e2e\[locale=fr\] +1\/1 +failed +1 +w-b +4\.5s$/);
    expect(lines[9]).toMatch(/^t-4 +db +1\/1 +failed-infra +2 +w-a,w-b +4\.5s +infrastructure failure after 2 attempts$/);
    expect(lines).toHaveLength(11);
  });

  it('formatRunView --explain: each attempt under its task', () => {
    const text = formatRunView(failedRun(), { explain: true, nowMs: T0 });
    const lines = text.split('\n');
    const t4 = lines.findIndex((l) => l.startsWith('t-4 '));
    expect(lines[t4 + 1]).toBe('    attempt 1 t-4-a1  worker w-a  lost  infra lost-worker  -  worker w-a lost');
    expect(lines[t4 + 2]).toBe('    attempt 2 t-4-a2  worker w-b  infra-error exit 1  infra timeout  4.5s  timed out after 60 s');
    const t2 = lines.findIndex((l) => l.startsWith('t-2 '));
    expect(lines[t2 + 1]).toBe('    attempt 1 t-2-a1  worker w-a  failed exit 1  infra -  4.5s');
    expect(lines[t2 + 2]).toBe('    attempt 2 t-2-a2  worker w-b  passed exit 0  infra -  4.5s');
  });

  it('formatAttemptLine: spawn retries in place are counted on the attempt line', () => {
    const base = attempt('t-9', 1, 'w-a', 'passed');
    const once = { ...base, result: { ...base.result!, spawnRetries: 1 } };
    const twice = { ...base, result: { ...base.result!, spawnRetries: 2 } };
    expect(formatAttemptLine(once, T0)).toBe('    attempt 1 t-9-a1  worker w-a  passed exit 0  infra -  4.5s  (1 spawn retry in place)');
    expect(formatAttemptLine(twice, T0)).toMatch(/ {2}\(2 spawn retries in place\)$/);
    expect(formatAttemptLine(base, T0)).not.toContain('spawn retr');
  });

  it('formatRunView: a running task, late results, no tasks', () => {
    const running = runView('running', [
      task('t-1', template('unit'), 'running', [{ ...attempt('t-1', 1, 'w-a', 'running'), lateResults: 1 }]),
      task('t-2', template('unit'), 'queued', []),
    ]);
    const text = formatRunView(running, { explain: true, nowMs: T0 + 10_000 + 65_000 });
    expect(text).toContain('duration: 1m15s (running)');
    expect(text).toMatch(/\nt-1 +unit +1\/1 +running +1 +w-a +1m05s\n {4}attempt 1 t-1-a1 {2}worker w-a {2}running {2}infra - {2}1m05s \(1 late result ignored\)\n/);
    expect(text).toMatch(/\nt-2 +unit +1\/1 +queued +0 +- +-\n {4}\(no attempts yet\)\n$/);
    expect(formatRunView(runView('passed', []), { explain: false, nowMs: T0 })).toMatch(/\n\nno tasks\n$/);
  });

  it('formatRunView --explain: a hedged task marks its hedge and tells why the straggler stopped', () => {
    const hedged = runView('passed', [
      task('t-1', template('unit'), 'passed', [
        attempt('t-1', 1, 'w-a', 'cancelled', { reason: 'superseded: attempt 2 ended passed first', lateResults: 1 }),
        { ...attempt('t-1', 2, 'w-b', 'passed'), hedge: true },
      ]),
    ]);
    const lines = formatRunView(hedged, { explain: true, nowMs: T0 + 60_000 }).split('\n');
    const t1 = lines.findIndex((l) => l.startsWith('t-1 '));
    expect(lines[t1 + 1]).toBe('    attempt 1 t-1-a1  worker w-a  cancelled  infra cancelled  -  superseded: attempt 2 ended passed first (1 late result ignored)');
    expect(lines[t1 + 2]).toBe('    attempt 2 t-1-a2 (hedge)  worker w-b  passed exit 0  infra -  4.5s');
    // A hedge that says why it was started prints it under its line.
    const why = runView('passed', [
      task('t-1', template('unit'), 'passed', [
        attempt('t-1', 1, 'w-a', 'cancelled', { reason: 'superseded: attempt 2 ended passed first' }),
        { ...attempt('t-1', 2, 'w-b', 'passed'), hedge: true, hedgedBecause: 'attempt 1 had run 2300 ms of an expected 1000 ms' },
      ]),
    ]);
    const whyLines = formatRunView(why, { explain: true, nowMs: T0 + 60_000 }).split('\n');
    const at = whyLines.findIndex((l) => l.startsWith('t-1 '));
    expect(whyLines[at + 3]).toBe('      hedged because attempt 1 had run 2300 ms of an expected 1000 ms');
  });

  it('formatWorkersTable: sorted by id, slots used/total, labels, memory', () => {
    const text = formatWorkersTable([
      worker('w-2', { memoryMb: 512, labels: { region: 'eu', os: 'linux' }, service: 'one-at-a-time' }),
      worker('w-1', { state: 'lost', connected: false, running: [], service: 'out' }),
    ]);
    expect(text.split('\n')).toEqual([
      'WORKER  NAME      STATE   CONNECTED  BREAKER  SERVICE        SLOTS  LABELS              CPUS  MEMORY',
      'w-1     host-w-1  lost    no         closed   out            0/4    arch=x64,os=linux   8     16.0G',
      'w-2     host-w-2  active  yes        closed   one-at-a-time  2/4    os=linux,region=eu  8     512M',
      '',
    ]);
    expect(formatWorkersTable([])).toBe('no workers\n');
  });

  it('formatRunsTable: newest first, running durations marked', () => {
    const older = { ...failedRun(), runId: 'r-old' };
    const newer: RunSummary = { ...summaryOf(older, 'running', { passed: 1, running: 1, queued: 2 }), runId: 'r-new', submittedAtMs: T0 + 1000 };
    const lines = formatRunsTable([older, newer], T0 + 61_000).split('\n');
    expect(lines[0]).toMatch(/^RUN +NAME +STATE +TASKS +PASSED +FAILED +SUBMITTED +DURATION$/);
    expect(lines[1]).toMatch(/^r-new +demo +running +1\/4 +1 +0 +2026-01-02T03:04:06\.000Z +1m00s\+$/);
    expect(lines[2]).toMatch(/^r-old +demo +failed +4\/4 +2 +2 +2026-01-02T03:04:05\.000Z +1m23s$/);
    expect(formatRunsTable([], 0)).toBe('no runs\n');
  });

  it('formatRunReport: at most 20 failed tests, then a count', () => {
    const tests = Array.from({ length: 25 }, (_, i) => testCase(`t${String(i).padStart(2, '0')}`, 'failed', 'boom'));
    const run = runView('failed', [task('t-1', template('unit'), 'failed', [attempt('t-1', 1, 'w-a', 'failed', { tests })])]);
    const text = formatRunReport(buildSummary(run, mergeRun(run)), null);
    expect(text.match(/^ {2}✗ /gm)).toHaveLength(20);
    expect(text).toContain('  … and 5 more (see the reports)');
    expect(text).not.toContain('reports:');
  });

  it('formatDuration', () => {
    expect(formatDuration(850)).toBe('850ms');
    expect(formatDuration(12_345)).toBe('12.3s');
    expect(formatDuration(245_000)).toBe('4m05s');
    expect(formatDuration(3_723_000)).toBe('1h02m03s');
    expect(formatDuration(-1)).toBe('-');
  });
});

describe('parseBreakerSettings', () => {
  it('reads numbers and the window, and refuses anything else', () => {
    expect(parseBreakerSettings('openBaseMs=500, minimumCalls=10,window=count:50')).toEqual({ openBaseMs: 500, minimumCalls: 10, window: { kind: 'count', size: 50 } });
    expect(parseBreakerSettings('window=time:60000')).toEqual({ window: { kind: 'time', windowMs: 60000 } });
    expect(() => parseBreakerSettings('openBaseMs')).toThrow(/not key=value/);
    expect(() => parseBreakerSettings('openBaseMs=soon')).toThrow(/must be a number/);
    expect(() => parseBreakerSettings('window=5')).toThrow(/count:N or time:MS/);
    expect(parseBreakerSettings('adaptiveRecovery=false')).toEqual({ adaptiveRecovery: false });
    expect(() => parseBreakerSettings('adaptiveRecovery=no')).toThrow(/true or false/);
  });
});
