import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runAttempt } from '../../src/worker/executor.js';
import { ProcessLauncher } from '../../src/worker/launcher.js';
import type { CapturedRunOptions } from '../../src/worker/process-group.js';
import { processGone, template, waitUntil, writeReport } from './helpers.js';

/** The parent pid of `pid`, from /proc. */
function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

describe('ProcessLauncher', () => {
  let tmp: string;
  let launcher: ProcessLauncher;
  const lost: string[] = [];

  beforeEach(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'testudo-launcher-'));
    lost.length = 0;
    launcher = new ProcessLauncher((text) => lost.push(text));
  });
  afterEach(() => {
    launcher.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  const options = (command: string, extra: Partial<CapturedRunOptions> = {}): CapturedRunOptions => ({
    command,
    cwd: tmp,
    env: { ...process.env, GREETING: 'hello' },
    timeoutMs: 0,
    killGraceMs: 200,
    logPath: path.join(tmp, 'output.log'),
    logBytesMax: 1 << 20,
    tailBytes: 64,
    ...extra,
  });

  it("runs the command in the launcher's child, not the caller's, with its env and cwd; captures both streams", async () => {
    let startedPid = 0;
    let parent = 0;
    let exitedSeen = false;
    const result = await launcher.run(
      options('echo "$GREETING from $(pwd)"; echo to-stderr >&2; sleep 0.2; exit 3', {
        onStarted: (pid) => {
          startedPid = pid;
          parent = parentOf(pid);
        },
        onExited: () => (exitedSeen = true),
      }),
    );
    expect(result.run).toMatchObject({ exitCode: 3, signal: '', started: true, timedOut: false, cancelled: false });
    expect(result.launcherLost).toBeUndefined();
    expect(startedPid).toBeGreaterThan(1);
    expect(parent).toBe(launcher.pid);
    expect(parent).not.toBe(process.pid);
    expect(exitedSeen).toBe(true);
    const log = readFileSync(path.join(tmp, 'output.log'), 'utf8');
    expect(log).toContain(`hello from ${tmp}`);
    expect(log).toContain('to-stderr');
    expect(result.output.logBytes).toBe(Buffer.byteLength(log));
    expect(result.output.tail).toBe(log.slice(-64));
    expect(launcher.starts).toBe(1);
  });

  it('runs several commands at once through one launcher', async () => {
    const results = await Promise.all(
      [1, 2, 3, 4].map((n) => launcher.run(options(`sleep 0.1; exit ${n}`, { logPath: path.join(tmp, `out${n}.log`) }))),
    );
    expect(results.map((r) => r.run.exitCode)).toEqual([1, 2, 3, 4]);
    expect(launcher.starts).toBe(1);
  });

  it('ends a command at its timeout and a cancelled one at the abort, killing the group', async () => {
    let timedPid = 0;
    const timed = await launcher.run(options('sleep 30 & sleep 30', { timeoutMs: 150, onStarted: (pid) => (timedPid = pid) }));
    expect(timed.run).toMatchObject({ timedOut: true, started: true });
    expect(await waitUntil(() => processGone(timedPid))).toBe(true);

    const abort = new AbortController();
    let cancelledPid = 0;
    const pending = launcher.run(
      options('sleep 30', {
        signal: abort.signal,
        onStarted: (pid) => {
          cancelledPid = pid;
          abort.abort();
        },
      }),
    );
    const cancelled = await pending;
    expect(cancelled.run).toMatchObject({ cancelled: true, started: true });
    expect(await waitUntil(() => processGone(cancelledPid))).toBe(true);

    const before = await launcher.run(options('true', { signal: AbortSignal.abort() }));
    expect(before.run).toMatchObject({ cancelled: true, started: false });
  });

  it('reports a command it cannot start as a spawn error', async () => {
    const result = await launcher.run(options('true', { cwd: path.join(tmp, 'missing') }));
    expect(result.run.started).toBe(false);
    expect(result.run.spawnError).toMatch(/ENOENT/);
  });

  it('a launcher killed under running commands ends their runs, kills their groups, and the next run starts a new one', async () => {
    const pids: number[] = [];
    const runs = [1, 2].map((n) => launcher.run(options('sleep 30', { logPath: path.join(tmp, `out${n}.log`), onStarted: (pid) => pids.push(pid) })));
    expect(await waitUntil(() => pids.length === 2)).toBe(true);
    const first = launcher.pid!;
    process.kill(first, 'SIGKILL');
    const results = await Promise.all(runs);
    for (const r of results) {
      expect(r.launcherLost).toMatch(/exited \(SIGKILL\)/);
      expect(r.run).toMatchObject({ started: true, signal: 'SIGKILL' });
    }
    for (const pid of pids) expect(await waitUntil(() => processGone(pid))).toBe(true);
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatch(/2 running commands/);

    const again = await launcher.run(options('exit 0'));
    expect(again.run.exitCode).toBe(0);
    expect(launcher.starts).toBe(2);
    expect(launcher.pid).not.toBe(first);
  });

  it('closes: the launcher exits, and a run after that is refused', async () => {
    await launcher.run(options('true'));
    const pid = launcher.pid!;
    launcher.close();
    expect(await waitUntil(() => processGone(pid))).toBe(true);
    const refused = await launcher.run(options('true'));
    expect(refused.run.spawnError).toBe('the worker is stopping');
    expect(lost).toEqual([]);
  });
});

describe('runAttempt through a launcher', () => {
  let tmp: string;
  let launcher: ProcessLauncher;

  beforeEach(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'testudo-launcher-attempt-'));
    mkdirSync(path.join(tmp, 'checkout'));
    launcher = new ProcessLauncher();
  });
  afterEach(() => {
    launcher.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  const request = (command: string) => ({
    attemptId: 'run1/task1/1',
    taskId: 'task1',
    runId: 'run1',
    workerId: 'w-1',
    attempt: 1,
    template: template({ command }),
    files: [],
    checkoutDir: path.join(tmp, 'checkout'),
  });

  it('gives the same result as a fork of the caller', async () => {
    const command = `echo out; ${writeReport('<testcase classname="c" name="a"/><testcase classname="c" name="b"><failure message="nope">stack</failure></testcase>')}`;
    const strip = (r: Awaited<ReturnType<typeof runAttempt>>) => ({ ...r, startedAtMs: 0, finishedAtMs: 0 });
    const direct = await runAttempt(request(command), { workDir: path.join(tmp, 'w1') });
    const launched = await runAttempt(request(command), { workDir: path.join(tmp, 'w2'), launcher });
    expect(strip(launched)).toEqual(strip(direct));
    expect(launched).toMatchObject({ outcome: 'failed', reason: '1 of 2 tests failed; exit code 0', outputTail: 'out\n' });
  });

  it('an attempt whose launcher dies under it is an infra error (crash) naming the launcher', async () => {
    let started = 0;
    const pending = runAttempt(request('sleep 30'), { workDir: path.join(tmp, 'w'), launcher, onStarted: (pid) => (started = pid) });
    expect(await waitUntil(() => started > 0)).toBe(true);
    process.kill(launcher.pid!, 'SIGKILL');
    const result = await pending;
    expect(result).toMatchObject({ outcome: 'infra-error', infraClass: 'crash' });
    expect(result.reason).toMatch(/^the process launcher \(pid \d+\) exited \(SIGKILL\) while the command ran; its process group was killed$/);
    expect(await waitUntil(() => processGone(started))).toBe(true);
  });
});
