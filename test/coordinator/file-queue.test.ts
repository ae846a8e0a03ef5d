import { inflateRawSync } from 'node:zlib';

import { describe, expect, it } from 'vitest';

import { ExtensionCommandError } from '../../src/coordinator/kv-machine.js';
import { batchMinMs, carveBatch, carveUnrun, checkQueue, openQueue, type FileQueueRec, type QueueTaskView } from '../../src/coordinator/orchestrator/file-queue.js';
import { classOfSuite, fileEstimator, fileTimingKey, TimingHistory } from '../../src/coordinator/orchestrator/history.js';
import { Orchestrator } from '../../src/coordinator/orchestrator/state.js';
import { capabilityKeyOf } from '../../src/coordinator/orchestrator/worker-health.js';
import type { RunView, TaskTemplate, TaskView } from '../../src/model/index.js';
import { AssertionFailure } from '../../src/raft/index.js';
import { capabilities, Driver, registration, result, submission, template, testCase } from './orchestrator-fixtures.js';

const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `f${String(i + 1).padStart(2, '0')}`);
const queueTemplates = (files: readonly string[], lanes: number, over: Partial<TaskTemplate> = {}): TaskTemplate[] =>
  Array.from({ length: lanes }, (_, i) => template({ suite: 'unit', files: [...files], shard: i + 1, shardCount: lanes, queue: true, ...over }));
const flat = (ms: number) => (): number => ms;

describe('file-queue: the pure queue', () => {
  it('orders the files longest first, ties by name', () => {
    const ms: Record<string, number> = { a: 5, b: 9, c: 5, d: 1 };
    const q = openQueue('k', queueTemplates(['a', 'b', 'c', 'd'], 2), (f) => ms[f] ?? 0);
    expect(q.files).toEqual(['b', 'a', 'c', 'd']);
    expect(q.template).toMatchObject({ files: [], shardCount: 4 });
    expect(q.lanes).toBe(2);
  });

  it('carves about remaining ÷ lanes, at least one file, so batches shrink', () => {
    const q = openQueue('k', queueTemplates(names(16), 2), flat(1000));
    const sizes: number[] = [];
    while (q.files.length > 0) sizes.push(carveBatch(q, flat(1000), 0).length);
    expect(sizes).toEqual([8, 4, 2, 1, 1]);
  });

  it('takes at least batchMinMs of estimated work while the queue has it', () => {
    const q = openQueue('k', queueTemplates(names(40), 4), flat(100));
    const sizes: number[] = [];
    while (q.files.length > 0) sizes.push(carveBatch(q, flat(100), 0).length);
    // 4,000 ms ÷ 4 lanes = 1,000 ms (10 files), then shares shrink to the 500 ms floor (5 files of 100 ms).
    expect(sizes).toEqual([10, 7, 5, 5, 5, 5, 3]);
    expect(batchMinMs).toBe(500);
  });

  it('takes a long head file alone and leaves a file for each other uncarved batch', () => {
    const ms: Record<string, number> = { big: 100_000, a: 1, b: 1, c: 1 };
    const q = openQueue('k', queueTemplates(['a', 'b', 'big', 'c'], 4), (f) => ms[f] ?? 0);
    expect(carveBatch(q, (f) => ms[f] ?? 0, 0)).toEqual(['big']);
    const tiny = openQueue('k', queueTemplates(['a', 'b', 'c'], 1), flat(1));
    // Remaining 3 ms ÷ 2 would take one; with a target below a file it still takes one, and never eats the others' files.
    expect(carveBatch(tiny, () => 0, 2)).toEqual(['a']);
    expect(carveUnrun(tiny, 1)).toEqual(['b']);
    expect(tiny.files).toEqual(['c']);
    expect(() => carveBatch(tiny, flat(1), 1)).toThrow(AssertionFailure);
  });

  it('checkQueue fails on a file in two places, a lost file, too many lanes, and a verdict with files left', () => {
    const q: FileQueueRec = { ...openQueue('k', queueTemplates(['a', 'b', 'c'], 1), flat(1)), taskIds: ['t1'] };
    const tasks = new Map<string, QueueTaskView>([['t1', { taskId: 't1', files: [], open: true }]]);
    const view = (id: string) => tasks.get(id);
    q.files = ['a', 'b', 'c'];
    expect(() => checkQueue(q, view, false, false)).not.toThrow();
    tasks.set('t1', { taskId: 't1', files: ['a'], open: true });
    expect(() => checkQueue(q, view, false, false)).toThrow(/a file is in two places/);
    q.files = ['b'];
    expect(() => checkQueue(q, view, false, false)).toThrow(/lost files/);
    q.files = ['b', 'c'];
    q.taskIds = ['t1', 't2'];
    tasks.set('t2', { taskId: 't2', files: [], open: true });
    expect(() => checkQueue(q, view, false, false)).toThrow(/2 open batches for 1 lanes/);
    q.taskIds = ['t1'];
    tasks.set('t1', { taskId: 't1', files: ['a'], open: false });
    expect(() => checkQueue(q, view, true, false)).toThrow(/ended with 2 files never run/);
    expect(() => checkQueue(q, view, true, true)).not.toThrow();
  });
});

