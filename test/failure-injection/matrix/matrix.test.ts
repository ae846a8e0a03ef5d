/**
 * The benchmark matrix's pure parts: the seed list, the pass order, the
 * figures of a pass (wasted attempts, the resilience score), the per-scenario
 * statistics and the summary's exact shape.
 */
import { describe, expect, it } from 'vitest';
import { spawnRetriesInPlace, wastedAttempts } from '../../../src/failure-injection/analysis.js';
import {
  matrixSummary,
  parseSeedList,
  passFigures,
  passOrder,
  passTriesMax,
  runMatrix,
  scenarioFileName,
  scenarioStats,
  SeedListError,
  type BenchMode,
  type PassFigures,
} from '../../../src/failure-injection/matrix.js';
import { renderMatrixMarkdown } from '../../../src/failure-injection/matrix-report.js';
import { countQuarantined } from '../../../src/failure-injection/runner.js';
import { resilienceScore, scoreWeights } from '../../../src/failure-injection/score.js';
import { parseScenario, ScenarioValidationError } from '../../../src/failure-injection/scenario/index.js';
import type { AttemptView, RunView, TaskView } from '../../../src/model/index.js';
import { checks, fault, run } from '../report/fixtures.js';

function attempt(n: number, outcome?: 'passed' | 'failed' | 'infra-error'): AttemptView {
  return { attemptId: `a${n}`, number: n, workerId: 'w1', assignedAtMs: 0, state: outcome === undefined ? 'lost' : 'finished', reason: '', lateResults: 0, ...(outcome ? { result: { outcome } } : {}) } as unknown as AttemptView;
}

function task(state: TaskView['state'], attempts: AttemptView[]): TaskView {
  return { taskId: 't', state, attempts } as unknown as TaskView;
}

describe('parseSeedList', () => {
  it('reads ranges, lists and both, in the order given', () => {
    expect(parseSeedList('1..10')).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(parseSeedList('1,4,9')).toEqual([1, 4, 9]);
    expect(parseSeedList('7, 1..3')).toEqual([7, 1, 2, 3]);
    expect(parseSeedList('0')).toEqual([0]);
  });

  it.each(['', '5..1', '1,1', '1..3,2', 'a', '-1', '1.5', '1..200', '1...3'])('refuses %j', (raw) => {
    expect(() => parseSeedList(raw)).toThrow(SeedListError);
  });
});

