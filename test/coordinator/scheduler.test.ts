import { describe, expect, it } from 'vitest';

import { FlakeHistory, splitByTimings, timingAlpha, TimingHistory, timingUnknownMs } from '../../src/coordinator/orchestrator/history.js';
import {
  meetsRequirements,
  planAssignments,
  type RunLoad,
  type SchedulableTask,
  type SchedulableWorker,
  type ScheduleLimits,
} from '../../src/coordinator/orchestrator/scheduler.js';
import type { Requirements } from '../../src/model/index.js';
import { capabilities, Driver, noRequirements, registration, result, submission, template } from './orchestrator-fixtures.js';

const limits: ScheduleLimits = { batchMax: 512, scanMax: 20_000 };
const idle: RunLoad = { parallelOpen: 0, running: 0 };

function task(taskId: string, over: Partial<SchedulableTask> = {}): SchedulableTask {
  return { taskId, runId: 'r1', requirements: noRequirements, exclusive: false, notBeforeMs: 0, avoidWorkers: [], preferWorker: '', ...over };
}

function worker(workerId: string, freeSlots: number, over: Partial<SchedulableWorker> = {}): SchedulableWorker {
  return { workerId, capabilities: capabilities(), freeSlots, ...over };
}

function plan(queue: SchedulableTask[], workers: SchedulableWorker[], over: { nowMs?: number; limits?: ScheduleLimits; runLoad?: (runId: string) => RunLoad } = {}) {
  return planAssignments({ queue, workers, runLoad: over.runLoad ?? (() => idle), nowMs: over.nowMs ?? 0, limits: over.limits ?? limits });
}

const req = (over: Partial<Requirements>): Requirements => ({ ...noRequirements, ...over });

describe('meetsRequirements', () => {
  const caps = capabilities({ labels: { os: 'linux', gpu: 'a100' }, cpus: 8, memoryMb: 16_000, tools: ['docker', 'git'] });

  it('accepts no requirements and exact matches', () => {
    expect(meetsRequirements(caps, noRequirements)).toBe(true);
    expect(meetsRequirements(caps, req({ labels: { os: 'linux', gpu: 'a100' }, cpus: 8, memoryMb: 16_000, tools: ['git', 'docker'] }))).toBe(true);
  });

  it('needs every label with the exact value', () => {
    expect(meetsRequirements(caps, req({ labels: { os: 'darwin' } }))).toBe(false);
    expect(meetsRequirements(caps, req({ labels: { arch: 'arm64' } }))).toBe(false);
    expect(meetsRequirements(caps, req({ labels: { gpu: 'a100' } }))).toBe(true);
  });

  it('treats cpus and memory as minimums', () => {
    expect(meetsRequirements(caps, req({ cpus: 9 }))).toBe(false);
    expect(meetsRequirements(caps, req({ cpus: 7 }))).toBe(true);
    expect(meetsRequirements(caps, req({ memoryMb: 16_001 }))).toBe(false);
    expect(meetsRequirements(caps, req({ memoryMb: 1 }))).toBe(true);
  });

  it('needs every tool', () => {
    expect(meetsRequirements(caps, req({ tools: ['docker'] }))).toBe(true);
    expect(meetsRequirements(caps, req({ tools: ['docker', 'kubectl'] }))).toBe(false);
  });
});

