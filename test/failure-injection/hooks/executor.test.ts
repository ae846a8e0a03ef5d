import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { CoordinatorChaosHooks } from '../../../src/coordinator/chaos-hooks.js';
import { createLogger } from '../../../src/coordinator/logger.js';
import { classify } from '../../../src/coordinator/recovery/index.js';
import { LevelDbStorage } from '../../../src/raft/storage/leveldb-storage.js';
import { EntryType } from '../../../src/raft/core/types.js';
import { faultDelayMsMax, faultDelayMsMin, WorkerChaosHooks, type WorkerChaosSettings } from '../../../src/worker/chaos-hooks.js';
import { killProcessGroup, runAttempt, type ExecutorOptions } from '../../../src/worker/executor.js';
import { template as baseTemplate } from '../../worker/helpers.js';

const silent = createLogger({ nodeId: 'hooks-test', level: 'silent', env: {} });
const defaults: WorkerChaosSettings = { spawnFailRate: 0, crashRate: 0, timeoutRate: 0, cpuShare: 1 };
const report = `printf '%s' '<testsuite name="s"><testcase classname="c" name="a"/></testsuite>' > "$TESTUDO_JUNIT"`;

/** The state letter in /proc/<pid>/stat ('S', 'R', 'T' for stopped, …), or null once the process is gone. */
function procState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