describe('a pass', () => {
  it('alternates which mode runs first, seed by seed', () => {
    expect(passOrder(0)).toEqual(['breaker', 'no-breaker']);
    expect(passOrder(1)).toEqual(['no-breaker', 'breaker']);
  });

  it('names a scenario after its file', () => {
    expect(scenarioFileName('chaos/scenarios/bad-worker-flaky-30.yaml')).toBe('bad-worker-flaky-30');
  });

  it('counts as wasted every attempt but the one that gave the final verdict', () => {
    const view = {
      tasks: [
        task('passed', [attempt(1, 'infra-error'), attempt(2), attempt(3, 'passed')]), // 2 wasted
        task('failed', [attempt(1, 'failed')]), // 0: a failing test is a verdict
        task('failed-infra', [attempt(1, 'infra-error'), attempt(2, 'infra-error')]), // 2
        task('cancelled', [attempt(1)]), // 1
      ],
    } as unknown as RunView;
    expect(wastedAttempts(view)).toBe(5);
    expect(wastedAttempts(null)).toBe(0);
  });

  it('counts spawn retries in place apart: they are starts inside attempts, not attempts', () => {
    const retried = (n: number | undefined) => ({ state: 'passed', result: { outcome: 'passed', ...(n === undefined ? {} : { spawnRetries: n }) } });
    const view = { tasks: [{ state: 'passed', attempts: [retried(2)] }, { state: 'passed', attempts: [retried(undefined), retried(1)] }] } as unknown as RunView;
    expect(spawnRetriesInPlace(view)).toBe(3);
    expect(spawnRetriesInPlace(null)).toBe(0);
  });

  it('counts as quarantined after healing only the workers whose breaker is open or forced-open', () => {
    const states = ['closed', 'open', 'half-open', 'forced-open', 'disabled', 'forced-open'];
    expect(countQuarantined(states.map((breakerState) => ({ breakerState })))).toBe(3);
    expect(countQuarantined([{ breakerState: 'closed' }, { breakerState: 'half-open' }])).toBe(0);
    expect(countQuarantined([])).toBe(0);
    // An open breaker whose wait is over (it reads open until an assignment moves it) is not out of service.
    expect(countQuarantined([{ breakerState: 'open', service: 'probing' }, { breakerState: 'open', service: 'out' }, { breakerState: 'forced-open', service: 'out' }])).toBe(2);
  });

  it('scores 1 when every steady-state check holds, less by each check’s weight when one breaks', () => {
    const total = Object.values(scoreWeights).reduce((a, b) => a + b, 0);
    const healthy = run('breaker', { faults: [] });
    expect(resilienceScore(healthy, {}).score).toBe(1);
    const lost = run('breaker', { faults: [], checks: checks({ lostTasks: 2 }) });
    expect(resilienceScore(lost, {}).score).toBeCloseTo(1 - scoreWeights.noLostTasks / total, 10);
    // One of two faults back in time: half of the throughput weight.
    const faults = [
      fault({ type: 'worker-crash', intensity: 'mild', injectedAtMs: 1_000, healedAtMs: 2_000, throughputBackMs: 3_000 }),
      fault({ type: 'worker-crash', intensity: 'mild', injectedAtMs: 5_000, healedAtMs: 6_000, throughputBackMs: null }),
    ];
    const slow = run('breaker', { faults, successRate: 0.5 });
    expect(resilienceScore(slow, { minSuccessRate: 0.4 }).score).toBeCloseTo(1 - scoreWeights.throughputBack / 2 / total, 10);
    expect(resilienceScore(slow, {}).score).toBeCloseTo(1 - (scoreWeights.throughputBack / 2 + scoreWeights.successRate) / total, 10);
  });

  it('takes the time back to 90% throughput as the mean per fault, a fault never recovered counting to the end', () => {
    const faults = [
      fault({ type: 'worker-crash', intensity: 'mild', injectedAtMs: 2_000, healedAtMs: 3_000, throughputBackMs: 4_000 }),
      fault({ type: 'worker-crash', intensity: 'mild', injectedAtMs: 10_000, healedAtMs: 12_000, throughputBackMs: null }),
    ];
    const f = passFigures('s', { checks: { readyWithinMs: 1, timeoutMs: 2 } }, run('no-breaker', { faults, makespanMs: 30_000 }));
    expect(f.recoveryMs).toBe((4_000 + 20_000) / 2);
    expect(passFigures('s', { checks: { readyWithinMs: 1, timeoutMs: 2 } }, run('breaker', { faults: [] })).recoveryMs).toBeNull();
  });
});

function figures(scenario: string, seed: number, mode: BenchMode, over: Partial<PassFigures> = {}): PassFigures {
  return {
    scenario,
    seed,
    mode,
    makespanMs: 60_000,
    recoveryMs: 5_000,
    wastedAttempts: 40,
    spawnRetries: 0,
    successRate: 1,
    infraRetries: 40,
    cpuSeconds: 30,
    resilienceScore: 1,
    quarantinedAfterHeal: 0,
    lostTasks: 0,
    duplicateResults: 0,
    divergentReplicas: 0,
    splitBrainTerms: 0,
    ...over,
  };
}