describe('planAssignments', () => {
  it('respects the given queue order (it does not re-sort)', () => {
    const queue = [task('low'), task('high'), task('mid')];
    expect(plan(queue, [worker('w1', 2)]).map((a) => a.taskId)).toEqual(['low', 'high']);
  });

  it('returns nothing without free slots', () => {
    expect(plan([task('t1')], [])).toEqual([]);
    expect(plan([task('t1')], [worker('w1', 0), worker('w2', -1)])).toEqual([]);
  });

  it('matches labels, cpus, memory and tools', () => {
    const workers = [
      worker('small', 4, { capabilities: capabilities({ cpus: 2, memoryMb: 1000 }) }),
      worker('big', 1, { capabilities: capabilities({ cpus: 32, memoryMb: 64_000, tools: ['docker'], labels: { os: 'linux', gpu: 'yes' } }) }),
      worker('mac', 1, { capabilities: capabilities({ labels: { os: 'darwin' } }) }),
    ];
    expect(plan([task('cpu', { requirements: req({ cpus: 16 }) })], workers)).toEqual([{ taskId: 'cpu', workerId: 'big' }]);
    expect(plan([task('mem', { requirements: req({ memoryMb: 2000 }) })], workers)).toEqual([{ taskId: 'mem', workerId: 'big' }]);
    expect(plan([task('tool', { requirements: req({ tools: ['docker'] }) })], workers)).toEqual([{ taskId: 'tool', workerId: 'big' }]);
    expect(plan([task('gpu', { requirements: req({ labels: { gpu: 'yes' } }) })], workers)).toEqual([{ taskId: 'gpu', workerId: 'big' }]);
    expect(plan([task('mac', { requirements: req({ labels: { os: 'darwin' } }) })], workers)).toEqual([{ taskId: 'mac', workerId: 'mac' }]);
    expect(plan([task('none', { requirements: req({ labels: { os: 'windows' } }) })], workers)).toEqual([]);
    // One requirement set that nobody meets does not block later tasks.
    expect(plan([task('none', { requirements: req({ tools: ['zig'] }) }), task('any')], workers)).toEqual([{ taskId: 'any', workerId: 'small' }]);
  });

  it('spreads to the worker with the most free slots, ties to the lower id', () => {
    const out = plan([task('t1'), task('t2'), task('t3'), task('t4'), task('t5')], [worker('wb', 2), worker('wa', 2), worker('wc', 1)]);
    expect(out).toEqual([
      { taskId: 't1', workerId: 'wa' },
      { taskId: 't2', workerId: 'wb' },
      { taskId: 't3', workerId: 'wa' },
      { taskId: 't4', workerId: 'wb' },
      { taskId: 't5', workerId: 'wc' },
    ]);
    expect(plan([task('t1')], [worker('w1', 1), worker('w2', 3)])).toEqual([{ taskId: 't1', workerId: 'w2' }]);
  });

  it('never plans beyond the free slots', () => {
    const queue = Array.from({ length: 10 }, (_, i) => task(`t${i}`));
    const out = plan(queue, [worker('w1', 2), worker('w2', 1)]);
    expect(out).toHaveLength(3);
    expect(out.filter((a) => a.workerId === 'w1')).toHaveLength(2);
  });

  it('bounds the plan by batchMax and the scan by scanMax', () => {
    const queue = Array.from({ length: 10 }, (_, i) => task(`t${i}`));
    expect(plan(queue, [worker('w1', 100)], { limits: { batchMax: 4, scanMax: 100 } }).map((a) => a.taskId)).toEqual(['t0', 't1', 't2', 't3']);
    // scanMax counts tasks looked at, also those that could not be placed.
    const mixed = [task('later', { notBeforeMs: 10_000 }), task('later2', { notBeforeMs: 10_000 }), task('now1'), task('now2')];
    expect(plan(mixed, [worker('w1', 100)], { limits: { batchMax: 100, scanMax: 3 } }).map((a) => a.taskId)).toEqual(['now1']);
  });

  it('does not consume more of the queue iterable than it scans', () => {
    let pulled = 0;
    function* gen(): Generator<SchedulableTask> {
      for (let i = 0; i < 1000; i++) {
        pulled++;
        yield task(`t${i}`);
      }
    }
    planAssignments({ queue: gen(), workers: [worker('w1', 1000)], runLoad: () => idle, nowMs: 0, limits: { batchMax: 5, scanMax: 100 } });
    expect(pulled).toBeLessThanOrEqual(6);
  });

  it('respects notBeforeMs (retry backoff)', () => {
    const queue = [task('backoff', { notBeforeMs: 1500 }), task('ready')];
    expect(plan(queue, [worker('w1', 4)], { nowMs: 1499 }).map((a) => a.taskId)).toEqual(['ready']);
    expect(plan(queue, [worker('w1', 4)], { nowMs: 1500 }).map((a) => a.taskId)).toEqual(['backoff', 'ready']);
  });

  describe('avoidWorkers', () => {
    it('prefers another candidate', () => {
      expect(plan([task('t1', { avoidWorkers: ['w1'] })], [worker('w1', 5), worker('w2', 1)])).toEqual([{ taskId: 't1', workerId: 'w2' }]);
    });

    it('uses an avoided worker when no other candidate exists at all', () => {
      expect(plan([task('t1', { avoidWorkers: ['w1'] })], [worker('w1', 1)])).toEqual([{ taskId: 't1', workerId: 'w1' }]);
      // Another worker exists but cannot meet the requirements: it is no candidate.
      const workers = [worker('w1', 1), worker('w2', 3, { capabilities: capabilities({ cpus: 1 }) })];
      expect(plan([task('t1', { avoidWorkers: ['w1'], requirements: req({ cpus: 2 }) })], workers)).toEqual([{ taskId: 't1', workerId: 'w1' }]);
      // Every candidate avoided: the one with most free slots.
      expect(plan([task('t1', { avoidWorkers: ['w1', 'w2'] })], [worker('w1', 1), worker('w2', 2)])).toEqual([{ taskId: 't1', workerId: 'w2' }]);
    });

    it('waits when other candidates exist but are busy', () => {
      expect(plan([task('t1', { avoidWorkers: ['w1'] })], [worker('w1', 4), worker('w2', 0)])).toEqual([]);
      // Busy because this plan already filled them.
      const out = plan([task('t1', { avoidWorkers: ['w1'] }), task('t2', { avoidWorkers: ['w1'] }), task('t3')], [worker('w1', 4), worker('w2', 1)]);
      expect(out).toEqual([
        { taskId: 't1', workerId: 'w2' },
        { taskId: 't3', workerId: 'w1' },
      ]);
      const out2 = plan([task('t0'), task('t1'), task('t2', { avoidWorkers: ['w1'] })], [worker('w1', 4), worker('w2', 1)]);
      // t0 → w1 (4 free), t1 → w1 (3 > 1), t2 avoids w1 → w2.
      expect(out2).toEqual([
        { taskId: 't0', workerId: 'w1' },
        { taskId: 't1', workerId: 'w1' },
        { taskId: 't2', workerId: 'w2' },
      ]);
    });
  });

  describe('exclusivity', () => {
    it('holds an exclusive task while parallel-safe tasks of its run are open or anything of it runs', () => {
      const ex = task('ex', { exclusive: true });
      expect(plan([ex], [worker('w1', 4)], { runLoad: () => ({ parallelOpen: 1, running: 0 }) })).toEqual([]);
      expect(plan([ex], [worker('w1', 4)], { runLoad: () => ({ parallelOpen: 0, running: 1 }) })).toEqual([]);
      expect(plan([ex], [worker('w1', 4)])).toEqual([{ taskId: 'ex', workerId: 'w1' }]);
    });

    it('plans one exclusive task per run per plan, and nothing of the run after it', () => {
      const queue = [task('ex1', { exclusive: true }), task('ex2', { exclusive: true }), task('other', { runId: 'r2', exclusive: true })];
      expect(plan(queue, [worker('w1', 4)])).toEqual([
        { taskId: 'ex1', workerId: 'w1' },
        { taskId: 'other', workerId: 'w1' },
      ]);
      // A parallel-safe task planned earlier in the same plan blocks the exclusive one.
      expect(plan([task('p'), task('ex', { exclusive: true })], [worker('w1', 4)])).toEqual([{ taskId: 'p', workerId: 'w1' }]);
    });

    it('looks at the load of the task’s own run only', () => {
      const runLoad = (runId: string): RunLoad => (runId === 'busy' ? { parallelOpen: 3, running: 2 } : idle);
      expect(plan([task('a', { runId: 'busy', exclusive: true }), task('b', { runId: 'free', exclusive: true })], [worker('w1', 4)], { runLoad })).toEqual([
        { taskId: 'b', workerId: 'w1' },
      ]);
    });
  });
});

