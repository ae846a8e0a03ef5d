import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatchTracePhases } from '../../src/bench/dispatch-trace.js';
import { runScheduleBench, type ScheduleBenchResult } from '../../src/bench/schedule.js';

// `testudo bench schedule` on a real local cluster (3 coordinators, no-op
// workers), small: what its figures rest on, not how fast they are.
describe('bench schedule', () => {
  let dir: string;
  let result: ScheduleBenchResult;
  const lines: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'testudo-bench-schedule-test-'));
    result = await runScheduleBench({ tasks: 300, workers: 2, slots: 4, seed: 1, idleRuns: 3, warmupTasks: 100, dataDir: dir, traceDir: join(dir, 'trace') }, (line) => lines.push(line));
  }, 120_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('times the big run only after every member archived the warm-up run (the path the coordinators write)', () => {
    const archived = lines.findIndex((line) => line.includes('warm-up run archived on every member'));
    const submitted = lines.findIndex((line) => line.includes('submitting 300 no-op tasks'));
    expect(archived, lines.join('\n')).toBeGreaterThan(-1);
    expect(submitted).toBeGreaterThan(archived);
  });

  it('starts the idle phase only after every member archived the timed run', () => {
    const timedArchived = lines.findIndex((line) => line.includes('timed run archived on every member'));
    const idle = lines.findIndex((line) => line.includes('idle phase: 3 single-task runs'));
    expect(timedArchived, lines.join('\n')).toBeGreaterThan(lines.findIndex((line) => line.includes('submitting 300 no-op tasks')));
    expect(idle).toBeGreaterThan(timedArchived);
  });

  it('reports the run: every task done once, idle dispatches measured, Raft entries per task from the leader', () => {
    expect(result.lostTasks).toBe(0);
    expect(result.tasks).toBe(300);
    expect(result.tasksPerSec).toBeGreaterThan(0);
    expect(result.dispatchP50Ms).toBeGreaterThanOrEqual(0);
    // The idle phase's 3 dispatches: the slowest bounds the p99, the phases are measured, the count over 10 ms is a count of them.
    expect(result.dispatchMaxMs).toBeGreaterThanOrEqual(result.dispatchP99Ms);
    expect(result.dispatchOver10Ms).toBeGreaterThanOrEqual(0);
    expect(result.dispatchOver10Ms).toBeLessThanOrEqual(result.idleRuns);
    expect(result.dispatchCommitP50Ms).toBeGreaterThanOrEqual(0);
    expect(Number.isFinite(result.dispatchPlanP99Ms)).toBe(true);
    // With 3 samples the p99 is the largest, so the phases' largest together cover the slowest dispatch.
    expect(result.dispatchPlanP99Ms + result.dispatchCommitP99Ms).toBeGreaterThanOrEqual(result.dispatchMaxMs);
    // Each task needs its assignment and its result committed, batched with others: more than none, fewer than a few entries each.
    expect(result.raftEntriesPerTask).toBeGreaterThan(0);
    expect(result.raftEntriesPerTask).toBeLessThan(3);
    // Terms counted across the warm-up (a count, whatever the machine's load made it).
    expect(Number.isSafeInteger(result.electionsDuringWarmup) && result.electionsDuringWarmup >= 0).toBe(true);
  });

  it('cuts each idle dispatch into phases from the traces of every process (--trace-dir)', async () => {
    // 3 coordinators and 2 workers each wrote a trace of their own.
    expect((await readdir(join(dir, 'trace'))).filter((name) => /^trace-\d+\.log$/.test(name))).toHaveLength(5);
    const trace = result.dispatchTrace!;
    expect(trace, lines.join('\n')).toBeDefined();
    expect(trace.matched + trace.unmatched).toBe(3);
    // A leader change during the idle phase would leave a dispatch unmatched; none is expected on a healthy cluster.
    expect(trace.matched, JSON.stringify(trace)).toBe(3);
    for (const phase of dispatchTracePhases) {
      const stats = trace.phasesMs[phase];
      expect(stats.p50, phase).toBeGreaterThanOrEqual(0);
      // Every phase lies within the dispatch: between the submit reaching the leader and the start (the run view's stamps are whole milliseconds, so one more at most).
      expect(stats.max, phase).toBeLessThanOrEqual(result.dispatchMaxMs + 1);
    }
    // A follower's synced save is never free, and the phases add up to the dispatch.
    expect(trace.phasesMs.followerSave.p50).toBeGreaterThan(0);
    expect(trace.phasesMs.total.max).toBeGreaterThan(trace.phasesMs.replicate.max);
  });
});