describe('scenarioStats and the summary', () => {
  const seeds = [1, 2, 3, 4, 5, 6];
  // Planted: on wastes about a third of off's attempts (a gain); makespan is noise around 1.0.
  const passes = seeds.flatMap((seed) => [
    figures('flaky', seed, 'breaker', { wastedAttempts: 12 + seed, makespanMs: 60_000 + (seed % 2 === 0 ? 4_000 : -4_000), successRate: 1, quarantinedAfterHeal: seed <= 3 ? 1 : 0 }),
    figures('flaky', seed, 'no-breaker', { wastedAttempts: 40 + seed * 2, makespanMs: 60_000, successRate: seed === 3 ? 0.99 : 1, lostTasks: seed === 6 ? 1 : 0 }),
    figures('control', seed, 'breaker', { recoveryMs: null, wastedAttempts: 0, quarantinedAfterHeal: seed === 1 ? null : 0 }),
    figures('control', seed, 'no-breaker', { recoveryMs: null, wastedAttempts: 0 }),
  ]);
  const stats = ['flaky', 'control'].map((name) => scenarioStats(name, passes));

  it('calls a consistent cut of wasted attempts a gain, and noise no significant difference', () => {
    const flaky = stats[0]!;
    expect(flaky.seeds).toEqual(seeds);
    expect(flaky.compare.wastedAttempts.verdict).toBe('gain');
    expect(flaky.compare.wastedAttempts.ci95[1]!).toBeLessThan(1);
    expect(flaky.compare.makespanMs.verdict).toBe('no significant difference');
    expect(flaky.compare.makespanMs.ci95[0]!).toBeLessThan(1);
    expect(flaky.compare.makespanMs.ci95[1]!).toBeGreaterThan(1);
    expect(flaky.on.wastedAttempts.mean).toBeCloseTo(15.5, 10);
    expect(flaky.off.wastedAttempts.n).toBe(6);
  });

  it('has no recovery comparison where no pass had a fault', () => {
    expect(stats[1]!.compare.recoveryMs).toEqual({ n: 0, mean: null, ci95: [null, null], verdict: 'no significant difference' });
    expect(stats[1]!.compare.wastedAttempts.mean).toBe(1);
  });

  it('refuses a seed with one mode missing', () => {
    expect(() => scenarioStats('flaky', passes.filter((p) => !(p.seed === 2 && p.mode === 'breaker')))).toThrow(/seed 2/);
  });

  it('prints the summary in the exact shape, safety summed over every pass', () => {
    const summary = matrixSummary(stats, passes);
    expect(Object.keys(summary)).toEqual(['scenarios', 'lostTasks', 'duplicateResults', 'divergentReplicas', 'splitBrainTerms']);
    expect(summary.lostTasks).toBe(1);
    expect(summary.scenarios.map((s) => s.name)).toEqual(['flaky', 'control']);
    for (const s of summary.scenarios) {
      expect(Object.keys(s)).toEqual(['name', 'wastedAttemptsRatio', 'makespanRatio', 'recoveryTimeRatio', 'successRateDelta', 'quarantinedAfterHeal']);
      for (const key of ['wastedAttemptsRatio', 'makespanRatio', 'recoveryTimeRatio', 'successRateDelta'] as const) {
        expect(Object.keys(s[key])).toEqual(['mean', 'ci95']);
        expect(s[key].ci95).toHaveLength(2);
      }
    }
    // The quarantine left after healing: a mean over the seeds in each mode; a pass that could not tell (null) is left out.
    expect(summary.scenarios[0]!.quarantinedAfterHeal).toEqual({ on: 0.5, off: 0 });
    expect(summary.scenarios[1]!.quarantinedAfterHeal).toEqual({ on: 0, off: 0 });
    expect(stats[1]!.on.quarantinedAfterHeal.n).toBe(5);
    const md = renderMatrixMarkdown(stats, summary);
    expect(md).toMatch(/\| Wasted attempts \| 15\.5 \[[\d.]+, [\d.]+\] \| 47\.0 \[[\d.]+, [\d.]+\] \| 0\.\d\d \[0\.\d\d, 0\.\d\d\] × \| gain \|/);
    expect(md).toMatch(/\| Makespan \|.*\| no significant difference \|/);
    expect(md).toContain('1 lost tasks');
    expect(md).toMatch(/\| Workers still quarantined after healing \| 0\.50 \[[\d.-]+, [\d.]+\] \| 0\.00 \[0\.00, 0\.00\] \|/);
  });

  it('runs every scenario × seed × mode once, in the alternating order', async () => {
    const order: string[] = [];
    const scenario = parseScenario('name: s\nworkload: { synthetic: { tasks: 1, duration: { distribution: fixed, value: 1ms } } }\n', 's.yaml');
    const out = await runMatrix({
      scenarios: [
        { name: 'a', scenario },
        { name: 'b', scenario },
      ],
      seeds: [4, 9],
      log: () => undefined,
      runPass: async (s, seed, mode) => {
        order.push(`${s.name}${seed}${mode === 'breaker' ? '+' : '-'}`);
        return run(mode, { seed });
      },
    });
    expect(order).toEqual(['a4+', 'a4-', 'a9-', 'a9+', 'b4+', 'b4-', 'b9-', 'b9+']);
    expect(out.map((p) => p.figures.scenario)).toEqual(['a', 'a', 'a', 'a', 'b', 'b', 'b', 'b']);
  });

  it('with jobs 2 runs a seed’s two passes side by side, never two seeds at once, and waits for both before a failure ends it', async () => {
    const scenario = parseScenario('name: s\nworkload: { synthetic: { tasks: 1, duration: { distribution: fixed, value: 1ms } } }\n', 's.yaml');
    const events: string[] = [];
    let running = 0;
    let runningMax = 0;
    const runPass = async (s: { name: string }, seed: number, mode: BenchMode) => {
      running++;
      runningMax = Math.max(runningMax, running);
      events.push(`start ${s.name}${seed}${mode === 'breaker' ? '+' : '-'}`);
      // The off pass ends first: the results still come back in the pass order.
      await new Promise((resolve) => setTimeout(resolve, mode === 'breaker' ? 20 : 5));
      running--;
      events.push(`end ${s.name}${seed}${mode === 'breaker' ? '+' : '-'}`);
      return run(mode, { seed });
    };
    const out = await runMatrix({ scenarios: [{ name: 'a', scenario }], seeds: [4, 9], jobs: 2, log: () => undefined, runPass });
    expect(runningMax).toBe(2);
    expect(events).toEqual(['start a4+', 'start a4-', 'end a4-', 'end a4+', 'start a9-', 'start a9+', 'end a9-', 'end a9+']);
    expect(out.map((p) => `${p.figures.seed}${p.figures.mode}`)).toEqual(['4breaker', '4no-breaker', '9no-breaker', '9breaker']);
    // One pass fails: its twin still runs to its end (and stops its cluster) before the matrix throws.
    let twinEnded = false;
    const failing = runMatrix({
      scenarios: [{ name: 'a', scenario }],
      seeds: [1],
      jobs: 2,
      log: () => undefined,
      runPass: async (_s, seed, mode) => {
        if (mode === 'breaker') throw new Error('cluster did not start');
        await new Promise((resolve) => setTimeout(resolve, 20));
        twinEnded = true;
        return run(mode, { seed });
      },
    });
    await expect(failing).rejects.toThrow('cluster did not start');
    expect(twinEnded).toBe(true);
    await expect(runMatrix({ scenarios: [], seeds: [1], jobs: 3, log: () => undefined, runPass })).rejects.toThrow(/jobs must be 1\.\.2/);
  });

  it('runs a pass whose harness failed once more, and gives up after passTriesMax tries', async () => {
    const scenario = parseScenario('name: s\nworkload: { synthetic: { tasks: 1, duration: { distribution: fixed, value: 1ms } } }\n', 's.yaml');
    const lines: string[] = [];
    const tries = new Map<string, number>();
    const out = await runMatrix({
      scenarios: [{ name: 'a', scenario }],
      seeds: [1],
      jobs: 2,
      log: (line) => lines.push(line),
      runPass: async (_s, seed, mode) => {
        tries.set(mode, (tries.get(mode) ?? 0) + 1);
        if (mode === 'breaker' && tries.get(mode) === 1) throw new Error('http://127.0.0.1:1/livez did not answer within 30000 ms');
        return run(mode, { seed });
      },
    });
    expect(out.map((p) => p.figures.mode)).toEqual(['breaker', 'no-breaker']);
    expect(Object.fromEntries(tries)).toEqual({ breaker: 2, 'no-breaker': 1 });
    expect(lines).toContain('  a seed 1 breaker: the pass failed (http://127.0.0.1:1/livez did not answer within 30000 ms); running it again (try 2 of 2)');
    let calls = 0;
    const always = runMatrix({ scenarios: [{ name: 'a', scenario }], seeds: [1], log: () => undefined, runPass: async () => { calls++; throw new Error('no cluster'); } });
    await expect(always).rejects.toThrow('no cluster');
    expect(calls).toBe(passTriesMax);
  });
});