/** Samples `probe` every `everyMs` until it returns true, at most `samplesMax` times. */
async function sampleUntil(probe: () => boolean, samplesMax: number, everyMs = 5): Promise<boolean> {
  for (let i = 0; i < samplesMax; i++) {
    if (probe()) return true;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return false;
}


describe('worker chaos hooks in the executor', () => {
  let tmp: string;
  let checkout: string;
  const hooksMade: WorkerChaosHooks[] = [];

  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'testudo-hooks-exec-'));
    checkout = join(tmp, 'checkout');
    mkdirSync(checkout);
  });
  afterEach(() => {
    for (const h of hooksMade.splice(0)) h.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  function hooks(settings: Partial<WorkerChaosSettings>, seed = 7, signals?: [number, NodeJS.Signals][]): WorkerChaosHooks {
    // Records every SIGSTOP that reached a group and every SIGCONT tried (a group may be gone by then).
    const signalGroup = (pgid: number, signal: NodeJS.Signals): boolean => {
      const sent = killProcessGroup(pgid, signal);
      if (sent || signal === 'SIGCONT') signals?.push([pgid, signal]);
      return sent;
    };
    const h = new WorkerChaosHooks({ seed, logger: silent, signalGroup });
    h.replace({ ...defaults, ...settings });
    hooksMade.push(h);
    return h;
  }

  function attempt(command: string, h: WorkerChaosHooks, options: Partial<ExecutorOptions> = {}, attemptId = 'run1/task1/1') {
    return runAttempt(
      { attemptId, taskId: 'task1', runId: 'run1', workerId: 'w-1', attempt: 1, template: baseTemplate({ command, timeoutSec: 60 }), files: [], checkoutDir: checkout },
      { workDir: join(tmp, 'work'), killGraceMs: 200, chaos: () => h.planAttempt(attemptId), ...options },
    );
  }

  it('spawnFailRate 1 fails the attempt as a spawn error without starting the command', async () => {
    const marker = join(tmp, 'ran');
    const result = await attempt(`touch ${marker}; ${report}`, hooks({ spawnFailRate: 1 }));
    expect(result).toMatchObject({ outcome: 'infra-error', infraClass: 'spawn-error', exitCode: null, signal: '' });
    expect(result.reason).toMatch(/^cannot start \/bin\/sh -c: spawn failure injected by chaos hooks \(spawnFailRate 1\)/);
    expect(classify(result)).toBe('spawn-error');
    expect(existsSync(marker)).toBe(false);
  });

  describe('spawn retries in place', () => {
    it('a start that failed is tried again in the same attempt, which then runs and passes', async () => {
      const marker = join(tmp, 'ran');
      const h = hooks({ spawnFailRate: 1 });
      // The first start draws a spawn failure; from then on nothing is injected.
      const chaos = () => {
        const drawn = h.planAttempt('run1/task1/1');
        h.replace(defaults);
        return drawn;
      };
      const result = await attempt(`touch ${marker}; ${report}`, h, { chaos, spawnRetries: 2 });
      expect(result).toMatchObject({ outcome: 'passed', infraClass: '', spawnRetries: 1 });
      expect(existsSync(marker)).toBe(true);
    });

    it('gives up after spawnRetries more starts, says how often it tried, and never ran the command', async () => {
      const marker = join(tmp, 'ran');
      const result = await attempt(`touch ${marker}; ${report}`, hooks({ spawnFailRate: 1 }), { spawnRetries: 2 });
      expect(result).toMatchObject({ outcome: 'infra-error', infraClass: 'spawn-error', spawnRetries: 2 });
      expect(result.reason).toMatch(/\(started 3 times in place, 100, 200 ms apart\)$/);
      expect(result.finishedAtMs - result.startedAtMs).toBeGreaterThanOrEqual(300);
      expect(existsSync(marker)).toBe(false);
    });

    it('makes no retry without spawnRetries, and clamps what an order asks to spawnRetriesMax', async () => {
      const none = await attempt(report, hooks({ spawnFailRate: 1 }));
      expect(none).toMatchObject({ infraClass: 'spawn-error' });
      expect(none.spawnRetries).toBeUndefined();
      let starts = 0;
      const h = hooks({ spawnFailRate: 1 });
      const counted = () => {
        starts++;
        return h.planAttempt('run1/task1/1');
      };
      const clamped = await attempt(report, h, { chaos: counted, spawnRetries: -3 });
      expect(clamped.spawnRetries).toBeUndefined();
      expect(starts).toBe(1);
    });

    it('a cancel during the wait ends the attempt as cancelled, without starting the command', async () => {
      const marker = join(tmp, 'ran');
      const controller = new AbortController();
      const h = hooks({ spawnFailRate: 1 });
      const chaos = () => {
        const drawn = h.planAttempt('run1/task1/1');
        setTimeout(() => controller.abort(), 10);
        h.replace(defaults);
        return drawn;
      };
      const result = await attempt(`touch ${marker}; ${report}`, h, { chaos, spawnRetries: 5, signal: controller.signal });
      expect(result).toMatchObject({ outcome: 'infra-error', infraClass: 'cancelled', spawnRetries: 1 });
      expect(result.reason).toBe('cancelled before the command started');
      expect(existsSync(marker)).toBe(false);
    });
  });

  it('crashRate 1 kills the process group with SIGKILL: a crash by signal', async () => {
    let pid = 0;
    const result = await attempt(`sleep 30; ${report}`, hooks({ crashRate: 1 }), { onStarted: (p) => (pid = p) });
    expect(result).toMatchObject({ outcome: 'infra-error', infraClass: 'crash', signal: 'SIGKILL' });
    expect(result.reason).toMatch(/^killed by signal SIGKILL \(a crash injected by chaos hooks \d+ ms after the start\)$/);
    expect(classify(result)).toBe('crash');
    expect(pid).toBeGreaterThan(1);
    expect(procState(pid) === null || procState(pid) === 'Z').toBe(true);
  });

  it('timeoutRate 1 times the attempt out through the executor timeout: class timeout', async () => {
    const h = hooks({ timeoutRate: 1 });
    const result = await attempt(`sleep 30; ${report}`, h);
    expect(result).toMatchObject({ outcome: 'infra-error', infraClass: 'timeout' });
    const delay = Number(/^timed out after (\d+) ms \(a timeout injected by chaos hooks\); process group ended by SIGTERM$/.exec(result.reason)?.[1]);
    expect(delay).toBeGreaterThanOrEqual(faultDelayMsMin);
    expect(delay).toBeLessThanOrEqual(faultDelayMsMax);
    expect(classify(result)).toBe('timeout');
  });

  it('injects nothing with the default settings', async () => {
    const result = await attempt(report, hooks({}));
    expect(result).toMatchObject({ outcome: 'passed', infraClass: '' });
  });

  it('draws the same faults from the same seed, each at about its rate', () => {
    const settings = { spawnFailRate: 0.2, crashRate: 0.25, timeoutRate: 0.5 };
    const sequence = (seed: number): string[] => {
      const h = hooks(settings, seed);
      return Array.from({ length: 2000 }, (_, i) => h.planAttempt(`a${i}`).fault);
    };
    expect(sequence(42)).toEqual(sequence(42));
    expect(sequence(42)).not.toEqual(sequence(43));
    const counts = new Map<string, number>();
    for (const f of sequence(42)) counts.set(f, (counts.get(f) ?? 0) + 1);
    // Expected: spawn 400, crash 0.8×0.25 = 400, timeout 0.6×0.5 = 600 of 2000.
    expect(counts.get('spawn-error')).toBeGreaterThan(300);
    expect(counts.get('spawn-error')).toBeLessThan(500);
    expect(counts.get('crash')).toBeGreaterThan(300);
    expect(counts.get('crash')).toBeLessThan(500);
    expect(counts.get('timeout')).toBeGreaterThan(480);
    expect(counts.get('timeout')).toBeLessThan(720);
  });

  it('cpuShare < 1 stops and continues a running group, and a change of settings leaves it running', async () => {
    const signals: [number, NodeJS.Signals][] = [];
    const h = hooks({ cpuShare: 0.2 }, 7, signals);
    const pidFile = join(tmp, 'pid');
    const abort = new AbortController();
    let pid = 0;
    const done = attempt(`echo $$ > ${pidFile}; sleep 30; ${report}`, h, { signal: abort.signal, onStarted: (p) => (pid = p) });
    try {
      expect(await sampleUntil(() => pid > 0 && procState(pid) === 'T', 600)).toBe(true);
      expect(await sampleUntil(() => procState(pid) === 'S', 600)).toBe(true);
      h.replace(defaults);
      // SIGCONT wakes a stopped process when it is sent: from here on it never shows stopped.
      for (let i = 0; i < 100; i++) {
        expect(procState(pid)).not.toBe('T');
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    } finally {
      abort.abort();
    }
    const result = await done;
    expect(result.infraClass).toBe('cancelled');
    expect(signals.filter(([, s]) => s === 'SIGSTOP').length).toBeGreaterThan(0);
    expect(signals.at(-1)?.[1]).toBe('SIGCONT');
    expect(h.trackedGroups).toBe(0);
  });

  it('continues a stopped group when its attempt ends and on stop()', async () => {
    const signals: [number, NodeJS.Signals][] = [];
    const h = hooks({ cpuShare: 0.05 }, 7, signals);
    let pid = 0;
    const abort = new AbortController();
    const done = attempt(`sleep 30; ${report}`, h, { signal: abort.signal, onStarted: (p) => (pid = p) });
    try {
      expect(await sampleUntil(() => pid > 0 && procState(pid) === 'T', 600)).toBe(true);
      h.stop();
      expect(procState(pid)).not.toBe('T');
      for (let i = 0; i < 40; i++) {
        expect(procState(pid)).not.toBe('T');
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      // After stop() nothing more is injected.
      expect(h.planAttempt('later').fault).toBe('none');
    } finally {
      abort.abort();
    }
    await done;
    // Ended while running: every SIGSTOP was answered by a SIGCONT.
    const stops = signals.filter(([, s]) => s === 'SIGSTOP').length;
    const conts = signals.filter(([, s]) => s === 'SIGCONT').length;
    expect(conts).toBe(stops);
  });

  it('a synthetic test (chaos/workloads/synthetic-test.mjs) makes no progress while stopped, so a stop stretches its idle part', async () => {
    // A 600 ms test (60 ms of CPU, then 540 ms idle), stopped for 1 s as its idle part begins: it must still idle its
    // 540 ms afterwards. A program that merely slept (the first version) ends as soon as it is continued. The bound is a
    // lower one only: a loaded machine makes the test longer, never shorter. cpuShare's duty cycle is this stop, repeated.
    const dir = mkdtempSync(join(tmpdir(), 'testudo-synthetic-'));
    try {
      const program = join(process.cwd(), 'chaos/workloads/synthetic-test.mjs');
      const args = [program, '--first', '1', '--durations-ms', '600', '--busy-fraction', '0.1', '--junit', join(dir, 'report.xml')];
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, TESTUDO_SYNTHETIC_ANNOUNCE: '1' } });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      const idleFromMs = performance.now();
      child.kill('SIGSTOP');
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      // The stop as it really lasted (a busy event loop fires the timer late).
      const stoppedMs = performance.now() - idleFromMs;
      child.kill('SIGCONT');
      expect(await exited).toBe(0);
      const idleMs = performance.now() - idleFromMs;
      process.stderr.write(`synthetic test idle part of 540 ms, stopped for ${Math.round(stoppedMs)} ms: ${Math.round(idleMs)} ms\n`);
      // The stop, then 540 ms of idling (less one step counted across the stop and timer slack).
      expect(idleMs).toBeGreaterThanOrEqual(stoppedMs + 540 - 40);
      expect(existsSync(join(dir, 'report.xml'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lets a group cancelled while stopped end, and continues it', async () => {
    const signals: [number, NodeJS.Signals][] = [];
    // Stopped 95 ms of each 100: the cancel's SIGTERM waits for the next SIGCONT.
    const h = hooks({ cpuShare: 0.05 }, 7, signals);
    let pid = 0;
    const abort = new AbortController();
    const done = attempt(`sleep 30; ${report}`, h, { signal: abort.signal, onStarted: (p) => (pid = p) });
    expect(await sampleUntil(() => pid > 0 && procState(pid) === 'T', 600)).toBe(true);
    abort.abort();
    expect((await done).infraClass).toBe('cancelled');
    expect(h.trackedGroups).toBe(0);
    const stops = signals.filter(([, s]) => s === 'SIGSTOP').length;
    expect(signals.filter(([, s]) => s === 'SIGCONT').length).toBe(stops);
  });
});

describe('coordinator chaos hooks and the storage hook', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'testudo-hooks-ldb-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('returns no promise at delay 0, waits at least the delay otherwise, and ends waits on stop()', async () => {
    const chaos = new CoordinatorChaosHooks(silent);
    expect(chaos.beforeSyncedWrite()).toBeNull();
    chaos.replace({ fsyncDelayMs: 30 });
    const startMs = performance.now();
    await chaos.beforeSyncedWrite();
    expect(performance.now() - startMs).toBeGreaterThanOrEqual(30);
    chaos.replace({ fsyncDelayMs: 10_000 });
    const long = chaos.beforeSyncedWrite();
    expect(long).not.toBeNull();
    chaos.stop();
    await long;
    expect(chaos.beforeSyncedWrite()).toBeNull();
  });

  it('awaits beforeSyncedWrite before each synced save, and only synced ones', async () => {
    let calls = 0;
    let hold = false;
    let resume: () => void = () => undefined;
    const storage = await LevelDbStorage.open(join(dir, 'raft'), {
      nodeId: 'n1',
      bootstrapConfState: { voters: ['n1'], learners: [] },
      beforeSyncedWrite: () => {
        calls++;
        return hold ? new Promise<void>((resolve) => (resume = resolve)) : null;
      },
    });
    try {
      const last = storage.lastIndex();
      const entry = { index: last + 1, term: 1, type: EntryType.Normal, data: new Uint8Array([1]) };
      await storage.save({ hardState: { term: 1, vote: 'n1', commit: last }, entries: [entry], snapshot: null });
      expect(calls).toBe(1);
      // An unsynced save (commit moved) does not call it.
      await storage.save({ hardState: { term: 1, vote: 'n1', commit: last + 1 }, entries: [], snapshot: null }, { sync: false });
      expect(calls).toBe(1);
      // A returned promise holds the write back until it resolves.
      hold = true;
      let saved = false;
      const next = { ...entry, index: last + 2 };
      const saving = storage.save({ hardState: null, entries: [next], snapshot: null }).then(() => (saved = true));
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
      expect(calls).toBe(2);
      expect(saved).toBe(false);
      expect(storage.lastIndex()).toBe(last + 1);
      resume();
      await saving;
      expect(storage.lastIndex()).toBe(last + 2);
    } finally {
      await storage.close();
    }
  });
});
