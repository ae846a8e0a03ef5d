import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TaskTemplate } from '../../src/model/types.js';
import type { AttemptChaos } from '../../src/worker/chaos-hooks.js';
import {
  attemptDir,
  boundFailureText,
  runAttempt,
  sanitizeId,
  type AttemptPhases,
  type AttemptRequest,
  type ExecutorOptions,
} from '../../src/worker/executor.js';
import { junitReportReadInPlaceBytesMax } from '../../src/worker/limits.js';
import { processGone, template, waitUntil, writeReport } from './helpers.js';

/** A start that fails as spawn() would, the way the chaos hooks inject it: nothing runs. */
function chaosSpawnError(): AttemptChaos {
  return { fault: 'spawn-error', delayMs: 0, spawnError: 'injected', timeoutAfterMs: null, started: () => undefined, ended: () => undefined, crashed: () => false };
}

const pass2 = '<testcase classname="c" name="a" time="0.1"/><testcase classname="c" name="b" time="0.2"/>';
const oneFails = '<testcase classname="c" name="a"/><testcase classname="c" name="b"><failure message="nope">stack</failure></testcase>';

describe('runAttempt', () => {
  let tmp: string;
  let checkout: string;
  let workDir: string;

  beforeEach(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'testudo-exec-'));
    checkout = path.join(tmp, 'checkout');
    workDir = path.join(tmp, 'work');
    mkdirSync(checkout);
  });
  afterEach(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  function request(overrides: Partial<TaskTemplate>, extra: Partial<AttemptRequest> = {}): AttemptRequest {
    return {
      attemptId: 'run1/task1/1',
      taskId: 'task1',
      runId: 'run1',
      workerId: 'w-1',
      attempt: 1,
      template: template(overrides),
      files: [],
      checkoutDir: checkout,
      ...extra,
    };
  }
  const run = (overrides: Partial<TaskTemplate>, options: Partial<ExecutorOptions> = {}, extra: Partial<AttemptRequest> = {}) =>
    runAttempt(request(overrides, extra), { workDir, killGraceMs: 200, ...options });

  it('passes when the report has no failures and the command exits 0; logs both streams', async () => {
    let clock = 1000;
    let startedPid = 0;
    const result = await run(
      { command: `echo to-stdout; echo to-stderr >&2; ${writeReport(pass2)}` },
      { now: () => (clock += 5), onStarted: (pid) => (startedPid = pid) },
    );
    expect(result).toMatchObject({
      attemptId: 'run1/task1/1',
      taskId: 'task1',
      workerId: 'w-1',
      outcome: 'passed',
      infraClass: '',
      reason: '',
      exitCode: 0,
      signal: '',
      startedAtMs: 1005,
      finishedAtMs: 1010,
    });
    expect(startedPid).toBeGreaterThan(0);
    expect(result.tests.map((t) => [t.name, t.status, t.timeSec])).toEqual([
      ['a', 'passed', 0.1],
      ['b', 'passed', 0.2],
    ]);
    const dir = attemptDir(workDir, 'run1/task1/1');
    expect(dir).toBe(path.join(workDir, 'attempts', sanitizeId('run1/task1/1')));
    const log = readFileSync(path.join(dir, 'output.log'), 'utf8');
    expect(log).toContain('to-stdout\n');
    expect(log).toContain('to-stderr\n');
    expect(result.logBytes).toBe(statSync(path.join(dir, 'output.log')).size);
    expect(result.outputTail).toBe(log);
  });

  it('fails when a test fails', async () => {
    const result = await run({ command: `${writeReport(oneFails)}; exit 1` });
    expect(result).toMatchObject({ outcome: 'failed', infraClass: '', exitCode: 1, reason: '1 of 2 tests failed; exit code 1' });
    expect(result.tests[1]).toMatchObject({ status: 'failed', message: 'nope', details: 'stack' });
  });

  it('fails when the command exits non-zero though every test passed', async () => {
    const result = await run({ command: `${writeReport(pass2)}; exit 3` });
    expect(result).toMatchObject({ outcome: 'failed', infraClass: '', exitCode: 3, reason: 'exit code 3 with all 2 tests passing' });
  });

  it('is a missing report when the command exits 0 without one (a stale report is deleted first)', async () => {
    const dir = attemptDir(workDir, 'run1/task1/1');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'junit.xml'), `<testsuite>${pass2}</testsuite>`);
    const result = await run({ command: 'exit 0' });
    expect(result.outcome).toBe('infra-error');
    expect(result.infraClass).toBe('missing-report');
    expect(result.exitCode).toBe(0);
    expect(result.reason).toMatch(/^the command exited 0 but wrote no JUnit report at \$TESTUDO_JUNIT \(\/.*junit\.xml\)$/);
  });

  it('is a missing report with the exit code when the command fails without one', async () => {
    const result = await run({ command: 'exit 2' });
    expect(result).toMatchObject({ infraClass: 'missing-report', exitCode: 2 });
    expect(result.reason).toMatch(/^exit code 2 and no JUnit report/);
  });

  it('is a malformed report when the report is not XML', async () => {
    const result = await run({ command: `echo '<testsuite><testcase>' > "$TESTUDO_JUNIT"` });
    expect(result).toMatchObject({ outcome: 'infra-error', infraClass: 'malformed-report', exitCode: 0 });
    expect(result.reason).toMatch(/is not well-formed XML \(line \d+/);
    expect(result.tests).toEqual([]);
  });

  it('reads a report larger than it reads in place through the thread pool, to the same result', async () => {
    const cases = Array.from({ length: 6000 }, (_, i) => `<testcase classname="suite.big" name="case-${i}" time="0.001"/>`).join('');
    const big = path.join(tmp, 'big.xml');
    writeFileSync(big, `<testsuite>${cases}<testcase classname="suite.big" name="last"><failure message="late">x</failure></testcase></testsuite>`);
    expect(statSync(big).size).toBeGreaterThan(junitReportReadInPlaceBytesMax);
    const result = await run({ command: `cp '${big}' "$TESTUDO_JUNIT"; exit 1` });
    expect(result).toMatchObject({ outcome: 'failed', infraClass: '', exitCode: 1, reason: '1 of 6001 tests failed; exit code 1' });
    expect(result.tests[5999]).toMatchObject({ name: 'case-5999', status: 'passed' });
    expect(result.tests[6000]).toMatchObject({ name: 'last', status: 'failed', message: 'late' });
  });

  it('times out: SIGTERM to the whole group, background children included', async () => {
    // The sleeps outlast the test's own timeout: run() returning at all shows the timeout ended them.
    const result = await run({ command: 'sleep 600 & echo $! > bg.pid; sleep 600', timeoutSec: 1 });
    expect(result).toMatchObject({ outcome: 'infra-error', infraClass: 'timeout', signal: 'SIGTERM' });
    expect(result.reason).toMatch(/^timed out after 1 s/);
    const bg = Number(readFileSync(path.join(checkout, 'bg.pid'), 'utf8'));
    expect(await waitUntil(() => processGone(bg))).toBe(true);
  });

  it('times out: SIGKILL after the grace period when SIGTERM is ignored', async () => {
    // The loop never ends by itself: only the SIGKILL the result names can have ended it.
    const result = await run({ command: "trap '' TERM; while true; do sleep 0.05; done", timeoutSec: 0.5 });
    expect(result).toMatchObject({ infraClass: 'timeout', signal: 'SIGKILL' });
    expect(result.reason).toMatch(/SIGKILL after a 200 ms grace/);
  });

  it('leaves no member of the group alive after a normal exit', async () => {
    // The background sleep holds the output pipes past the test's own timeout: run() returning shows the group was killed.
    const result = await run({ command: `sleep 600 & echo $! > bg.pid; ${writeReport(pass2)}` });
    expect(result.outcome).toBe('passed');
    const bg = Number(readFileSync(path.join(checkout, 'bg.pid'), 'utf8'));
    expect(await waitUntil(() => processGone(bg))).toBe(true);
  });

  it('is a crash when a signal ends the command', async () => {
    const segv = await run({ command: `${writeReport(pass2)}; kill -SEGV $$` });
    expect(segv).toMatchObject({ outcome: 'infra-error', infraClass: 'crash', signal: 'SIGSEGV', exitCode: null });
    expect(segv.reason).toBe('killed by signal SIGSEGV');
    const kill9 = await run({ command: 'echo working; kill -9 $$' });
    expect(kill9).toMatchObject({ infraClass: 'crash', signal: 'SIGKILL' });
    expect(kill9.reason).toMatch(/^killed by signal SIGKILL \(not sent by the worker/);
  });

  it('is out-of-memory when a SIGKILL follows output about running out of memory', async () => {
    const result = await run({
      command: 'echo "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory" >&2; kill -9 $$',
    });
    expect(result).toMatchObject({ infraClass: 'out-of-memory', signal: 'SIGKILL' });
  });

  it('is out-of-memory when the shell reports an aborted command that ran out of heap, with no report', async () => {
    const result = await run({
      command: 'echo "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory" >&2; exit 134',
    });
    expect(result).toMatchObject({ infraClass: 'out-of-memory', exitCode: 134 });
    expect(result.reason).toMatch(/^exit code 134 \(the shell's code for a command killed by SIGABRT\)/);
  });

  it('is a crash, not out-of-memory, for a SIGSEGV whatever the output says', async () => {
    const result = await run({ command: 'echo "out of memory"; kill -SEGV $$' });
    expect(result).toMatchObject({ infraClass: 'crash', signal: 'SIGSEGV' });
  });

  it('times its phases: they add up to the attempt, the command phase holds the command', async () => {
    const seen: AttemptPhases[] = [];
    const before = performance.now();
    const result = await run({ command: `sleep 0.3; ${writeReport(pass2)}` }, { onPhases: (p) => seen.push(p) });
    const whole = performance.now() - before;
    expect(result.outcome).toBe('passed');
    expect(seen).toHaveLength(1);
    const p = seen[0]!;
    for (const ms of [p.prepareMs, p.spawnMs, p.commandMs, p.collectMs]) expect(ms).toBeGreaterThan(0);
    expect(p.commandMs).toBeGreaterThanOrEqual(300);
    const sum = p.prepareMs + p.spawnMs + p.commandMs + p.collectMs;
    // Inside the call, and covering the result's own stamps (whole ms: 1 each way).
    expect(sum).toBeLessThanOrEqual(whole);
    expect(sum).toBeGreaterThanOrEqual(result.finishedAtMs - result.startedAtMs - 2);
  });

  it('times nothing when the command never started', async () => {
    const seen: AttemptPhases[] = [];
    await run({ cwd: 'no/such/dir' }, { onPhases: (p) => seen.push(p) });
    await run({ command: 'true' }, { signal: AbortSignal.abort(), onPhases: (p) => seen.push(p) });
    await run({ command: 'true' }, { chaos: () => chaosSpawnError(), onPhases: (p) => seen.push(p) });
    expect(seen).toEqual([]);
  });

  it('is a spawn error when the working directory does not exist', async () => {
    const result = await run({ cwd: 'no/such/dir' });
    expect(result).toMatchObject({ outcome: 'infra-error', infraClass: 'spawn-error', exitCode: null });
    expect(result.reason).toBe(`working directory ${path.join(checkout, 'no/such/dir')} does not exist`);
  });

  it('is cancelled when the signal aborts, killing the group', async () => {
    const controller = new AbortController();
    // Neither the sleeps nor the task's timeout end before the test's own timeout: only the abort can.
    const result = await run(
      { command: 'sleep 600 & echo $! > bg.pid; sleep 600', timeoutSec: 600 },
      // Abort once the background child exists, so there is a group to kill beyond the shell.
      { signal: controller.signal, onStarted: () => void waitUntil(() => statSync(path.join(checkout, 'bg.pid'), { throwIfNoEntry: false }) !== undefined, 30_000).then(() => controller.abort()) },
    );
    expect(result).toMatchObject({ outcome: 'infra-error', infraClass: 'cancelled' });
    const bg = Number(readFileSync(path.join(checkout, 'bg.pid'), 'utf8'));
    expect(await waitUntil(() => processGone(bg))).toBe(true);

    const already = await run({ command: 'touch ran' }, { signal: AbortSignal.abort() });
    expect(already).toMatchObject({ infraClass: 'cancelled', reason: 'cancelled before the command started' });
    expect(() => statSync(path.join(checkout, 'ran'))).toThrow();
  });

  it('exports the attempt environment', async () => {
    mkdirSync(path.join(checkout, 'pkg'));
    const result = await run(
      {
        command: `env > env.txt; pwd > pwd.txt; ${writeReport(pass2)}`,
        cwd: 'pkg',
        shard: 2,
        shardCount: 4,
        matrix: { node: '20', 'browser-name': 'firefox', os_name: 'linux' },
        env: { CUSTOM: 'yes', node: 'overridden-by-matrix' },
      },
      {},
      { files: ['a.test.js', 'b.test.js'], attempt: 3 },
    );
    expect(result.outcome).toBe('passed');
    const env = new Map(
      readFileSync(path.join(checkout, 'pkg', 'env.txt'), 'utf8')
        .split('\n')
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as const),
    );
    expect(readFileSync(path.join(checkout, 'pkg', 'pwd.txt'), 'utf8').trim()).toBe(path.join(checkout, 'pkg'));
    expect(env.get('TESTUDO_JUNIT')).toBe(path.join(attemptDir(workDir, 'run1/task1/1'), 'junit.xml'));
    expect(env.get('TESTUDO_SHARD')).toBe('2/4');
    expect(env.get('TESTUDO_SHARD_INDEX')).toBe('2');
    expect(env.get('TESTUDO_SHARD_COUNT')).toBe('4');
    expect(env.get('TESTUDO_FILES')).toBe('a.test.js b.test.js');
    expect(env.get('TESTUDO_ATTEMPT')).toBe('3');
    expect(env.get('TESTUDO_RUN_ID')).toBe('run1');
    expect(env.get('TESTUDO_TASK_ID')).toBe('task1');
    expect(env.get('TESTUDO_CHECKOUT')).toBe(checkout);
    expect(env.get('TESTUDO_MATRIX_NODE')).toBe('20');
    expect(env.get('TESTUDO_MATRIX_BROWSER_NAME')).toBe('firefox');
    expect(env.get('node')).toBe('20');
    expect(env.get('os_name')).toBe('linux');
    expect(env.get('TESTUDO_MATRIX_OS_NAME')).toBe('linux');
    // 'browser-name' is passed too, but /bin/sh drops names that are not shell identifiers.
    expect(env.get('CUSTOM')).toBe('yes');
    expect(env.get('PATH')).toBe(process.env['PATH']);
  });

  it('keeps a bounded, UTF-8-safe output tail', async () => {
    const result = await run(
      { command: `i=0; while [ $i -lt 300 ]; do echo "ligne $i é€"; i=$((i+1)); done; ${writeReport(pass2)}` },
      { outputTailBytes: 100 },
    );
    expect(Buffer.byteLength(result.outputTail)).toBeLessThanOrEqual(100);
    expect(Buffer.byteLength(result.outputTail)).toBeGreaterThan(90);
    expect(result.outputTail).not.toContain('\uFFFD');
    expect(result.outputTail.endsWith('ligne 299 é€\n')).toBe(true);
  });

  it('caps the log on disk with a marker, the tail still showing the end', async () => {
    const result = await run(
      { command: `head -c 200000 /dev/zero | tr '\\0' 'x'; echo; echo the-end; ${writeReport(pass2)}` },
      { logBytesMax: 1000 },
    );
    const logFile = path.join(attemptDir(workDir, 'run1/task1/1'), 'output.log');
    const log = readFileSync(logFile, 'utf8');
    expect(log.startsWith('x'.repeat(1000))).toBe(true);
    expect(log.slice(1000)).toBe('\n…[log truncated at 1000 bytes]\n');
    expect(result.logBytes).toBe(statSync(logFile).size);
    expect(result.outputTail.endsWith('the-end\n')).toBe(true);
  });
});

describe('boundFailureText', () => {
  it('drops later failure details once the budget is spent', () => {
    const failing = (name: string) => ({
      classname: 'c', name, file: '', status: 'failed' as const, timeSec: 0,
      message: 'm'.repeat(600), type: '', details: 'd'.repeat(400),
    });
    const passing = { ...failing('p'), status: 'passed' as const, message: '', details: '' };
    const out = boundFailureText([failing('a'), passing, failing('b'), failing('c')], 2500);
    expect(out[0]).toEqual(failing('a'));
    expect(out[1]).toEqual(passing);
    expect(out[2]).toEqual(failing('b'));
    expect(out[3]!.details).toBe('…[truncated]');
    expect(Buffer.byteLength(out[3]!.message)).toBeLessThanOrEqual(256);
  });
});

describe('sanitizeId', () => {
  it('keeps safe ids and makes others distinct safe names', () => {
    expect(sanitizeId('a-1.b_c')).toBe('a-1.b_c');
    expect(sanitizeId('a/b')).toMatch(/^a_b-[0-9a-f]{12}$/);
    expect(sanitizeId('a/b')).not.toBe(sanitizeId('a_b'));
    expect(sanitizeId('..')).not.toContain('/');
    expect(sanitizeId('..').startsWith('.')).toBe(false);
  });
});
