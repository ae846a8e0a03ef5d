import { describe, expect, it } from 'vitest';
import { makespanWorkload, minTaskSec, simulateStatic, sleepTemplate, splitSlots } from '../../src/bench/makespan.js';
import { dispatchLatencies, dispatchPhases, lostTasks, slotRefillGaps } from '../../src/bench/schedule.js';
import {
  equalCount,
  heavyTailedDurations,
  listSchedule,
  longestFirst,
  lowerBound,
  makespan,
  perturb,
  quantile,
  roundRobin,
  seededRandom,
  sum,
  timingStatic,
} from '../../src/bench/workload.js';
import type { AttemptResult, RunView, TaskView } from '../../src/model/types.js';

const sorted = (groups: number[][]): number[] => groups.flat().sort((a, b) => a - b);
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe('seededRandom', () => {
  it('is deterministic per seed and uniform-ish in [0, 1)', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const xs = Array.from({ length: 10_000 }, () => a());
    expect(Array.from({ length: 10_000 }, () => b())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(Math.abs(sum(xs) / xs.length - 0.5)).toBeLessThan(0.02);
    const c = seededRandom(8);
    expect(Array.from({ length: 5 }, () => c())).not.toEqual(xs.slice(0, 5));
  });
});

describe('heavyTailedDurations', () => {
  it('is reproducible from the seed', () => {
    expect(heavyTailedDurations(500, 3)).toEqual(heavyTailedDurations(500, 3));
    expect(heavyTailedDurations(500, 3)).not.toEqual(heavyTailedDurations(500, 4));
  });

  it('has the requested mean and a heavy right tail', () => {
    const d = heavyTailedDurations(20_000, 1);
    expect(d.every((x) => x > 0 && Number.isFinite(x))).toBe(true);
    const mean = sum(d) / d.length;
    expect(mean).toBeGreaterThan(0.9);
    expect(mean).toBeLessThan(1.1);
    // Lognormal sigma 1: median exp(-0.5) ≈ 0.61 × mean; the longest is many times the mean.
    expect(quantile(d, 0.5)).toBeGreaterThan(0.5);
    expect(quantile(d, 0.5)).toBeLessThan(0.7);
    expect(Math.max(...d)).toBeGreaterThan(10 * mean);
  });

  it('scales with meanSec', () => {
    const d = heavyTailedDurations(20_000, 2, { meanSec: 5 });
    expect(sum(d) / d.length).toBeGreaterThan(4.5);
    expect(sum(d) / d.length).toBeLessThan(5.5);
  });

  it('refuses bad arguments', () => {
    expect(() => heavyTailedDurations(-1, 1)).toThrow(RangeError);
    expect(() => heavyTailedDurations(3, 1, { meanSec: 0 })).toThrow(RangeError);
    expect(heavyTailedDurations(0, 1)).toEqual([]);
  });
});

describe('perturb', () => {
  it('stays within ±spread and is seeded', () => {
    const base = heavyTailedDurations(1000, 5);
    const p = perturb(base, 5);
    expect(perturb(base, 5)).toEqual(p);
    for (const [i, v] of p.entries()) {
      expect(v / base[i]!).toBeGreaterThanOrEqual(0.8 - 1e-12);
      expect(v / base[i]!).toBeLessThanOrEqual(1.2 + 1e-12);
    }
    expect(p).not.toEqual(base);
  });
});