describe('scenario files: a pinned worker', () => {
  const head = 'name: s\ncluster: { coordinators: 3, workers: 2, slots: 1 }\nworkload: { synthetic: { tasks: 1, duration: { distribution: fixed, value: 1ms } } }\nfaults:\n  events:\n';

  it('keeps worker: n on a worker-scoped event', () => {
    const s = parseScenario(`${head}    - { at: 1s, type: worker-crash, scope: worker, worker: 2, intensity: mild }\n`, 's.yaml');
    expect(s.faults.kind === 'events' && s.faults.events[0]).toMatchObject({ type: 'worker-crash', scope: 'worker', worker: 2 });
  });

  it.each([
    ['a worker the cluster does not have', '{ at: 1s, type: worker-crash, scope: worker, worker: 3, intensity: mild }', /worker 3 does not exist: the cluster has 2/],
    ['a scope other than worker', '{ at: 1s, type: worker-crash, scope: all-workers, worker: 1, intensity: mild }', /worker is only for scope worker/],
    ['not a positive integer', '{ at: 1s, type: blackhole, scope: worker, worker: 0, intensity: mild }', /an integer from 1 to 16/],
  ])('refuses %s', (_, event, message) => {
    let error: unknown;
    try {
      parseScenario(`${head}    - ${event}\n`, 's.yaml');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ScenarioValidationError);
    expect((error as Error).message).toMatch(message);
  });
});