describe('file timings per capability class', () => {
  it('estimates from the class, then the class-less record, then the median', () => {
    const h = new TimingHistory();
    h.record(fileTimingKey('unit', 'a'), 400);
    h.record(fileTimingKey('unit', 'a', 'fast'), 100);
    h.record(fileTimingKey('unit', 'b'), 800);
    const fast = fileEstimator(h, 'unit', 'fast');
    expect([fast('a'), fast('b')]).toEqual([100, 800]);
    expect(fileEstimator(h, 'unit', '')('a')).toBe(400);
    expect(fileEstimator(h, 'unit', 'slow')('a')).toBe(400);
    expect(fast('unknown')).toBe(h.median());
    // Class-less keys are the ones older snapshots hold.
    expect(fileTimingKey('unit', 'a')).toBe('unit\u0000a');
  });

  it('picks the class with the most slots among the workers that meet the requirements', () => {
    const small = capabilities({ cpus: 2 });
    const big = capabilities({ cpus: 16, labels: { os: 'linux', arch: 'x64', node: '20', gpu: 'yes' } });
    const w = (c: typeof small, slots: number, state = 'active') => ({ capabilityKey: capabilityKeyOf(c), capabilities: c, slots, state });
    const workers = [w(small, 2), w(small, 2), w(big, 3), w(big, 8, 'lost')];
    const req = { labels: {}, cpus: 0, memoryMb: 0, tools: [] };
    expect(classOfSuite(workers, req)).toBe(capabilityKeyOf(small));
    expect(classOfSuite(workers, { ...req, labels: { gpu: 'yes' } })).toBe(capabilityKeyOf(big));
    expect(classOfSuite(workers, { ...req, cpus: 64 })).toBe('');
  });

  it('records a batch file under its worker class and class-less', () => {
    const d = new Driver();
    d.register(registration('w1', { slots: 1 }));
    d.submit('r1', submission([template({ files: ['a.test.js'] })]));
    d.schedule(0);
    d.results([result('r1.t1.a1', 'w1', { tests: [testCase({ file: 'a.test.js', timeSec: 2 })] })]);
    const timings = new Map((JSON.parse(snapshotJson(d)) as { timings: [string, number, number][] }).timings.map(([k, ms]) => [k, ms]));
    expect(timings.get(fileTimingKey('unit', 'a.test.js'))).toBe(2000);
    expect(timings.get(fileTimingKey('unit', 'a.test.js', capabilityKeyOf(capabilities())))).toBe(2000);
  });
});

function snapshotJson(d: Driver): string {
  return inflateRawSync(d.o.snapshot()).toString('utf8');
}

/** Running attempts of the run, in task order. */
function running(view: RunView): { attemptId: string; workerId: string; task: TaskView }[] {
  const out: { attemptId: string; workerId: string; task: TaskView }[] = [];
  for (const task of view.tasks) {
    const a = task.attempts.at(-1);
    if (task.state === 'running' && a !== undefined) out.push({ attemptId: a.attemptId, workerId: a.workerId, task });
  }
  return out;
}

const passedFor = (attemptId: string, workerId: string, files: readonly string[]) =>
  result(attemptId, workerId, { tests: files.map((f) => testCase({ classname: f, name: 'case', file: f, timeSec: 1 })) });

/** Schedules and passes the first running attempt until the run ends; checks the lanes after each step. */
function drive(ds: Driver[], runId: string, lanes: number, stepsMax = 200): void {
  for (let step = 1; step <= stepsMax; step++) {
    const atMs = step * 10;
    const plan = ds[0]!.plan(atMs);
    for (const d of ds) d.assign(plan, atMs);
    const view = ds[0]!.o.getRun(runId)!;
    if (view.state !== 'running') return;
    expect(view.tasks.filter((t) => t.state === 'queued' || t.state === 'running').length).toBeLessThanOrEqual(lanes);
    const first = running(view)[0];
    if (first === undefined) continue;
    for (const d of ds) d.results([passedFor(first.attemptId, first.workerId, first.task.files)], atMs);
    const hex = ds[0]!.snapshotHex();
    for (const d of ds) expect(d.snapshotHex()).toBe(hex);
  }
  throw new Error(`run ${runId} did not end in ${stepsMax} steps`);
}