describe('static strategies', () => {
  it('roundRobin deals task i to slot i mod S', () => {
    expect(roundRobin(7, 3)).toEqual([
      [0, 3, 6],
      [1, 4],
      [2, 5],
    ]);
    expect(roundRobin(2, 4)).toEqual([[0], [1], [], []]);
  });

  it('equalCount cuts contiguous chunks of equal count', () => {
    expect(equalCount(7, 3)).toEqual([
      [0, 1, 2],
      [3, 4],
      [5, 6],
    ]);
    expect(equalCount(2, 3)).toEqual([[0], [1], []]);
    expect(sorted(equalCount(1001, 7))).toEqual(range(1001));
  });

  it('timingStatic is LPT on the estimates and places every task once', () => {
    // LPT: 5→s0, 4→s1, 3→s1 (4<5), 2→s0 (5<7), 1→s0? loads s0=7, s1=7 → tie goes to the lower slot.
    const groups = timingStatic([1, 2, 3, 4, 5], 2);
    expect(groups.map((g) => [...g].sort((a, b) => a - b))).toEqual([
      [0, 1, 4],
      [2, 3],
    ]);
    const est = heavyTailedDurations(997, 9);
    expect(sorted(timingStatic(est, 13))).toEqual(range(997));
  });

  it('makespan is the largest slot load under the true durations', () => {
    expect(makespan([[0, 1], [2]], [1, 2, 4])).toBe(4);
    expect(makespan([[0, 2], [1]], [1, 2, 4])).toBe(5);
    expect(makespan([], [1])).toBe(0);
  });

  it('lowerBound is max(longest, total / slots)', () => {
    expect(lowerBound([1, 1, 1, 1], 2)).toBe(2);
    expect(lowerBound([10, 1, 1], 4)).toBe(10);
    expect(lowerBound([], 3)).toBe(0);
  });

  it('no strategy beats the lower bound, and LPT on good estimates is close to it', () => {
    const { durations, previous } = makespanWorkload(2000, 1, 1);
    const sim = simulateStatic(durations, previous, 50);
    for (const m of Object.values(sim.makespans)) expect(m).toBeGreaterThanOrEqual(sim.lowerBound - 1e-9);
    expect(sim.makespans.timingStatic).toBeLessThan(sim.makespans.roundRobin);
    expect(sim.makespans.timingStatic).toBeLessThan(sim.makespans.equalCount);
    expect(sim.makespans.timingStatic / sim.lowerBound).toBeLessThan(1.25);
  });

  it('LPT on exact estimates is within 4/3 of the lower bound', () => {
    for (const seed of [1, 2, 3]) {
      const d = heavyTailedDurations(300, seed);
      expect(makespan(timingStatic(d, 10), d) / lowerBound(d, 10)).toBeLessThanOrEqual(4 / 3);
    }
  });
});

describe('list scheduling (dynamic, zero overhead)', () => {
  it('gives each task to the slot that frees first', () => {
    // Long task first: s0 gets 3, s1 gets 1+1+1 → 3.
    expect(listSchedule([0, 1, 2, 3], [3, 1, 1, 1], 2)).toBe(3);
    // Long task last: 1→s0, 1→s1, 1→s0 (tie: the lower slot), 3→s1 → max(2, 4) = 4; longest first gives 3.
    expect(listSchedule([0, 1, 2, 3], [1, 1, 1, 3], 2)).toBe(4);
    expect(listSchedule(longestFirst([1, 1, 1, 3]), [1, 1, 1, 3], 2)).toBe(3);
  });

  it('orders longest first, ties in submission order', () => {
    expect(longestFirst([2, 5, 2, 9])).toEqual([3, 1, 0, 2]);
  });

  it('stays within the greedy bound 2 − 1/S of the lower bound', () => {
    const d = heavyTailedDurations(1000, 4);
    const fifo = listSchedule(range(1000), d, 20);
    expect(fifo).toBeGreaterThanOrEqual(lowerBound(d, 20) - 1e-9);
    expect(fifo / lowerBound(d, 20)).toBeLessThanOrEqual(2 - 1 / 20);
  });
});

