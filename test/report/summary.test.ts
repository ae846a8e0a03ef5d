import { describe, expect, it } from 'vitest';
import type {
  RunView,
} from '../../src/model/types.js';
import { attempt, runView, task, tc } from './fixtures.js';
import { mergeRun } from '../../src/report/merge.js';
import { buildSummary, durationStats, nearestRank, type RunReportJson } from '../../src/report/summary.js';


function summarize(run: RunView): RunReportJson {
  return buildSummary(run, mergeRun(run));
}

describe('nearest-rank percentiles', () => {
  it('handles empty input', () => {
    expect(nearestRank([], 50)).toBeUndefined();
    expect(durationStats([])).toEqual({ count: 0, minSec: null, p50Sec: null, p90Sec: null, p99Sec: null, maxSec: null, meanSec: null });
  });

  it('uses the only value for every percentile of one value', () => {
    expect(durationStats([3.5])).toEqual({ count: 1, minSec: 3.5, p50Sec: 3.5, p90Sec: 3.5, p99Sec: 3.5, maxSec: 3.5, meanSec: 3.5 });
  });

  it('takes the lower value as p50 and the upper as p90/p99 of two values', () => {
    expect(durationStats([4, 2])).toEqual({ count: 2, minSec: 2, p50Sec: 2, p90Sec: 4, p99Sec: 4, maxSec: 4, meanSec: 3 });
  });

  it('takes ranks 5, 9 and 10 of ten values', () => {
    const values = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1];
    expect(durationStats(values)).toEqual({ count: 10, minSec: 1, p50Sec: 5, p90Sec: 9, p99Sec: 10, maxSec: 10, meanSec: 5.5 });
    expect(nearestRank([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0)).toBe(1);
    expect(nearestRank([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 100)).toBe(10);
    expect(nearestRank([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 91)).toBe(10);
  });
});

describe('buildSummary', () => {
  function fixture(): RunView {
    return runView(
      [
        task('t1', [
          attempt(1, 'failed', [tc('A', 'flaky', 'failed', { timeSec: 1 }), tc('A', 'slow', 'passed', { timeSec: 30 }), tc('A', 'bad', 'failed', { message: 'expected 1' })], {
            workerId: 'w1',
            startedAtMs: 1_000_000,
            finishedAtMs: 1_040_000,
          }),
          attempt(2, 'failed', [tc('A', 'flaky', 'passed', { timeSec: 2 }), tc('A', 'slow', 'passed', { timeSec: 31 }), tc('A', 'bad', 'failed', { message: 'expected 2' })], {
            workerId: 'w2',
            startedAtMs: 1_050_000,
            finishedAtMs: 1_100_000,
          }),
        ], { suite: 'unit', shard: 1, shardCount: 2 }),
        task('t2', [
          attempt(1, 'lost', [], { workerId: 'w3', reason: 'worker w3 lost' }),
          attempt(2, 'passed', [tc('B', 'x', 'passed', { timeSec: 3 }), tc('B', 'skip', 'skipped', { timeSec: 0 })], { workerId: 'w1', startedAtMs: 1_200_000, finishedAtMs: 1_210_000 }),
        ], { suite: 'unit', shard: 2, shardCount: 2 }),
        task('t3', [
          attempt(1, 'infra-error', [], { workerId: 'w2', infraClass: 'out-of-memory', resultReason: 'OOM', startedAtMs: 1_000_000, finishedAtMs: 1_005_000 }),
          attempt(2, 'lost', [], { workerId: 'w3', reason: 'heartbeat timeout' }),
        ], { suite: 'e2e', matrix: { locale: 'fr' }, reason: 'retries exhausted' }),
        task('t4', [], { suite: 'e2e', matrix: { locale: 'fr' }, state: 'cancelled', reason: 'run cancelled' }),
      ],
      { flakiness: { 'unit/A::flaky': 0.25 } },
    );
  }

  it('reports identity, times and schema version', () => {
    const s = summarize(fixture());
    expect(s).toMatchObject({
      schemaVersion: 1,
      runId: 'run-1',
      name: 'nightly',
      state: 'failed',
      submittedAt: '2025-01-02T03:04:05.000Z',
      finishedAt: '2025-01-02T03:14:05.000Z',
      durationSec: 600,
    });
    const unfinished = summarize({ ...fixture(), finishedAtMs: 0, state: 'running' });
    expect(unfinished.finishedAt).toBeNull();
    expect(unfinished.durationSec).toBeNull();
  });

  it('computes the totals', () => {
    expect(summarize(fixture()).totals).toEqual({
      tests: 7, // flaky, slow, bad, x, skip + synthetic t3, t4
      passed: 3,
      failed: 1,
      errors: 2,
      skipped: 1,
      flaky: 1,
      tasks: 4,
      tasksPassed: 1,
      tasksFailed: 1,
      tasksFailedInfra: 1,
      tasksCancelled: 1,
      attempts: 6,
      retries: 3,
    });
  });

  it('tabulates workers and suites', () => {
    const s = summarize(fixture());
    expect(s.perWorker).toEqual([
      { workerId: 'w1', attempts: 2, passed: 1, failed: 1, infraErrors: 0, lost: 0, cancelled: 0, busySec: 50 },
      { workerId: 'w2', attempts: 2, passed: 0, failed: 1, infraErrors: 1, lost: 0, cancelled: 0, busySec: 55 },
      { workerId: 'w3', attempts: 2, passed: 0, failed: 0, infraErrors: 0, lost: 2, cancelled: 0, busySec: 0 },
    ]);
    expect(s.perSuite).toEqual([
      { suite: 'unit', tests: 5, passed: 3, failed: 1, errors: 0, flaky: 1, skipped: 1, durationSec: 36.5, tasks: 2 },
      { suite: 'e2e[locale=fr]', tests: 2, passed: 0, failed: 0, errors: 2, flaky: 0, skipped: 0, durationSec: 5, tasks: 2 },
    ]);
  });

  it('lists flaky, failed, slow tests and infrastructure failures', () => {
    const s = summarize(fixture());
    expect(s.flakyTests).toEqual([{ id: 'A::flaky', suite: 'unit', attempts: 2, flakinessRate: 0.25 }]);
    expect(s.failedTests.map((f) => [f.id, f.status, f.message, f.synthetic])).toEqual([
      ['A::bad', 'failed', 'expected 2', false],
      ['testudo.e2e::t3 (shard 1/1)', 'error', 'retries exhausted', true],
      ['testudo.e2e::t4 (shard 1/1)', 'error', 'run cancelled', true],
    ]);
    expect(s.slowestTests.map((t) => [t.id, t.timeSec])).toEqual([
      ['A::slow', 31],
      ['B::x', 3],
      ['A::flaky', 2],
      ['A::bad', 0.5],
    ]);
    expect(s.slowestTasks.map((t) => [t.taskId, t.durationSec, t.workerId, t.attempts])).toEqual([
      ['t1', 50, 'w2', 2],
      ['t2', 10, 'w1', 2],
      ['t3', 5, 'w2', 2],
    ]);
    expect(s.infraFailures).toEqual([
      {
        taskId: 't3',
        suite: 'e2e[locale=fr]',
        reason: 'retries exhausted',
        attempts: [
          { attemptId: expect.any(String), number: 1, workerId: 'w2', state: 'infra-error', infraClass: 'out-of-memory', reason: 'OOM' },
          { attemptId: expect.any(String), number: 2, workerId: 'w3', state: 'lost', infraClass: 'lost-worker', reason: 'heartbeat timeout' },
        ],
      },
    ]);
    expect(s.durations.tests).toMatchObject({ count: 4, minSec: 0.5, p50Sec: 2, maxSec: 31 });
    expect(s.durations.tasks).toMatchObject({ count: 3, minSec: 5, p50Sec: 10, p90Sec: 50, maxSec: 50 });
  });

  it('reports a null flakiness rate when the history has none, and bounds the slow lists', () => {
    const tests = Array.from({ length: 30 }, (_, i) => tc('S', `t${String(i).padStart(2, '0')}`, 'passed', { timeSec: i }));
    const tasks = Array.from({ length: 12 }, (_, i) =>
      task(`k${i}`, [attempt(1, 'passed', i === 0 ? tests : [], { startedAtMs: 0, finishedAtMs: (i + 1) * 1000 })]),
    );
    const flakyTask = task('f', [attempt(1, 'failed', [tc('F', 'x', 'failed')]), attempt(2, 'passed', [tc('F', 'x')])]);
    const s = summarize(runView([...tasks, flakyTask]));
    expect(s.slowestTests).toHaveLength(20);
    expect(s.slowestTests[0]).toEqual({ id: 'S::t29', suite: 'unit', timeSec: 29 });
    expect(s.slowestTasks).toHaveLength(10);
    expect(s.slowestTasks[0]?.taskId).toBe('k11');
    expect(s.flakyTests).toEqual([{ id: 'F::x', suite: 'unit', attempts: 2, flakinessRate: null }]);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });
});