describe('Orchestrator.queuedTasks order', () => {
  it('yields priority desc, then expectedMs desc, then submission order', () => {
    const d = new Driver();
    d.register(registration('w1', { slots: 1 }));
    // Record timings so tasks get different expected durations: file-less
    // tasks are keyed by suite, shard and matrix.
    d.submit('warm', submission([template({ suite: 'long' }), template({ suite: 'short' })]), 0);
    const warm = d.o.getRun('warm')!;
    for (const [i, ms] of [
      [0, 9000],
      [1, 100],
    ] as const) {
      const t = warm.tasks[i]!;
      d.assign([{ taskId: t.taskId, workerId: 'w1' }], 10);
      d.results([result(`${t.taskId}.a1`, 'w1', { startedAtMs: 0, finishedAtMs: ms })], 20);
    }
    d.submit(
      'r',
      submission([
        template({ suite: 'short', priority: 0 }),
        template({ suite: 'long', priority: 0 }),
        template({ suite: 'short', priority: 5 }),
        template({ suite: 'short', priority: 0 }),
        template({ suite: 'long', priority: -1 }),
      ]),
      30,
    );
    const order = [...d.o.queuedTasks()].map((t) => t.taskId);
    expect(order).toEqual(['r.t3', 'r.t2', 'r.t1', 'r.t4', 'r.t5']);
    const expected = d.o.getRun('r')!.tasks.map((t) => t.expectedMs);
    expect(expected).toEqual([100, 9000, 100, 100, 9000]);
  });
});