describe('makespan workload', () => {
  it('scales, rounds to ms and raises short tasks to the floor', () => {
    const { durations, previous } = makespanWorkload(500, 1, 0.05);
    expect(durations).toHaveLength(500);
    expect(previous).toHaveLength(500);
    expect(Math.min(...durations)).toBeGreaterThanOrEqual(minTaskSec);
    expect(Math.min(...previous)).toBeGreaterThanOrEqual(minTaskSec);
    for (const d of durations) expect(Math.round(d * 1000) / 1000).toBe(d);
    expect(makespanWorkload(500, 1, 0.05)).toEqual({ durations, previous });
  });

  it('builds a sleep task that writes a JUnit report, with a distinct timing key', () => {
    const t = sleepTemplate(16, 100, 0.37);
    expect(t.command).toContain('sleep 0.370');
    expect(t.command).toContain('"$TESTUDO_JUNIT"');
    expect(t.command).toContain('name="t17"');
    expect([t.shard, t.shardCount]).toEqual([17, 100]);
    expect(t.timeoutSec).toBeGreaterThanOrEqual(60);
  });

  it('splits slots over workers', () => {
    expect(splitSlots(50, 5)).toEqual([10, 10, 10, 10, 10]);
    expect(splitSlots(10, 3)).toEqual([4, 3, 3]);
  });
});

describe('run accounting', () => {
  const result = (workerId: string, startedAtMs: number, finishedAtMs: number, outcome: AttemptResult['outcome'] = 'passed'): AttemptResult => ({
    attemptId: 'a',
    taskId: 't',
    workerId,
    outcome,
    infraClass: outcome === 'infra-error' ? 'lost-worker' : '',
    reason: '',
    exitCode: 0,
    signal: '',
    startedAtMs,
    finishedAtMs,
    tests: [],
    outputTail: '',
    logBytes: 0,
  });
  const task = (state: TaskView['state'], results: AttemptResult[]): TaskView =>
    ({
      taskId: 't',
      runId: 'r',
      state,
      queuedAtMs: 0,
      attempts: results.map((r, i) => ({ attemptId: `a${i}`, number: i + 1, workerId: r.workerId, assignedAtMs: 0, state: 'passed', result: r, reason: '', lateResults: 0 })),
    }) as unknown as TaskView;
  const run = (tasks: TaskView[]): RunView => ({ tasks }) as unknown as RunView;

  it('counts tasks that did not pass and tasks without exactly one counted attempt', () => {
    expect(lostTasks(run([task('passed', [result('w', 0, 1)])]))).toBe(0);
    expect(lostTasks(run([task('passed', [result('w', 0, 1, 'infra-error'), result('w', 1, 2)])]))).toBe(0);
    expect(lostTasks(run([task('passed', [result('w', 0, 1, 'failed'), result('w', 1, 2)])]))).toBe(1);
    expect(lostTasks(run([task('failed-infra', [])]))).toBe(2);
  });

  it('measures slot refill gaps per worker', () => {
    // One worker, 2 slots: starts 0,0 then 15 (after the end at 10) and 27 (after the end at 20).
    const view = run([
      task('passed', [result('w', 0, 10)]),
      task('passed', [result('w', 0, 20)]),
      task('passed', [result('w', 15, 30)]),
      task('passed', [result('w', 27, 40)]),
    ]);
    expect(slotRefillGaps(view, () => 2)).toEqual([5, 7]);
  });

  it('splits each dispatch at the assignment of its first attempt, the two phases summing to the dispatch', () => {
    const at = (queuedAtMs: number, assignedAtMs: number, startedAtMs: number): TaskView => {
      const t = task('passed', [result('w', startedAtMs, startedAtMs + 1)]);
      return { ...t, queuedAtMs, attempts: [{ ...t.attempts[0]!, assignedAtMs }] } as TaskView;
    };
    const view = run([at(100, 101, 105), at(200, 200, 212), task('failed-infra', [])]);
    expect(dispatchPhases(view)).toEqual([
      { planMs: 1, commitMs: 4 },
      { planMs: 0, commitMs: 12 },
    ]);
    expect(dispatchPhases(view).map((d) => d.planMs + d.commitMs)).toEqual(dispatchLatencies(view));
  });
});