/** Each file's tests as the final report counts them: the last counted attempt of each task. */
function reportedFiles(view: RunView): string[] {
  const out: string[] = [];
  for (const task of view.tasks) {
    const counted = task.attempts.filter((a) => a.result !== undefined && a.state !== 'lost');
    for (const test of counted.at(-1)?.result?.tests ?? []) out.push(test.file);
  }
  return out.sort();
}

describe('Orchestrator: queue mode', () => {
  it('starts N uncarved batches and carves them at assignment, longest first', () => {
    const d = new Driver();
    d.register(registration('w1', { slots: 2 }));
    expect(d.submit('r1', submission(queueTemplates(names(16), 2)))).toEqual({ runId: 'r1', tasks: 2 });
    const before = d.o.getRun('r1')!;
    expect(before.tasks.map((t) => [t.files, t.template.shard, t.template.shardCount])).toEqual([
      [[], 1, 16],
      [[], 2, 16],
    ]);
    d.schedule(10);
    const after = d.o.getRun('r1')!;
    expect(after.tasks.map((t) => t.files)).toEqual([names(8), names(12).slice(8)]);
  });

  it('refills a lane when a batch ends, and runs every file exactly once', () => {
    const d = new Driver();
    d.register(registration('w1', { slots: 2 }));
    d.register(registration('w2', { slots: 2 }));
    d.submit('r1', submission(queueTemplates(names(16), 3)));
    drive([d], 'r1', 3);
    const view = d.o.getRun('r1')!;
    expect(view.state).toBe('passed');
    expect(view.tasks.length).toBeGreaterThan(3);
    expect(view.tasks.flatMap((t) => t.files).sort()).toEqual(names(16));
    expect(reportedFiles(view)).toEqual(names(16));
    // Batches shrink: the last ones are single files.
    expect(view.tasks.at(-1)?.files).toHaveLength(1);
    expect(view.tasks[0]!.files.length).toBeGreaterThan(1);
  });

  it('two replicas applying the same commands agree at every step', () => {
    const a = new Driver();
    const b = new Driver();
    for (const d of [a, b]) {
      d.register(registration('w1', { slots: 2 }));
      d.register(registration('w2', { slots: 1, capabilities: capabilities({ cpus: 8 }) }));
      d.submit('r1', submission([...queueTemplates(names(12), 2), ...queueTemplates(names(5), 2, { suite: 'other' })]));
    }
    drive([a, b], 'r1', 4);
    expect(a.o.getRun('r1')).toEqual(b.o.getRun('r1'));
  });

  it('a snapshot taken mid-queue restores the queue, and the copy goes on in step', () => {
    const d = new Driver();
    d.register(registration('w1', { slots: 2 }));
    d.submit('r1', submission(queueTemplates(names(10), 2)));
    d.schedule(10);
    const first = running(d.o.getRun('r1')!)[0]!;
    d.results([passedFor(first.attemptId, first.workerId, first.task.files)], 20);
    const copy = new Driver(new Orchestrator());
    copy.o.restore(d.o.snapshot());
    copy.o.checkInvariants();
    expect(copy.snapshotHex()).toBe(d.snapshotHex());
    const queues = (JSON.parse(snapshotJson(d)) as { runs: { queues: FileQueueRec[] }[] }).runs[0]!.queues;
    expect(queues).toHaveLength(1);
    expect(queues[0]!.files.length).toBeGreaterThan(0);
    drive([d, copy], 'r1', 2);
    expect(copy.o.getRun('r1')!.state).toBe('passed');
    expect(reportedFiles(copy.o.getRun('r1')!)).toEqual(names(10));
  });

  it('a batch lost with its worker is retried with its files, and its late result is not counted', () => {
    const d = new Driver();
    d.register(registration('w1', { slots: 1 }));
    d.submit('r1', submission(queueTemplates(names(6), 1, { retries: 0 })));
    d.schedule(10);
    const lostOne = running(d.o.getRun('r1')!)[0]!;
    expect(d.lost('w1', 20)).toEqual({ requeued: 1, failed: 0 });
    const requeued = d.o.getRun('r1')!.tasks.find((t) => t.taskId === lostOne.task.taskId)!;
    expect(requeued.state).toBe('queued');
    expect(requeued.files).toEqual(lostOne.task.files);
    d.register(registration('w2', { slots: 1 }), 30);
    d.schedule(1_000);
    const retry = running(d.o.getRun('r1')!)[0]!;
    expect(retry.task.taskId).toBe(lostOne.task.taskId);
    expect(retry.workerId).toBe('w2');
    expect(retry.task.files).toEqual(lostOne.task.files);
    // The lost worker's verdict arrives late: recorded, never counted.
    expect(d.results([passedFor(lostOne.attemptId, 'w1', lostOne.task.files)], 1_010).statuses[0]?.status).toBe('late');
    drive([d], 'r1', 1);
    const view = d.o.getRun('r1')!;
    expect(view.state).toBe('passed');
    expect(reportedFiles(view)).toEqual(names(6));
  });

  it('uncarved batches that no worker can run take the files left, so the report names them', () => {
    const d = new Driver();
    d.register(registration('w1', { slots: 1 }));
    d.submit('r1', submission(queueTemplates(names(5), 2)));
    d.schedule(10);
    const [first] = running(d.o.getRun('r1')!);
    const uncarved = d.o.getRun('r1')!.tasks.filter((t) => t.files.length === 0).map((t) => t.taskId);
    expect(uncarved).toHaveLength(1);
    d.apply({ type: 'fail-tasks', taskIds: uncarved, reason: 'no worker meets the requirements' }, 20);
    d.results([passedFor(first!.attemptId, 'w1', first!.task.files)], 30);
    const view = d.o.getRun('r1')!;
    expect(view.state).toBe('failed');
    expect(view.tasks.flatMap((t) => t.files).sort()).toEqual(names(5));
    expect(view.tasks.find((t) => t.taskId === uncarved[0])).toMatchObject({ state: 'failed-infra' });
  });

  it('a cancelled run leaves its queue as it is', () => {
    const d = new Driver();
    d.register(registration('w1', { slots: 1 }));
    d.submit('r1', submission(queueTemplates(names(8), 2)));
    d.schedule(10);
    d.cancel('r1', 20);
    const view = d.o.getRun('r1')!;
    expect(view.state).toBe('cancelled');
    expect(view.tasks).toHaveLength(2);
  });

  it('orders and carves by the history of the capability class that runs the suite', () => {
    const d = new Driver();
    const poolA = capabilities({ labels: { os: 'linux', arch: 'x64', node: '20', pool: 'a' } });
    const poolB = capabilities({ cpus: 16, labels: { os: 'linux', arch: 'x64', node: '20', pool: 'b' } });
    d.register(registration('wa', { slots: 1, capabilities: poolA }));
    d.register(registration('wb', { slots: 1, capabilities: poolB }));
    const on = (pool: string) => ({ labels: { pool }, cpus: 0, memoryMb: 0, tools: [] });
    // Class a finds x slow and y fast; class b the other way round; the class-less history leans to a.
    d.submit('ra', submission([template({ files: ['x', 'y'], requirements: on('a') })]));
    d.submit('rb', submission([template({ files: ['x', 'y'], requirements: on('b') })]));
    d.schedule(10);
    d.results([result('ra.t1.a1', 'wa', { tests: [testCase({ file: 'x', timeSec: 5 }), testCase({ file: 'y', timeSec: 1 })] })], 20);
    d.results([result('rb.t1.a1', 'wb', { tests: [testCase({ file: 'x', timeSec: 1 }), testCase({ file: 'y', timeSec: 5 })] })], 30);
    d.submit('qb', submission(queueTemplates(['x', 'y'], 2, { requirements: on('b') })), 40);
    d.submit('qa', submission(queueTemplates(['x', 'y'], 2, { requirements: on('a') })), 40);
    d.schedule(50);
    expect(d.o.getRun('qb')!.tasks.map((t) => t.files)).toEqual([['y'], []]);
    expect(d.o.getRun('qa')!.tasks.map((t) => t.files)).toEqual([['x'], []]);
  });

  it('leaves the snapshot of a run without queues as it was (no queues key)', () => {
    const d = new Driver();
    d.register(registration('w1', { slots: 1 }));
    d.submit('r1', submission([template({ files: ['a'] })]));
    const state = JSON.parse(snapshotJson(d)) as { runs: Record<string, unknown>[] };
    expect(Object.keys(state.runs[0]!)).not.toContain('queues');
  });

  it.each([
    ['more lanes than files', queueTemplates(names(2), 3), /3 lanes for 2 files/],
    ['templates that disagree on the files', [...queueTemplates(names(3), 1), ...queueTemplates(names(4), 1)], /disagree on the files/],
    ['a timing split on top', queueTemplates(names(3), 2, { splitByTimings: true }), /cannot also be split by timings/],
    ['no files', queueTemplates([], 1), /has no files/],
  ])('refuses a submission with %s', (_what, tasks, message) => {
    const d = new Driver();
    expect(() => d.submit('r1', submission(tasks))).toThrow(ExtensionCommandError);
    expect(() => d.submit('r1', submission(tasks))).toThrow(message);
  });
});