describe('TimingHistory', () => {
  it('keeps an exponentially weighted moving average', () => {
    const h = new TimingHistory();
    h.record('a', 1000);
    expect(h.get('a')).toEqual({ ms: 1000, samples: 1 });
    h.record('a', 2000);
    expect(h.get('a')).toEqual({ ms: Math.round(1000 + timingAlpha * 1000), samples: 2 });
    h.record('a', 0);
    expect(h.get('a')).toEqual({ ms: Math.round(1300 - timingAlpha * 1300), samples: 3 });
    h.record('neg', -50);
    expect(h.get('neg')?.ms).toBe(0);
  });

  it('evicts the least recently updated entry at its bound', () => {
    const h = new TimingHistory(3);
    h.record('a', 1);
    h.record('b', 2);
    h.record('c', 3);
    h.record('a', 1); // a is now the most recent
    h.record('d', 4);
    expect(h.size).toBe(3);
    expect(h.get('b')).toBeUndefined();
    expect(h.get('a')).toBeDefined();
    expect(h.toJSON().map((r) => r[0])).toEqual(['c', 'a', 'd']);
  });

  it('has a lower-middle median, and a default when empty', () => {
    const h = new TimingHistory();
    expect(h.median()).toBe(timingUnknownMs);
    h.record('a', 30);
    expect(h.median()).toBe(30);
    h.record('b', 10);
    expect(h.median()).toBe(10);
    h.record('c', 20);
    expect(h.median()).toBe(20);
    h.record('d', 40);
    expect(h.median()).toBe(20);
  });

  it('round-trips through JSON and refuses malformed rows', () => {
    const h = new TimingHistory();
    h.record('x', 5);
    h.record('y', 7);
    const back = TimingHistory.fromJSON(JSON.parse(JSON.stringify(h.toJSON())));
    expect(back.toJSON()).toEqual(h.toJSON());
    expect(back.median()).toBe(h.median());
    expect(() => TimingHistory.fromJSON({})).toThrow(TypeError);
    expect(() => TimingHistory.fromJSON([['x', 'nope', 1]])).toThrow(TypeError);
    expect(() => TimingHistory.fromJSON([['x', null, 1]])).toThrow(TypeError);
  });
});

describe('FlakeHistory', () => {
  it('computes the flaky share of runs', () => {
    const h = new FlakeHistory();
    expect(h.rate('t')).toBeUndefined();
    h.record('t', false);
    expect(h.rate('t')).toBe(0);
    h.record('t', true);
    expect(h.rate('t')).toBe(0.5);
    h.record('t', true);
    h.record('t', false);
    expect(h.rate('t')).toBe(0.5);
    expect(FlakeHistory.fromJSON(h.toJSON()).rate('t')).toBe(0.5);
  });

  it('evicts the least recently updated at its bound', () => {
    const h = new FlakeHistory(2);
    h.record('a', false);
    h.record('b', true);
    h.record('a', false);
    h.record('c', true);
    expect(h.size).toBe(2);
    expect(h.rate('b')).toBeUndefined();
    expect(h.rate('a')).toBe(0);
    expect(() => FlakeHistory.fromJSON([['a', 1.5, 0]])).toThrow(TypeError);
  });
});

