import { describe, expect, it } from 'vitest';
import {
  baselineThroughput,
  divergentReplicas,
  duplicateResults,
  groupFaults,
  leaderTerms,
  lostTasks,
  parseLog,
  rolling,
  splitBrainTerms,
  throughputBackMs,
  throughputSeries,
} from '../../../src/failure-injection/analysis.js';
import { benchSummary, meanTaskMs, withDuration } from '../../../src/failure-injection/bench.js';
import type { ChaosRunResult, FaultOutcome } from '../../../src/failure-injection/results.js';
import type { AttemptView, RunView, TaskView } from '../../../src/model/index.js';
import type { Scenario } from '../../../src/failure-injection/scenario/index.js';
import { steadyState } from '../../../src/failure-injection/runner.js';

function attempt(n: number, state: AttemptView['state'], outcome?: 'passed' | 'failed' | 'infra-error'): AttemptView {
  const base = { attemptId: `r.t1.a${n}`, number: n, workerId: `w${n}`, assignedAtMs: n, state, reason: '', lateResults: 0 };
  if (outcome === undefined) return base;
  return {
    ...base,
    result: {
      attemptId: base.attemptId,
      taskId: 'r.t1',
      workerId: base.workerId,
      outcome,
      infraClass: outcome === 'infra-error' ? 'crash' : '',
      reason: '',
      exitCode: 0,
      signal: '',
      startedAtMs: 0,
      finishedAtMs: 1,
      tests: [],
      outputTail: '',
    } as unknown as NonNullable<AttemptView['result']>,
  };
}

function task(id: string, state: TaskView['state'], attempts: AttemptView[], retries = 0): TaskView {
  return { taskId: id, runId: 'r', template: { retries } as TaskView['template'], files: [], state, reason: '', queuedAtMs: 0, finishedAtMs: 1, expectedMs: 1, attempts, decisions: [] };
}

function run(tasks: TaskView[]): RunView {
  return { tasks } as unknown as RunView;
}

describe('safety checks', () => {
  it('find no problem in a clean run', () => {
    const clean = run([task('t1', 'passed', [attempt(1, 'lost'), attempt(2, 'passed', 'passed')]), task('t2', 'failed-infra', [attempt(1, 'infra-error', 'infra-error')])]);
    expect(lostTasks(clean, 2)).toEqual([]);
    expect(duplicateResults(clean)).toEqual([]);
  });

  it('catch a late result counted on a lost attempt (the planted bug)', () => {
    const planted = run([task('t1', 'passed', [attempt(1, 'lost', 'passed'), attempt(2, 'passed', 'passed')])]);
    const found = duplicateResults(planted);
    expect(found).toHaveLength(1);
    expect(found[0]?.text).toMatch(/late result was counted on r\.t1\.a1 \(lost\)/);
  });

  it('catch two passing verdicts, and more verdicts than the retries allow', () => {
    expect(duplicateResults(run([task('t1', 'passed', [attempt(1, 'passed', 'passed'), attempt(2, 'passed', 'passed')], 3)]))[0]?.text).toMatch(/2 passing results/);
    expect(duplicateResults(run([task('t1', 'failed', [attempt(1, 'failed', 'failed'), attempt(2, 'failed', 'failed')], 0)]))[0]?.text).toMatch(/2 verdicts counted, retries allow 1/);
  });

  it('count tasks left running and tasks missing from the run as lost', () => {
    expect(lostTasks(run([task('t1', 'running', [attempt(1, 'running')])]), 3).map((f) => f.text)).toEqual([
      't1 is still running',
      'the run has 1 tasks, 3 were submitted',
      'the run has 1 tasks, 3 were submitted',
    ]);
    expect(lostTasks(null, 2)).toHaveLength(2);
  });

  it('compare digests at the highest index every replica reached', () => {
    const same = new Map([
      ['n1', [{ applied: 10, digest: 'a' }, { applied: 12, digest: 'b' }]],
      ['n2', [{ applied: 12, digest: 'b' }]],
      ['n3', [{ applied: 11, digest: 'x' }, { applied: 12, digest: 'b' }]],
    ]);
    expect(divergentReplicas(same)).toEqual([]);
    const diverged = new Map([...same, ['n3', [{ applied: 12, digest: 'c' }]]]);
    expect(divergentReplicas(diverged).map((f) => f.text)).toEqual([expect.stringMatching(/^n3: digest c… at applied index 12/)]);
    const behind = new Map([...same, ['n3', [{ applied: 9, digest: 'z' }]]]);
    expect(divergentReplicas(behind).map((f) => f.text)).toEqual([expect.stringMatching(/n3 never reached applied index 12/)]);
  });

  it('find two leaders in one term from the nodes’ NDJSON logs', () => {
    const line = (time: number, term: number, leader: string, role: string): string => JSON.stringify({ time, event: 'raft-state', term, leader, role, msg: 'x' });
    const ok = [...parseLog('n1', [line(1, 2, 'n1', 'leader'), 'not json', line(5, 3, 'n2', 'follower')].join('\n')), ...parseLog('n2', line(4, 3, 'n2', 'leader'))];
    expect(splitBrainTerms(ok)).toEqual([]);
    const bad = [...ok, ...parseLog('n3', line(6, 3, 'n3', 'leader'))];
    expect(splitBrainTerms(bad).map((f) => f.text)).toEqual(['term 3 had leaders n2 and n3']);
  });

  it('counts the terms in which some node became leader (spurious elections show as more than 1)', () => {
    const line = (time: number, term: number, leader: string, role: string): string => JSON.stringify({ time, event: 'raft-state', term, leader, role, msg: 'x' });
    const one = [...parseLog('n1', line(1, 2, 'n1', 'leader')), ...parseLog('n2', line(2, 2, 'n1', 'follower')), ...parseLog('n3', line(2, 2, 'n1', 'follower'))];
    expect(leaderTerms(one)).toBe(1);
    const reelected = [...one, ...parseLog('n2', [line(9, 3, '', 'candidate'), line(10, 4, 'n2', 'leader')].join('\n'))];
    expect(leaderTerms(reelected)).toBe(2);
    expect(leaderTerms([])).toBe(0);
  });
});

describe('recovery figures', () => {
  const finished = [...Array.from({ length: 100 }, (_, i) => i * 100)]; // 10 tasks/s for 10 s
  const series = throughputSeries([...finished.filter((t) => t < 3_000 || t >= 5_000)], 10_000);

  it('bucket completions per second', () => {
    expect(series.map((s) => s.tasksPerSec)).toEqual([10, 10, 10, 0, 0, 10, 10, 10, 10, 10]);
  });

  it('measure the baseline outside faults and the time until throughput is back at 90%', () => {
    const smoothed = rolling(series, 1);
    const fault = { injectedAtMs: 3_000, healedAtMs: 4_000 };
    expect(baselineThroughput(smoothed, [fault], 10_000)).toBe(10);
    expect(throughputBackMs(smoothed, 10, fault, 10_000)).toBe(3_000);
    // A fault during which throughput never dipped recovered at once.
    expect(throughputBackMs(smoothed, 10, { injectedAtMs: 6_000, healedAtMs: 7_000 }, 10_000)).toBe(0);
    // Never back before the end: null.
    expect(throughputBackMs(smoothed, 10, fault, 4_500)).toBeNull();
  });

  it('group faults by type and intensity with medians', () => {
    const f = (detectMs: number | null): FaultOutcome => ({ type: 'kill', intensity: 'mild', scope: 'leader', targets: ['n1'], injectedAtMs: 0, healedAtMs: 1, detectMs, newLeaderMs: null, firstWriteMs: 5, throughputBackMs: null });
    expect(groupFaults([f(100), f(300), f(null)])).toEqual([{ type: 'kill', intensity: 'mild', count: 3, detectMs: 200, newLeaderMs: null, firstWriteMs: 5, throughputBackMs: null }]);
  });
});