describe('splitByTimings', () => {
  it('balances by longest processing time first and sorts each group', () => {
    const ms: Record<string, number> = { a: 10, b: 2, c: 3, d: 8, e: 5 };
    const groups = splitByTimings(['a', 'b', 'c', 'd', 'e'], 2, (f) => ms[f]!);
    // a(10)→0; d(8)→1; e(5)→1 (13); c(3)→0 (13); b(2)→ tie → 0 (15).
    expect(groups).toEqual([
      ['a', 'b', 'c'],
      ['d', 'e'],
    ]);
    const sum = (g: string[]) => g.reduce((s, f) => s + ms[f]!, 0);
    expect(Math.abs(sum(groups[0]!) - sum(groups[1]!))).toBeLessThanOrEqual(Math.max(...Object.values(ms)));
  });

  it('spreads files whose history says 0 ms instead of putting them all in the first group', () => {
    const files = ['a', 'b', 'c', 'd', 'e', 'f'];
    expect(splitByTimings(files, 3, () => 0)).toEqual([
      ['a', 'd'],
      ['b', 'e'],
      ['c', 'f'],
    ]);
  });

  it('is deterministic regardless of input order, and ties break by name', () => {
    const files = Array.from({ length: 40 }, (_, i) => `f${String(i).padStart(2, '0')}.ts`);
    const est = (f: string) => (Number(f.slice(1, 3)) % 7) * 100;
    const one = splitByTimings(files, 4, est);
    const two = splitByTimings([...files].reverse(), 4, est);
    expect(two).toEqual(one);
    expect(one.flat().sort()).toEqual(files);
    const loads = one.map((g) => g.reduce((s, f) => s + est(f), 0));
    expect(Math.max(...loads) - Math.min(...loads)).toBeLessThanOrEqual(600);
    expect(splitByTimings(['b', 'a', 'c', 'd'], 2, () => 1)).toEqual([
      ['a', 'c'],
      ['b', 'd'],
    ]);
  });

  it('gives empty groups when shards outnumber files, and one group for shards < 1', () => {
    expect(splitByTimings(['a'], 3, () => 1)).toEqual([['a'], [], []]);
    expect(splitByTimings(['a', 'b'], 0, () => 1)).toEqual([['a', 'b']]);
  });
});

describe('planAssignments: prefetch', () => {
  const queueOf = (n: number, over: Partial<SchedulableTask> = {}): SchedulableTask[] => Array.from({ length: n }, (_, i) => task(`r1.t${i + 1}`, over));
  const planWith = (queue: SchedulableTask[], workers: SchedulableWorker[], queuedTotal: number | undefined) =>
    planAssignments({ queue, workers, runLoad: () => idle, nowMs: 0, limits, ...(queuedTotal === undefined ? {} : { queuedTotal }) });

  it('fills free slots first, then prefetch room, only with what is queued beyond the free slots and the fleet’s slots', () => {
    const workers = [worker('w1', 2, { slots: 2, prefetchSlots: 1 }), worker('w2', 0, { slots: 2, prefetchSlots: 1 })];
    // 10 queued: 2 free slots, 4 slots in the fleet, so 4 may be prefetched; the room holds 2.
    const out = planWith(queueOf(10), workers, 10);
    expect(out).toEqual([
      { taskId: 'r1.t1', workerId: 'w1' },
      { taskId: 'r1.t2', workerId: 'w1' },
      { taskId: 'r1.t3', workerId: 'w1' },
      { taskId: 'r1.t4', workerId: 'w2' },
    ]);
  });

  it('prefetches nothing at a run’s tail (queued no more than the free slots plus the fleet’s slots)', () => {
    const workers = [worker('w1', 2, { slots: 2, prefetchSlots: 2 }), worker('w2', 0, { slots: 2, prefetchSlots: 2 })];
    expect(planWith(queueOf(6), workers, 6)).toEqual([
      { taskId: 'r1.t1', workerId: 'w1' },
      { taskId: 'r1.t2', workerId: 'w1' },
    ]);
    // One more queued: one prefetched.
    expect(planWith(queueOf(7), workers, 7)).toHaveLength(3);
  });

  it('prefetches nothing without the queue’s length, nor to a worker with no room, nor an exclusive task', () => {
    const roomy = [worker('w1', 0, { slots: 1, prefetchSlots: 4 })];
    expect(planWith(queueOf(50), roomy, undefined)).toEqual([]);
    expect(planWith(queueOf(50), [worker('w1', 0, { slots: 1, prefetchSlots: 0 })], 50)).toEqual([]);
    expect(planWith(queueOf(50, { exclusive: true }), roomy, 50)).toEqual([]);
    expect(planWith(queueOf(50), roomy, 50)).toHaveLength(4);
  });

  it('spreads prefetched tasks over the workers with the most room and keeps away from workers to avoid while others exist', () => {
    const workers = [worker('w1', 0, { slots: 4, prefetchSlots: 2 }), worker('w2', 0, { slots: 4, prefetchSlots: 2 })];
    const out = planWith(queueOf(20, { avoidWorkers: ['w1'] }), workers, 20);
    expect(out.map((a) => a.workerId)).toEqual(['w2', 'w2']);
    const spread = planWith(queueOf(20), workers, 20);
    expect(spread.map((a) => a.workerId).sort()).toEqual(['w1', 'w1', 'w2', 'w2']);
  });
});