describe('bench comparison', () => {
  const result = (mode: 'breaker' | 'no-breaker', successRate: number, backs: Array<number | null>): ChaosRunResult =>
    ({
      scenario: 's',
      seed: 1,
      mode,
      successRate,
      faults: backs.map((throughputBackMs) => ({ throughputBackMs })),
      checks: { lostTasks: 0, duplicateResults: mode === 'breaker' ? 1 : 0, divergentReplicas: 0, splitBrainTerms: 0, ready: true, readyMs: 1, findings: [] },
    }) as unknown as ChaosRunResult;

  it('reports the recovery-time reduction and success gain in percent, and sums the safety counts', () => {
    const s = benchSummary(result('breaker', 0.9, [1_000, 3_000, null]), result('no-breaker', 0.75, [4_000, 4_000]));
    expect(s.recoveryTimeReductionPct).toBe(50);
    expect(s.successRateGainPct).toBe(20);
    expect(s.duplicateResults).toBe(1);
    expect(benchSummary(result('breaker', 1, []), result('no-breaker', 0, [])).successRateGainPct).toBeNull();
  });

  it('scales a scenario to a duration', () => {
    const scenario = {
      name: 'm',
      cluster: { coordinators: 3, workers: 2, slotsPerWorker: 2 },
      workload: { kind: 'synthetic', synthetic: { tasks: 10, duration: { distribution: 'fixed', valueMs: 600 } } },
      faults: { kind: 'random', random: { seedOffset: 0, startMs: 5_000, endMs: 100_000, everyMs: 10_000, types: ['kill'], intensities: ['mild'], scopes: {} } },
      checks: { readyWithinMs: 1_000, timeoutMs: 60_000 },
    } as unknown as Scenario;
    const scaled = withDuration(scenario, 60_000);
    expect(scaled.workload.kind === 'synthetic' && scaled.workload.synthetic.tasks).toBe(240);
    expect(scaled.faults.kind === 'random' && scaled.faults.random.endMs).toBe(45_000);
    expect(scaled.checks.timeoutMs).toBe(180_000);
    expect(meanTaskMs({ distribution: 'lognormal', medianMs: 100, p95Ms: 100 })).toBeCloseTo(100);
  });
});

describe('steady-state checks', () => {
  const fault = (throughputBackMs: number | null): FaultOutcome => ({ type: 'kill', intensity: 'mild', scope: 'leader', targets: ['n1'], injectedAtMs: 1_000, healedAtMs: 2_000, detectMs: 1, newLeaderMs: 1, firstWriteMs: 1, throughputBackMs });

  it('hold when the scenario states none, or when the run meets them', () => {
    expect(steadyState({ checks: { readyWithinMs: 1, timeoutMs: 2 } }, 10, 5, [fault(null)])).toEqual([]);
    expect(steadyState({ checks: { readyWithinMs: 1, timeoutMs: 2, minSuccessRate: 0.9, recoverWithinMs: 5_000 } }, 10, 9, [fault(4_000), fault(0)])).toEqual([]);
  });

  it('fail on a low success rate and on a fault that recovered late or never', () => {
    const found = steadyState({ checks: { readyWithinMs: 1, timeoutMs: 2, minSuccessRate: 0.95, recoverWithinMs: 5_000 } }, 10, 9, [fault(6_000), fault(null)]);
    expect(found.map((f) => f.text)).toEqual([
      'success rate 90.0% is below minSuccessRate 95.0%',
      'kill/mild at 1000 ms: throughput came back after 6000 ms, recoverWithin is 5000 ms',
      'kill/mild at 1000 ms: throughput never came back, recoverWithin is 5000 ms',
    ]);
  });
});
