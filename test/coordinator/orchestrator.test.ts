import { deflateRawSync, inflateRawSync } from 'node:zlib';

import { describe, expect, it } from 'vitest';

import { SnapshotDecodeError } from '../../src/coordinator/codec.js';
import { ExtensionCommandError } from '../../src/coordinator/kv-machine.js';
import { decodeOrchCommand, deflateOffLoopBytesMin, encodeOrchCommand, encodeOrchCommandOffLoop, type OrchCommand } from '../../src/coordinator/orchestrator/commands.js';
import { cancelledRunsMax, Orchestrator, retryBackoffBaseMs, workersMax, type OrchEvent, type ResultStatus } from '../../src/coordinator/orchestrator/state.js';
import type { AttemptResult, RunCounts, TaskTemplate } from '../../src/model/index.js';
import { AssertionFailure } from '../../src/raft/index.js';
import { planAssignments, scheduleLimitsDefault } from '../../src/coordinator/orchestrator/scheduler.js';
import { capabilities, Driver, failed, infra, registration, result, submission, template, testCase } from './orchestrator-fixtures.js';

const counts = (over: Partial<RunCounts>): RunCounts => ({ tasks: 0, queued: 0, running: 0, passed: 0, failed: 0, cancelled: 0, failedInfra: 0, ...over });

const queued = (d: Driver) => [...d.o.queuedTasks()];
const statuses = (out: { statuses: readonly { status: ResultStatus }[] }) => out.statuses.map((s) => s.status);

/** Applies a raw payload (bypassing encodeOrchCommand) and checks invariants. */
function applyRaw(d: Driver, json: string, atMs = 0): unknown {
  try {
    return d.o.apply(++d.index, atMs, Buffer.from(json, 'utf8'), false);
  } finally {
    d.o.checkInvariants();
  }
}

describe('Orchestrator: the happy path', () => {
  it('registers, submits, assigns and counts results until the run passes', () => {
    const d = new Driver();
    expect(d.register(registration('w1', { slots: 2 }), 100)).toEqual({ workerId: 'w1', resend: [], cancel: [], reset: false, interrupted: 0 });
    expect(d.o.listWorkers()).toEqual([
      {
        workerId: 'w1',
        name: 'host-w1',
        capabilities: capabilities(),
        slots: 2,
        state: 'active',
        registeredAtMs: 100,
        running: [],
        httpAddress: 'w1:7070',
        breaker: { state: 'closed', reason: expect.any(String) as string, sinceMs: 100 },
        resetting: false,
      },
    ]);

    expect(d.submit('r1', submission([template({ suite: 'a' }), template({ suite: 'b' })], { name: 'nightly' }), 200)).toEqual({ runId: 'r1', tasks: 2 });
    expect(d.o.listRuns()).toEqual([{ runId: 'r1', name: 'nightly', state: 'running', submittedAtMs: 200, finishedAtMs: 0, counts: counts({ tasks: 2, queued: 2 }), degraded: false }]);
    expect(d.o.queuedCount).toBe(2);

    const assigned = d.schedule(300);
    expect(assigned).toEqual({
      assigned: [
        { attemptId: 'r1.t1.a1', taskId: 'r1.t1', workerId: 'w1' },
        { attemptId: 'r1.t2.a1', taskId: 'r1.t2', workerId: 'w1' },
      ],
      skipped: 0,
    });
    expect(d.o.runSummary('r1')?.counts).toEqual(counts({ tasks: 2, running: 2 }));
    expect(d.o.worker('w1')?.running).toEqual(['r1.t1.a1', 'r1.t2.a1']);
    expect(d.o.runLoad('r1')).toEqual({ parallelOpen: 2, running: 2 });
    expect(d.o.attemptOrder('r1.t2.a1')).toEqual({
      attemptId: 'r1.t2.a1',
      number: 1,
      taskId: 'r1.t2',
      runId: 'r1',
      template: template({ suite: 'b' }),
      files: [],
      setup: ['npm ci'],
      setupCacheKey: 'abc123',
      sourceDir: '/src',
      spawnRetries: 2,
    });
    expect(d.o.attemptOrder('r1.t3.a1')).toBeUndefined();

    const first = result('r1.t1.a1', 'w1', { tests: [testCase({ name: 'one' })] });
    expect(d.results([first], 400)).toEqual({ statuses: [{ attemptId: 'r1.t1.a1', status: 'counted' }] });
    expect(d.o.runSummary('r1')).toMatchObject({ state: 'running', counts: counts({ tasks: 2, running: 1, passed: 1 }) });
    expect(d.o.worker('w1')?.running).toEqual(['r1.t2.a1']);

    expect(statuses(d.results([result('r1.t2.a1', 'w1')], 500))).toEqual(['counted']);
    expect(d.o.listRuns()).toEqual([{ runId: 'r1', name: 'nightly', state: 'passed', submittedAtMs: 200, finishedAtMs: 500, counts: counts({ tasks: 2, passed: 2 }), degraded: false }]);
    expect(d.o.runLoad('r1')).toEqual({ parallelOpen: 0, running: 0 });

    const view = d.o.getRun('r1')!;
    expect(view).toMatchObject({ runId: 'r1', name: 'nightly', state: 'passed', setup: ['npm ci'], setupCacheKey: 'abc123', sourceDir: '/src' });
    expect(view.flakiness).toEqual({ 'a/suite::one': 0 });
    expect(view.tasks).toHaveLength(2);
    expect(view.tasks[0]).toEqual({
      taskId: 'r1.t1',
      runId: 'r1',
      template: template({ suite: 'a' }),
      files: [],
      state: 'passed',
      reason: '',
      queuedAtMs: 200,
      finishedAtMs: 400,
      expectedMs: 1000,
      attempts: [{ attemptId: 'r1.t1.a1', number: 1, workerId: 'w1', assignedAtMs: 300, state: 'passed', result: first, reason: '', lateResults: 0 }],
      decisions: [],
    });
    expect(d.o.worker('w1')?.running).toEqual([]);
    expect(d.o.getRun('nope')).toBeUndefined();
    expect(d.o.runSummary('nope')).toBeUndefined();
    expect(d.o.worker('nope')).toBeUndefined();
    expect(d.o.runLoad('nope')).toEqual({ parallelOpen: 0, running: 0 });
  });

  it('finishes an empty run at once', () => {
    const d = new Driver();
    expect(d.submit('empty', submission([]), 7)).toEqual({ runId: 'empty', tasks: 0 });
    expect(d.o.runSummary('empty')).toMatchObject({ state: 'passed', finishedAtMs: 7 });
  });

  it('tells listeners which runs a command touched', () => {
    const d = new Driver();
    const seen: [string[], string][] = [];
    const off = d.o.onChange((runs, type) => seen.push([[...runs].sort(), type]));
    d.register(registration('w1'));
    d.submit('r1', submission([template()]));
    d.submit('r2', submission([template()]));
    d.assign([{ taskId: 'r2.t1', workerId: 'w1' }]);
    off();
    d.cancel('r1');
    expect(seen).toEqual([
      [[], 'register-worker'],
      [['r1'], 'submit-run'],
      [['r2'], 'submit-run'],
      [['r2'], 'assign'],
    ]);
  });

  it('deflates large commands and applies them the same', () => {
    const d = new Driver();
    const sub = submission(Array.from({ length: 60 }, (_, i) => template({ suite: `s${i}` })));
    expect(encodeOrchCommand({ type: 'submit-run', runId: 'big', submission: sub }).deflated).toBe(true);
    expect(d.submit('big', sub).tasks).toBe(60);
    expect(d.o.queuedCount).toBe(60);
  });

  it('encodes the same bytes off the event loop, small, mid-sized and large', async () => {
    const sizes = [1, 60, 2000];
    const encoded = sizes.map((n) => ({ type: 'submit-run' as const, runId: `r${n}`, submission: submission(Array.from({ length: n }, (_, i) => template({ suite: `s${i}` }))) }));
    expect(Buffer.byteLength(JSON.stringify(encoded[2]))).toBeGreaterThan(deflateOffLoopBytesMin);
    for (const command of encoded) {
      const off = await encodeOrchCommandOffLoop(command);
      const on = encodeOrchCommand(command);
      expect(off.deflated).toBe(on.deflated);
      expect(Buffer.from(off.payload).equals(Buffer.from(on.payload))).toBe(true);
    }
  });
});

describe('Orchestrator: submit-run on the log', () => {
  /** The command's JSON as written to the log. */
  const jsonOf = (command: OrchCommand): string => {
    const { payload, deflated } = encodeOrchCommand(command);
    return (deflated ? inflateRawSync(payload) : Buffer.from(payload)).toString('utf8');
  };
  const mixed = (): TaskTemplate[] => {
    const files = ['a.test.ts', 'b.test.ts', 'c.test.ts'];
    return [
      ...Array.from({ length: 3 }, (_, i) => template({ suite: 'timed', files, splitByTimings: true, shard: i + 1, shardCount: 3 })),
      template({ suite: 'queued', files, queue: true, shard: 1, shardCount: 2 }),
      template({ suite: 'queued', files, queue: true, shard: 2, shardCount: 2 }),
      // queue dropped, files emptied, env and matrix set
      template({ suite: 'cells', matrix: { os: 'linux' }, env: { A: '1', B: '2' } }),
      template({ suite: 'cells', matrix: { os: 'mac' }, env: { A: '1', B: '2' } }),
      // the same env in another key order is written out, not taken from the task before
      template({ suite: 'cells', matrix: { os: 'mac' }, env: { B: '2', A: '1' } }),
      template({ suite: 'cells', matrix: { os: 'mac' }, env: { B: '2', A: '1' } }),
      template({ requirements: { labels: { gpu: 'yes' }, cpus: 2, memoryMb: 0, tools: ['node'] }, priority: 3, retries: 1, exclusive: true }),
    ];
  };

  it('writes every template in full for a cluster with an older member (taskDeltas: false), which decodes to the same command', () => {
    const tasks = mixed();
    const command: OrchCommand = { type: 'submit-run', runId: 'r1', submission: submission(tasks) };
    const { payload, deflated } = encodeOrchCommand(command, { taskDeltas: false });
    const wire = JSON.parse((deflated ? inflateRawSync(payload) : Buffer.from(payload)).toString('utf8')) as Record<string, unknown>;
    expect(wire).not.toHaveProperty('taskDeltas');
    expect(wire['submission']).toEqual(JSON.parse(JSON.stringify(command.submission)));
    expect(decodeOrchCommand(payload, deflated)).toEqual(command);
    // Other commands are written the same either way.
    const cancel: OrchCommand = { type: 'cancel-run', runId: 'r1', reason: 'x' };
    expect(Buffer.from(encodeOrchCommand(cancel, { taskDeltas: false }).payload).equals(Buffer.from(encodeOrchCommand(cancel).payload))).toBe(true);
  });

  it('writes each template as what differs from the task before, and every replica reads back the templates sent', () => {
    const tasks = mixed();
    const command: OrchCommand = { type: 'submit-run', runId: 'r1', submission: submission(tasks) };
    const wire = JSON.parse(jsonOf(command)) as { submission: Record<string, unknown>; taskDeltas: Record<string, unknown>[] };
    expect(wire.submission).not.toHaveProperty('tasks');
    expect(wire.taskDeltas[0]).toEqual(JSON.parse(JSON.stringify(tasks[0])));
    expect(wire.taskDeltas[1]).toEqual({ shard: 2 });
    expect(wire.taskDeltas[3]).toEqual({ suite: 'queued', shard: 1, shardCount: 2, splitByTimings: false, queue: true });
    expect(wire.taskDeltas[5]).toMatchObject({ queue: null, files: [], matrix: { os: 'linux' } });
    expect(wire.taskDeltas[7]).toEqual({ env: { B: '2', A: '1' } });
    expect(wire.taskDeltas[8]).toEqual({});
    const { payload, deflated } = encodeOrchCommand(command);
    const back = decodeOrchCommand(payload, deflated);
    expect(back).toEqual(command);
    if (back.type !== 'submit-run') throw new Error('not a submit-run');
    back.submission.tasks.forEach((t, i) => {
      expect(Object.keys(t).sort(), `task ${i}`).toEqual(Object.keys(tasks[i]!).sort());
      expect(JSON.stringify(t.env), `task ${i}`).toBe(JSON.stringify(tasks[i]!.env));
    });
    // Applied: the tasks carry the templates sent.
    const d = new Driver();
    d.submit('r1', submission(tasks));
    const run = d.o.getRun('r1')!;
    expect(run.tasks.map((t) => t.template.suite)).toEqual(tasks.map((t) => t.suite));
    expect(run.tasks.map((t) => t.template.queue ?? false)).toEqual(tasks.map((t) => t.queue ?? false));
    expect(run.tasks.map((t) => t.template.env)).toEqual(tasks.map((t) => t.env));
  });

  it('writes thousands of copies of a template in a few bytes each', () => {
    const many = submission(Array.from({ length: 2000 }, () => template({ files: ['x.test.ts'], env: { CI: '1' } })));
    const json = jsonOf({ type: 'submit-run', runId: 'many', submission: many });
    expect(Buffer.byteLength(JSON.stringify(many))).toBeGreaterThan(400_000);
    expect(Buffer.byteLength(json)).toBeLessThan(10_000);
    const d = new Driver();
    expect(d.submit('many', many).tasks).toBe(2000);
    expect(d.o.queuedCount).toBe(2000);
  });

  it('still reads submit-run entries written with every task in full', () => {
    const d = new Driver();
    const tasks = mixed();
    expect(applyRaw(d, JSON.stringify({ type: 'submit-run', runId: 'old', submission: submission(tasks) }))).toEqual({ runId: 'old', tasks: tasks.length });
    expect(d.o.getRun('old')!.tasks.map((t) => t.template.env)).toEqual(tasks.map((t) => t.env));
  });

  it('refuses malformed task deltas and changes nothing', () => {
    const d = new Driver();
    const rest = { name: 'run', setup: [], setupCacheKey: '', sourceDir: '/src' };
    const first = JSON.stringify(template());
    const bad = [
      `{"type":"submit-run","runId":"x","submission":${JSON.stringify(rest)},"taskDeltas":{}}`,
      `{"type":"submit-run","runId":"x","submission":${JSON.stringify(rest)},"taskDeltas":[${first},"shard"]}`,
      `{"type":"submit-run","runId":"x","submission":${JSON.stringify(rest)},"taskDeltas":[${first},[1]]}`,
      `{"type":"submit-run","runId":"x","submission":${JSON.stringify(rest)},"taskDeltas":[${first},{"__proto__":{"shard":9}}]}`,
      `{"type":"submit-run","runId":"x","submission":${JSON.stringify({ ...rest, tasks: [template()] })},"taskDeltas":[${first}]}`,
      // a delta that drops a field every template needs fails the submission's own checks
      `{"type":"submit-run","runId":"x","submission":${JSON.stringify(rest)},"taskDeltas":[${first},{"command":null}]}`,
    ];
    for (const json of bad) expect(() => applyRaw(d, json), json).toThrow(ExtensionCommandError);
    expect(d.o.getRun('x')).toBeUndefined();
    expect(d.o.queuedCount).toBe(0);
  });
});

describe('Orchestrator: retries', () => {
  it('requeues a failed test with backoff and avoidance, and records flakiness when it then passes', () => {
    const d = new Driver();
    d.register(registration('w1', { slots: 1 }));
    d.register(registration('w2', { slots: 1 }));
    d.submit('r1', submission([template({ retries: 2 })]), 0);
    expect(d.assign([{ taskId: 'r1.t1', workerId: 'w1' }], 10).assigned).toHaveLength(1);

    const tests1 = [testCase({ name: 'flaky', status: 'failed', message: 'boom' }), testCase({ name: 'stable' })];
    expect(statuses(d.results([failed('r1.t1.a1', 'w1', { tests: tests1 })], 1000))).toEqual(['counted']);
    expect(d.o.runSummary('r1')?.counts).toEqual(counts({ tasks: 1, queued: 1 }));
    expect(queued(d)).toEqual([expect.objectContaining({ taskId: 'r1.t1', notBeforeMs: 1000 + retryBackoffBaseMs, avoidWorkers: ['w1'] })]);
    expect(d.o.nextBackoffEndMs(1000)).toBe(1500);
    expect(d.o.nextBackoffEndMs(1500)).toBeNull();

    // Not before the backoff ends; then on the other worker.
    expect(d.plan(1499)).toEqual([]);
    expect(d.schedule(1500).assigned).toEqual([{ attemptId: 'r1.t1.a2', taskId: 'r1.t1', workerId: 'w2' }]);
    expect(d.o.getRun('r1')!.tasks[0]!.attempts.map((a) => [a.number, a.state])).toEqual([
      [1, 'failed'],
      [2, 'running'],
    ]);

    expect(statuses(d.results([failed('r1.t1.a2', 'w2', { tests: tests1 })], 2000))).toEqual(['counted']);
    // Second failure: 500·2^1.
    expect(queued(d)).toEqual([expect.objectContaining({ notBeforeMs: 2000 + 2 * retryBackoffBaseMs, avoidWorkers: ['w1', 'w2'] })]);
    // Every candidate is avoided: one of them is used.
    expect(d.schedule(3000).assigned).toEqual([{ attemptId: 'r1.t1.a3', taskId: 'r1.t1', workerId: 'w1' }]);

    const tests3 = [testCase({ name: 'flaky' }), testCase({ name: 'stable' })];
    expect(statuses(d.results([result('r1.t1.a3', 'w1', { tests: tests3 })], 4000))).toEqual(['counted']);
    const run = d.o.getRun('r1')!;
    expect(run.state).toBe('passed');
    expect(run.counts).toEqual(counts({ tasks: 1, passed: 1 }));
    expect(run.tasks[0]!.attempts.map((a) => a.state)).toEqual(['failed', 'failed', 'passed']);
    expect(run.flakiness).toEqual({ 'unit/suite::flaky': 1, 'unit/suite::stable': 0 });

    // A second run where the test passes at once halves its rate.
    d.submit('r2', submission([template({ retries: 2 })]), 5000);
    d.schedule(5000);
    d.results([result('r2.t1.a1', 'w1', { tests: tests3 })], 6000);
    expect(d.o.getRun('r2')!.flakiness).toEqual({ 'unit/suite::flaky': 0.5, 'unit/suite::stable': 0 });
    // The counts behind the rates, and the names of the workers, for the reports.
    expect(d.o.getRun('r2')!.flakinessHistory).toEqual({ 'unit/suite::flaky': { runs: 2, flaky: 1 }, 'unit/suite::stable': { runs: 2, flaky: 0 } });
    expect(Object.keys(run.workers ?? {}).sort()).toEqual(['w1', 'w2']);
    expect(run.workers?.['w1']?.name).toBe('host-w1');
  });

  it('fails the task and the run when retries are exhausted', () => {
    const d = new Driver();
    d.register(registration('w1', { slots: 1 }));
    d.submit('r1', submission([template({ retries: 1 }), template({ suite: 'other' })]), 0);
    d.schedule(0);
    d.results([failed('r1.t1.a1', 'w1', { tests: [testCase({ status: 'failed' })] })], 100);
    expect(d.o.runSummary('r1')?.counts).toEqual(counts({ tasks: 2, queued: 2 }));
    // t2 (no backoff) goes first; t1 waits for its backoff.
    expect(d.schedule(100).assigned.map((a) => a.taskId)).toEqual(['r1.t2']);
    d.results([result('r1.t2.a1', 'w1')], 200);
    expect(d.schedule(600).assigned.map((a) => a.attemptId)).toEqual(['r1.t1.a2']);
    d.results([failed('r1.t1.a2', 'w1', { reason: 'exit 1', tests: [testCase({ status: 'failed' })] })], 700);
    const run = d.o.getRun('r1')!;
    expect(run).toMatchObject({ state: 'failed', finishedAtMs: 700, counts: counts({ tasks: 2, passed: 1, failed: 1 }) });
    expect(run.tasks[0]).toMatchObject({ state: 'failed', reason: 'exit 1', finishedAtMs: 700 });
    expect(run.flakiness).toEqual({ 'unit/suite::works': 0 });
    expect(queued(d)).toEqual([]);
  });

  it('climbs the recovery ladder on each infrastructure failure of a task, then gives up naming classes and workers', () => {
    const d = new Driver();
    const events: OrchEvent[] = [];
    d.o.onChange((_runs, _type, evs) => events.push(...evs));
    for (const w of ['w1', 'w2', 'w3']) d.register(registration(w, { slots: 1 }));
    d.submit('r1', submission([template({ retries: 0 })]), 0);

    // Level 1: retry on the same worker after a short backoff.
    d.assign([{ taskId: 'r1.t1', workerId: 'w1' }], 0);
    d.results([infra('r1.t1.a1', 'w1', 'crash')], 1000);
    expect(queued(d)[0]).toMatchObject({ preferWorker: 'w1', avoidWorkers: [] });
    expect(d.plan(10_000)).toEqual([{ taskId: 'r1.t1', workerId: 'w1' }]);
    // Level 2: move to another worker.
    d.assign([{ taskId: 'r1.t1', workerId: 'w1' }], 10_000);
    d.results([infra('r1.t1.a2', 'w1', 'crash')], 11_000);
    expect(queued(d)[0]).toMatchObject({ preferWorker: '', avoidWorkers: ['w1'] });
    // Level 3: reset the worker (out of scheduling until it reports done).
    d.assign([{ taskId: 'r1.t1', workerId: 'w2' }], 20_000);
    d.results([infra('r1.t1.a3', 'w2', 'crash')], 21_000);
    expect(d.o.worker('w2')?.resetting).toBe(true);
    expect(events).toContainEqual({ kind: 'reset', workerId: 'w2', reason: expect.stringContaining('crash') as string });
    expect(d.plan(30_000).map((a) => a.workerId)).not.toContain('w2');
    expect(d.apply({ type: 'worker-reset-done', workerId: 'w2', ok: true, reason: 'clean' }, 30_000)).toEqual({ resetting: false, breaker: 'closed' });
    // w2 fails no more than its peers, so no quarantine: level 4 is skipped and the task gives up.
    d.assign([{ taskId: 'r1.t1', workerId: 'w3' }], 40_000);
    expect(d.lost('w3', 41_000)).toEqual({ requeued: 0, failed: 1 });
    const run = d.o.getRun('r1')!;
    expect(run).toMatchObject({ state: 'failed', degraded: true, counts: counts({ tasks: 1, failedInfra: 1 }) });
    const task = run.tasks[0]!;
    expect(task.state).toBe('failed-infra');
    expect(task.decisions.map((x) => [x.level, x.action])).toEqual([
      [1, 'retry-same-worker'],
      [2, 'move-to-other-worker'],
      [3, 'reset-worker'],
      [5, 'give-up'],
    ]);
    expect(task.reason).toContain('gave up after 4 infrastructure failures');
    expect(task.reason).toContain('crash×3');
    expect(task.reason).toContain('lost-worker×1');
    expect(task.reason).toMatch(/workers tried w1, w2, w3/);
    expect(events.filter((e) => e.kind === 'alert').map((e) => (e.kind === 'alert' ? e.alert : ''))).toEqual(['give-up']);
    // Infra failures record no flakiness.
    expect(run.flakiness).toEqual({});
  });

  it('does not let infrastructure errors use up test retries, nor the other way round', () => {
    const d = new Driver();
    d.register(registration('w1', { slots: 1 }));
    d.submit('r1', submission([template({ retries: 1 })]), 0);
    let at = 0;
    const step = (r: (id: string) => AttemptResult) => {
      at += 100_000;
      d.schedule(at);
      const attempt = d.o.worker('w1')!.running[0]!;
      d.results([r(attempt)], at);
    };
    step((id) => infra(id, 'w1')); // level 1: retry here
    step((id) => failed(id, 'w1')); // a test failure: uses the one test retry
    step((id) => infra(id, 'w1')); // level 2 has no other worker: level 3 resets w1
    expect(d.o.worker('w1')?.resetting).toBe(true);
    d.apply({ type: 'worker-reset-done', workerId: 'w1', ok: true, reason: 'clean' }, at + 1);
    expect(d.o.runSummary('r1')?.state).toBe('running');
    step((id) => result(id, 'w1'));
    expect(d.o.getRun('r1')!.tasks[0]!.attempts).toHaveLength(4);
    expect(d.o.runSummary('r1')?.state).toBe('passed');
  });

  it('records which level recovered a class, and starts there next time', () => {
    const d = new Driver();
    for (const w of ['w1', 'w2']) d.register(registration(w, { slots: 1 }));
    d.submit('r1', submission([template()]), 0);
    d.assign([{ taskId: 'r1.t1', workerId: 'w1' }], 0);
    d.results([infra('r1.t1.a1', 'w1', 'crash')], 1000);
    d.assign([{ taskId: 'r1.t1', workerId: 'w1' }], 5000);
    d.results([result('r1.t1.a2', 'w1')], 6000);
    const decision = d.o.getRun('r1')!.tasks[0]!.decisions[0]!;
    expect(decision).toMatchObject({ level: 1, action: 'retry-same-worker', failureClass: 'crash', workerId: 'w1', attemptId: 'r1.t1.a1' });
    // The snapshot keeps the history: a restored replica decides the same.
    const copy = new Driver();
    copy.o.restore(d.o.snapshot());
    expect(copy.snapshotHex()).toBe(d.snapshotHex());
  });
});

describe('Orchestrator: lost workers, late, duplicate and unknown results', () => {
  it('requeues running attempts of a lost worker; a late result is recorded but never counted', () => {
    const d = new Driver();
    d.register(registration('w1', { slots: 2 }));
    d.register(registration('w2', { slots: 2 }));
    d.submit('r1', submission([template({ retries: 0 })]), 0);
    d.assign([{ taskId: 'r1.t1', workerId: 'w1' }], 10);

    expect(d.lost('w1', 1000, 'no heartbeat')).toEqual({ requeued: 1, failed: 0 });
    expect(d.o.worker('w1')).toMatchObject({ state: 'lost', running: [] });
    let task = d.o.getRun('r1')!.tasks[0]!;
    expect(task.state).toBe('queued');
    expect(task.attempts[0]).toMatchObject({ state: 'lost', reason: 'worker w1 lost: no heartbeat', lateResults: 0 });
    expect(task.attempts[0]!.result).toBeUndefined();
    expect(d.lost('w1', 1100)).toEqual({ requeued: 0, failed: 0 });

    // The lost worker's result arrives after all.
    expect(statuses(d.results([result('r1.t1.a1', 'w1')], 1200))).toEqual(['late']);
    task = d.o.getRun('r1')!.tasks[0]!;
    expect(task.state).toBe('queued');
    expect(task.attempts[0]).toMatchObject({ state: 'lost', lateResults: 1 });
    expect(task.attempts[0]!.result).toBeUndefined();
    expect(d.o.runSummary('r1')?.counts).toEqual(counts({ tasks: 1, queued: 1 }));

    // A lost worker takes no work.
    expect(d.assign([{ taskId: 'r1.t1', workerId: 'w1' }], 1500)).toEqual({ assigned: [], skipped: 1 });
    expect(d.schedule(1500).assigned).toEqual([{ attemptId: 'r1.t1.a2', taskId: 'r1.t1', workerId: 'w2' }]);
    expect(statuses(d.results([result('r1.t1.a1', 'w1')], 1600))).toEqual(['late']);
    expect(statuses(d.results([result('r1.t1.a2', 'w2')], 1700))).toEqual(['counted']);
    expect(statuses(d.results([result('r1.t1.a1', 'w1')], 1800))).toEqual(['late']);
    const run = d.o.getRun('r1')!;
    expect(run.counts).toEqual(counts({ tasks: 1, passed: 1 }));
    expect(run.state).toBe('passed');
    expect(run.tasks[0]!.attempts.map((a) => [a.state, a.lateResults])).toEqual([
      ['lost', 3],
      ['passed', 0],
    ]);
  });

  it('waits for a lost worker that is the only one, then gives up on a second loss', () => {
    const d = new Driver();
    d.register(registration('w1', { slots: 1 }));
    d.submit('r1', submission([template()]), 0);
    d.schedule(0);
    expect(d.lost('w1', 1)).toEqual({ requeued: 1, failed: 0 });
    d.register(registration('w1', { slots: 1 }), 10_000);
    expect(d.schedule(10_000).assigned).toHaveLength(1);
    expect(d.lost('w1', 10_001)).toEqual({ requeued: 0, failed: 1 });
    expect(d.o.runSummary('r1')).toMatchObject({ state: 'failed', degraded: true, counts: counts({ tasks: 1, failedInfra: 1 }) });
    expect(d.o.getRun('r1')!.tasks[0]!.reason).toContain('lost-worker');
  });

  it('counts a result once: duplicates and unknown attempts are not counted', () => {
    const d = new Driver();
    d.register(registration('w1'));
    d.submit('r1', submission([template(), template()]), 0);
    d.schedule(0);
    const out = d.results([result('r1.t1.a1', 'w1'), result('r1.t1.a1', 'w1'), result('ghost.t1.a1', 'w1')], 100);
    expect(out.statuses).toEqual([
      { attemptId: 'r1.t1.a1', status: 'counted' },
      { attemptId: 'r1.t1.a1', status: 'duplicate' },
      { attemptId: 'ghost.t1.a1', status: 'unknown' },
    ]);
    // A later duplicate with another verdict changes nothing.
    expect(statuses(d.results([failed('r1.t1.a1', 'w1')], 200))).toEqual(['duplicate']);
    expect(d.o.runSummary('r1')?.counts).toEqual(counts({ tasks: 2, running: 1, passed: 1 }));
    expect(d.o.getRun('r1')!.tasks[0]!.attempts[0]!.result?.outcome).toBe('passed');
  });

  it('does not count a result claiming another worker or another task', () => {
    const d = new Driver();
    d.register(registration('w1'));
    d.register(registration('w2'));
    d.submit('r1', submission([template(), template()]), 0);
    d.assign([{ taskId: 'r1.t1', workerId: 'w1' }, { taskId: 'r1.t2', workerId: 'w1' }], 0);
    expect(statuses(d.results([result('r1.t1.a1', 'w2')], 1))).toEqual(['late']);
    expect(statuses(d.results([{ ...result('r1.t1.a1', 'w1'), taskId: 'r1.t2' }], 2))).toEqual(['late']);
    expect(d.o.runSummary('r1')?.counts).toEqual(counts({ tasks: 2, running: 2 }));
    expect(statuses(d.results([result('r1.t1.a1', 'w1')], 3))).toEqual(['counted']);
  });
});

describe('Orchestrator: worker registration and draining', () => {
  it('reconciles a reconnecting worker: resend what it lost, cancel what it should not run', () => {
    const d = new Driver();
    d.register(registration('w1', { slots: 3 }));
    d.submit('r1', submission([template(), template(), template()]), 0);
    d.schedule(0);
    expect(d.o.worker('w1')?.running).toEqual(['r1.t1.a1', 'r1.t2.a1', 'r1.t3.a1']);
    const out = d.register(registration('w1', { slots: 3, running: ['r1.t1.a1', 'r9.t1.a1'], pending: ['r1.t2.a1'], name: 'renamed' }), 500);
    expect(out).toEqual({ workerId: 'w1', resend: ['r1.t3.a1'], cancel: ['r9.t1.a1'], reset: false, interrupted: 0 });
    expect(d.o.worker('w1')).toMatchObject({ name: 'renamed', registeredAtMs: 500, state: 'active', running: ['r1.t1.a1', 'r1.t2.a1', 'r1.t3.a1'] });
  });

  it('loses, not resends, the attempts a restarted worker names as interrupted; the crash opens its breaker', () => {
    const d = new Driver();
    d.register(registration('w1', { slots: 3 }));
    d.register(registration('w2', { slots: 3 }));
    d.submit('r1', submission([template(), template(), template()]), 0);
    d.assign([{ taskId: 'r1.t1', workerId: 'w1' }, { taskId: 'r1.t2', workerId: 'w1' }, { taskId: 'r1.t3', workerId: 'w1' }], 0);
    // The new process names t1 (its predecessor died running it) and t2 (its result is in the outbox: finished, not lost);
    // t3 it never heard of (an order in flight), so it is sent again; an unknown id is ignored.
    const out = d.register(registration('w1', { slots: 3, pending: ['r1.t2.a1'], interrupted: ['r1.t1.a1', 'r1.t2.a1', 'r9.t9.a1'] }), 500);
    expect(out).toEqual({ workerId: 'w1', resend: ['r1.t3.a1'], cancel: [], reset: false, interrupted: 1 });
    expect(d.o.worker('w1')?.running).toEqual(['r1.t2.a1', 'r1.t3.a1']);
    expect(d.o.worker('w1')?.breaker.state).toBe('open');
    const t1 = d.o.getRun('r1')!.tasks[0]!;
    expect(t1.state).toBe('queued');
    expect(t1.attempts.map((a) => [a.attemptId, a.state])).toEqual([['r1.t1.a1', 'lost']]);
    // Naming it again (every hello does) changes nothing: the attempt is no longer the worker's.
    const again = d.register(registration('w1', { slots: 3, running: ['r1.t3.a1'], pending: ['r1.t2.a1'], interrupted: ['r1.t1.a1'] }), 600);
    expect(again).toEqual({ workerId: 'w1', resend: [], cancel: [], reset: false, interrupted: 0 });
    // The task runs again elsewhere: the ladder moves a lost attempt's task to another worker.
    expect(d.schedule(10_000).assigned.map((a) => [a.attemptId, a.workerId])).toEqual([['r1.t1.a2', 'w2']]);
  });

  it('a new process that found its lock left behind is a crash, even running nothing; a reconnect of the same process is not', () => {
    const d = new Driver();
    d.register(registration('w1', { bootId: 'boot-1' }));
    // The same process reconnecting, or a clean restart: no trip.
    d.register(registration('w1', { bootId: 'boot-1', uncleanStart: false }), 100);
    d.register(registration('w1', { bootId: 'boot-2', uncleanStart: false }), 200);
    expect(d.o.worker('w1')?.breaker.state).toBe('closed');
    d.register(registration('w1', { bootId: 'boot-3', uncleanStart: true }), 300);
    // The process is back: no wait, so the leader's next look lets probes through.
    expect(d.o.worker('w1')?.breaker).toMatchObject({ state: 'open' });
    expect(d.o.worker('w1')?.breaker.reason).toContain('work-dir lock left behind');
    expect(d.o.worker('w1')?.breaker.reason).toContain('the worker is back, so probing at once (open #1)');
    expect(d.o.schedulableWorkers(300).find((w) => w.workerId === 'w1')?.freeSlots).toBeGreaterThan(0);
    // Its every hello says so; only the first of the process counts.
    const since = d.o.worker('w1')!.breaker.sinceMs;
    d.register(registration('w1', { bootId: 'boot-3', uncleanStart: true }), 400);
    expect(d.o.worker('w1')?.breaker.sinceMs).toBe(since);
    expect(d.o.worker('w1')?.breaker.reason).not.toContain('while open');
  });

  it('a crash that kills a half-open probe re-opens the breaker once, not twice; a crash while out adds no open', () => {
    const d = new Driver();
    d.register(registration('w1', { slots: 2, bootId: 'b1' }));
    d.register(registration('w2', { slots: 2 }));
    d.submit('r1', submission(Array.from({ length: 4 }, () => template())), 0);
    const restart = (boot: string, atMs: number): void => {
      d.register(registration('w1', { slots: 2, bootId: boot, uncleanStart: true, interrupted: [...d.o.worker('w1')!.running] }), atMs);
    };
    d.assign([{ taskId: 'r1.t1', workerId: 'w1' }], 0);
    restart('b2', 1_000);
    expect(d.o.worker('w1')?.breaker.reason).toMatch(/open #1\)$/);
    // No wait (the process is back): a probe goes out (half-open), and the process dies again with it.
    expect(d.assign([{ taskId: 'r1.t2', workerId: 'w1' }], 10_000).assigned).toHaveLength(1);
    expect(d.o.worker('w1')?.breaker.state).toBe('half-open');
    restart('b3', 10_100);
    // The lost probe re-opened it (#2); the crash itself added nothing more.
    expect(d.o.worker('w1')?.breaker).toMatchObject({ state: 'open', reason: expect.stringMatching(/open #2\)$/) });
    // It dies again while out, running nothing: the same wait (4 s) starts over, still open #2.
    restart('b4', 12_000);
    expect(d.o.worker('w1')?.breaker).toMatchObject({ state: 'open', reason: expect.stringContaining('while open; open for 4000 ms from then (open #2)') });
    expect(d.o.schedulableWorkers(15_000).find((w) => w.workerId === 'w1')).toBeUndefined();
    expect(d.o.schedulableWorkers(16_000).find((w) => w.workerId === 'w1')?.freeSlots).toBe(2);
  });

  it('with adaptive recovery off, a crash loses the attempt but opens no breaker', () => {
    const d = new Driver();
    d.apply({ type: 'set-breaker-config', config: { adaptiveRecovery: false } }, 0);
    d.register(registration('w1', { slots: 1 }));
    d.submit('r1', submission([template()]), 0);
    d.assign([{ taskId: 'r1.t1', workerId: 'w1' }], 0);
    expect(d.register(registration('w1', { slots: 1, interrupted: ['r1.t1.a1'] }), 500).interrupted).toBe(1);
    expect(d.o.worker('w1')?.breaker.state).toBe('closed');
    expect(d.o.getRun('r1')!.tasks[0]!.attempts.map((a) => a.state)).toEqual(['lost']);
  });

  it('reactivates a lost worker; everything it still runs is to be cancelled', () => {
    const d = new Driver();
    d.register(registration('w1', { slots: 2 }));
    d.submit('r1', submission([template(), template()]), 0);
    d.schedule(0);
    d.lost('w1', 100);
    const out = d.register(registration('w1', { slots: 2, running: ['r1.t1.a1'], pending: ['r1.t2.a1'] }), 200);
    expect(out).toEqual({ workerId: 'w1', resend: [], cancel: ['r1.t1.a1'], reset: false, interrupted: 0 });
    expect(d.o.worker('w1')).toMatchObject({ state: 'active', running: [] });
    // Its pending result is late: the attempt was superseded.
    expect(statuses(d.results([result('r1.t2.a1', 'w1')], 300))).toEqual(['late']);
    // And it can take work again (backoff over).
    expect(d.schedule(10_000).assigned.map((a) => a.attemptId)).toEqual(['r1.t1.a2', 'r1.t2.a2']);
  });

  it('drains and undrains; a lost worker stays lost; unknown workers are refused', () => {
    const d = new Driver();
    d.register(registration('w1'));
    d.register(registration('w2'));
    d.submit('r1', submission([template()]), 0);
    expect(d.drain('w1', true)).toEqual({ state: 'draining' });
    expect(d.assign([{ taskId: 'r1.t1', workerId: 'w1' }])).toEqual({ assigned: [], skipped: 1 });
    // Re-registration does not end a drain.
    d.register(registration('w1'));
    expect(d.o.worker('w1')?.state).toBe('draining');
    expect(d.drain('w1', false)).toEqual({ state: 'active' });
    d.lost('w2');
    expect(d.drain('w2', false)).toEqual({ state: 'lost' });
    expect(() => d.drain('nobody', true)).toThrow(ExtensionCommandError);
    expect(() => d.lost('nobody')).toThrow(ExtensionCommandError);
  });
});

describe('Orchestrator: the worker bound', () => {
  it('forgets a lost worker to make room, and refuses when none is lost', () => {
    const o = new Orchestrator();
    let index = 0;
    const apply = (cmd: OrchCommand): unknown => {
      const { payload, deflated } = encodeOrchCommand(cmd);
      return o.apply(++index, 0, payload, deflated);
    };
    for (let i = 0; i < workersMax; i++) apply(registration(`w${i}`));
    expect(o.listWorkers()).toHaveLength(workersMax);
    expect(() => apply(registration('extra'))).toThrow(ExtensionCommandError);
    expect(o.worker('extra')).toBeUndefined();
    // Re-registering a known worker needs no room.
    apply(registration('w5', { slots: 3 }));
    apply({ type: 'worker-lost', workerId: 'w7', reason: 'x' });
    apply(registration('extra'));
    expect(o.listWorkers()).toHaveLength(workersMax);
    expect(o.worker('w7')).toBeUndefined();
    expect(o.worker('extra')?.state).toBe('active');
    o.checkInvariants();
  });
});

describe('Orchestrator: assign re-validates every assignment', () => {
  it('skips assignments that are no longer valid', () => {
    const d = new Driver();
    // Prefetch off: a worker is full at its slots.
    d.apply({ type: 'set-breaker-config', config: { prefetchPerSlot: 0 } }, 0);
    d.register(registration('w1', { slots: 1 }));
    d.register(registration('w2', { slots: 4 }));
    d.register(registration('gone', { slots: 4 }));
    d.register(registration('drained', { slots: 4 }));
    d.register(registration('mac', { slots: 4, capabilities: capabilities({ labels: { os: 'darwin' } }) }));
    d.lost('gone');
    d.drain('drained', true);
    const linux = { labels: { os: 'linux' }, cpus: 0, memoryMb: 0, tools: [] };
    d.submit('r1', submission([template(), template(), template({ requirements: linux }), template({ requirements: { ...linux, tools: ['bazel'] } })]), 0);

    const out = d.assign(
      [
        { taskId: 'r1.t1', workerId: 'w1' }, // ok
        { taskId: 'r1.t1', workerId: 'w2' }, // task no longer queued
        { taskId: 'r1.t2', workerId: 'w1' }, // worker full
        { taskId: 'r1.t2', workerId: 'gone' }, // lost
        { taskId: 'r1.t2', workerId: 'drained' }, // draining
        { taskId: 'r1.t3', workerId: 'mac' }, // label unmet
        { taskId: 'r1.t4', workerId: 'w2' }, // tool unmet
        { taskId: 'r1.t9', workerId: 'w2' }, // unknown task
        { taskId: 'r1.t2', workerId: 'nobody' }, // unknown worker
        { taskId: 'r1.t3', workerId: 'w2' }, // ok
      ],
      5,
    );
    expect(out.assigned).toEqual([
      { attemptId: 'r1.t1.a1', taskId: 'r1.t1', workerId: 'w1' },
      { attemptId: 'r1.t3.a1', taskId: 'r1.t3', workerId: 'w2' },
    ]);
    expect(out.skipped).toBe(8);
    // Malformed entries are skipped, not fatal.
    expect(applyRaw(d, JSON.stringify({ type: 'assign', assignments: [null, 5, {}, { taskId: 3, workerId: 'w2' }] }))).toEqual({ assigned: [], skipped: 4 });
    // A finished task is not assignable.
    d.results([result('r1.t1.a1', 'w1')], 10);
    expect(d.assign([{ taskId: 'r1.t1', workerId: 'w1' }]).skipped).toBe(1);
  });
});

describe('Orchestrator: exclusive tasks', () => {
  it('runs an exclusive task alone, after the run’s parallel-safe tasks', () => {
    const d = new Driver();
    d.register(registration('w1', { slots: 4 }));
    d.submit('r1', submission([template({ exclusive: true, priority: 9 }), template({ retries: 1 }), template(), template({ exclusive: true })]), 0);
    d.submit('r2', submission([template({ exclusive: true })]), 0);

    // The exclusive tasks of r1 wait although they have priority; r2's is free.
    expect(d.schedule(0).assigned.map((a) => a.taskId).sort()).toEqual(['r1.t2', 'r1.t3', 'r2.t1']);
    expect(d.assign([{ taskId: 'r1.t1', workerId: 'w1' }]).skipped).toBe(1);

    // t2 fails and is requeued: it is still open.
    d.results([failed('r1.t2.a1', 'w1'), result('r1.t3.a1', 'w1')], 10);
    expect(d.o.runLoad('r1')).toEqual({ parallelOpen: 1, running: 0 });
    expect(d.schedule(10_000).assigned.map((a) => a.taskId)).toEqual(['r1.t2']);
    expect(d.assign([{ taskId: 'r1.t4', workerId: 'w1' }]).skipped).toBe(1);
    d.results([result('r1.t2.a2', 'w1')], 10_010);

    // Now one exclusive task at a time.
    expect(d.o.runLoad('r1')).toEqual({ parallelOpen: 0, running: 0 });
    expect(d.schedule(10_020).assigned.map((a) => a.taskId)).toEqual(['r1.t1']);
    expect(d.assign([{ taskId: 'r1.t4', workerId: 'w1' }]).skipped).toBe(1);
    expect(d.plan(10_030)).toEqual([]);
    d.results([result('r1.t1.a1', 'w1')], 10_040);
    expect(d.schedule(10_050).assigned.map((a) => a.taskId)).toEqual(['r1.t4']);
    d.results([result('r1.t4.a1', 'w1'), result('r2.t1.a1', 'w1')], 10_060);
    expect(d.o.listRuns().map((r) => r.state)).toEqual(['passed', 'passed']);
  });

  it('refuses two exclusive tasks of a run in one assign command', () => {
    const d = new Driver();
    d.register(registration('w1', { slots: 4 }));
    d.submit('r1', submission([template({ exclusive: true }), template({ exclusive: true })]), 0);
    expect(
      d.assign([
        { taskId: 'r1.t1', workerId: 'w1' },
        { taskId: 'r1.t2', workerId: 'w1' },
      ]),
    ).toMatchObject({ skipped: 1 });
  });
});

describe('Orchestrator: cancel and prune', () => {
  it('cancels queued and running tasks; later results are late', () => {
    const d = new Driver();
    d.register(registration('w1', { slots: 2 }));
    d.submit('r1', submission([template(), template(), template(), template()]), 0);
    d.schedule(0);
    d.results([result('r1.t1.a1', 'w1')], 50);
    d.schedule(60);
    expect(d.o.worker('w1')?.running).toEqual(['r1.t2.a1', 'r1.t3.a1']);

    const out = d.cancel('r1', 100, 'user pressed ^C');
    expect(out).toEqual({
      cancelled: [
        { attemptId: 'r1.t2.a1', workerId: 'w1' },
        { attemptId: 'r1.t3.a1', workerId: 'w1' },
      ],
    });
    const run = d.o.getRun('r1')!;
    expect(run).toMatchObject({ state: 'cancelled', finishedAtMs: 100, counts: counts({ tasks: 4, passed: 1, cancelled: 3 }) });
    expect(run.tasks.map((t) => [t.state, t.reason])).toEqual([
      ['passed', ''],
      ['cancelled', 'user pressed ^C'],
      ['cancelled', 'user pressed ^C'],
      ['cancelled', 'user pressed ^C'],
    ]);
    expect(run.tasks[1]!.attempts[0]).toMatchObject({ state: 'cancelled', reason: 'user pressed ^C' });
    expect(d.o.worker('w1')?.running).toEqual([]);
    expect(queued(d)).toEqual([]);
    expect(d.o.queuedCount).toBe(0);

    expect(statuses(d.results([result('r1.t2.a1', 'w1')], 200))).toEqual(['late']);
    expect(d.o.getRun('r1')!.tasks[1]!.attempts[0]).toMatchObject({ state: 'cancelled', lateResults: 1 });
    expect(d.o.runSummary('r1')?.counts).toEqual(counts({ tasks: 4, passed: 1, cancelled: 3 }));
    // Cancelling again or cancelling a finished run does nothing.
    expect(d.cancel('r1', 300)).toEqual({ cancelled: [] });
    expect(d.o.runSummary('r1')?.finishedAtMs).toBe(100);
    expect(() => d.cancel('nope')).toThrow(ExtensionCommandError);
  });

  it('prunes only finished runs that finished before the bound', () => {
    const d = new Driver();
    d.register(registration('w1', { slots: 4 }));
    d.submit('old', submission([template()]), 0);
    d.submit('mid', submission([template()]), 0);
    d.submit('live', submission([template()]), 0);
    d.assign([{ taskId: 'old.t1', workerId: 'w1' }, { taskId: 'mid.t1', workerId: 'w1' }], 0);
    d.results([result('old.t1.a1', 'w1')], 1000);
    d.cancel('mid', 5000);
    expect(d.o.prunableBefore(5000)).toBe(1);
    expect(d.o.prunableBefore(5001)).toBe(2);

    expect(d.prune(5000)).toEqual({ pruned: ['old'] });
    expect(d.o.getRun('old')).toBeUndefined();
    expect(statuses(d.results([result('old.t1.a1', 'w1')], 6000))).toEqual(['unknown']);
    expect(d.o.attemptOrder('old.t1.a1')).toBeUndefined();
    expect(d.prune(Number.MAX_SAFE_INTEGER)).toEqual({ pruned: ['mid'] });
    expect(d.o.listRuns().map((r) => r.runId)).toEqual(['live']);
    expect(d.prune(Number.MAX_SAFE_INTEGER)).toEqual({ pruned: [] });
    // The timing history outlives the pruned runs.
    expect(d.o.snapshot().byteLength).toBeGreaterThan(0);
  });
});

describe('Orchestrator: splitting by timings', () => {
  const files = ['a.test.ts', 'b.test.ts', 'c.test.ts', 'd.test.ts'];
  const shardTemplates = (list: string[], count = 2): TaskTemplate[] =>
    Array.from({ length: count }, (_, i) => template({ suite: 'e2e', shard: i + 1, shardCount: count, files: list, splitByTimings: true }));
  const timed = (file: string, sec: number) => testCase({ classname: file, name: 'case', file, timeSec: sec });

  it('balances shards of a later run from the per-file times of an earlier one; unknown files get the median', () => {
    const d = new Driver();
    d.register(registration('w1', { slots: 2 }));
    d.submit('r1', submission(shardTemplates(files)), 0);
    // Nothing known yet: every file costs the same (the default median), names break ties.
    let run = d.o.getRun('r1')!;
    expect(run.tasks.map((t) => t.files)).toEqual([
      ['a.test.ts', 'c.test.ts'],
      ['b.test.ts', 'd.test.ts'],
    ]);
    expect(run.tasks.map((t) => t.expectedMs)).toEqual([2000, 2000]);
    expect(d.o.attemptOrder('r1.t1.a1')).toBeUndefined();
    d.schedule(0);
    expect(d.o.attemptOrder('r1.t1.a1')?.files).toEqual(['a.test.ts', 'c.test.ts']);
    d.results(
      [
        result('r1.t1.a1', 'w1', { tests: [timed('a.test.ts', 10), timed('c.test.ts', 3)] }),
        result('r1.t2.a1', 'w1', { tests: [timed('b.test.ts', 1), timed('b.test.ts', 1), timed('d.test.ts', 8)] }),
      ],
      100,
    );

    // a 10s, b 2s, c 3s, d 8s; the median (lower middle) is 3s, which e gets.
    d.submit('r2', submission(shardTemplates([...files, 'e.test.ts'])), 200);
    run = d.o.getRun('r2')!;
    expect(run.tasks.map((t) => t.files)).toEqual([
      ['a.test.ts', 'e.test.ts'],
      ['b.test.ts', 'c.test.ts', 'd.test.ts'],
    ]);
    expect(run.tasks.map((t) => t.expectedMs)).toEqual([13_000, 13_000]);
  });

  it('shares the attempt’s duration equally among files the report does not name', () => {
    const d = new Driver();
    d.register(registration('w1'));
    d.submit('r1', submission(shardTemplates(['x', 'y'], 1)), 0);
    d.schedule(0);
    d.results([result('r1.t1.a1', 'w1', { startedAtMs: 0, finishedAtMs: 6000 })], 10);
    d.submit('r2', submission(shardTemplates(['x', 'y'], 1)), 20);
    expect(d.o.getRun('r2')!.tasks[0]!.expectedMs).toBe(6000);
  });
});

/** A scripted sequence with retries, losses, cancels, lates and duplicates. */
function scripted(): [OrchCommand, number][] {
  return [
    [registration('w1', { slots: 2 }), 1],
    [registration('w2', { slots: 1, capabilities: capabilities({ labels: { os: 'linux', gpu: 'yes' } }) }), 2],
    [{ type: 'submit-run', runId: 'r1', submission: submission([template({ retries: 1 }), template({ exclusive: true }), template({ files: ['f1', 'f2'] })]) }, 3],
    [{ type: 'submit-run', runId: 'r2', submission: submission([template({ requirements: { labels: { gpu: 'yes' }, cpus: 0, memoryMb: 0, tools: [] } })]) }, 4],
    [{ type: 'assign', assignments: [{ taskId: 'r1.t1', workerId: 'w1' }, { taskId: 'r1.t3', workerId: 'w1' }, { taskId: 'r2.t1', workerId: 'w2' }] }, 5],
    [{ type: 'results', results: [failed('r1.t1.a1', 'w1', { tests: [testCase({ status: 'failed' })] }), result('r1.t3.a1', 'w1', { tests: [testCase({ file: 'f1', timeSec: 2 })] })] }, 6],
    [{ type: 'worker-lost', workerId: 'w2', reason: 'gone' }, 7],
    [{ type: 'results', results: [result('r2.t1.a1', 'w2'), result('r1.t3.a1', 'w1')] }, 8],
    [{ type: 'drain-worker', workerId: 'w1', drain: true }, 9],
    [{ type: 'drain-worker', workerId: 'w1', drain: false }, 10],
  ];
}

function scriptedTail(): [OrchCommand, number][] {
  return [
    [{ type: 'assign', assignments: [{ taskId: 'r1.t1', workerId: 'w1' }] }, 2000],
    [{ type: 'results', results: [result('r1.t1.a2', 'w1', { tests: [testCase()] })] }, 2100],
    [{ type: 'assign', assignments: [{ taskId: 'r1.t2', workerId: 'w1' }] }, 2200],
    [registration('w2', { slots: 1, running: ['r2.t1.a1'] }), 2300],
    [{ type: 'cancel-run', runId: 'r2', reason: 'enough' }, 2400],
    [{ type: 'results', results: [infra('r1.t2.a1', 'w1', 'timeout')] }, 2500],
    [{ type: 'prune-runs', finishedBeforeMs: 3000 }, 2600],
    [{ type: 'submit-run', runId: 'r3', submission: submission([template()]) }, 2700],
  ];
}

function replay(d: Driver, commands: [OrchCommand, number][]): void {
  for (const [command, atMs] of commands) d.apply(command, atMs);
}

describe('Orchestrator: snapshots and determinism', () => {
  it('two replicas applying the same commands hold byte-identical state', () => {
    const a = new Driver();
    const b = new Driver();
    replay(a, [...scripted(), ...scriptedTail()]);
    replay(b, [...scripted(), ...scriptedTail()]);
    expect(a.snapshotHex()).toBe(b.snapshotHex());
    expect(a.o.snapshot().byteLength).toBeGreaterThan(0);
  });

  it('round-trips a snapshot, and a restored replica stays identical as commands continue', () => {
    const a = new Driver();
    replay(a, scripted());
    const b = new Driver();
    b.o.restore(a.o.snapshot());
    b.o.checkInvariants();
    expect(b.snapshotHex()).toBe(a.snapshotHex());
    expect(b.o.listRuns()).toEqual(a.o.listRuns());
    expect(b.o.listWorkers()).toEqual(a.o.listWorkers());
    expect(b.o.getRun('r1')).toEqual(a.o.getRun('r1'));
    expect([...b.o.queuedTasks()]).toEqual([...a.o.queuedTasks()]);
    for (const [command, atMs] of scriptedTail()) {
      expect(b.apply(command, atMs)).toEqual(a.apply(command, atMs));
      expect(b.snapshotHex()).toBe(a.snapshotHex());
      expect(b.plan(atMs)).toEqual(a.plan(atMs));
    }
  });

  it('refuses garbage bytes with SnapshotDecodeError and keeps its state', () => {
    const d = new Driver();
    replay(d, scripted());
    const before = d.snapshotHex();
    const garbage = [
      Uint8Array.of(1, 2, 3, 4, 5),
      deflateRawSync(Buffer.from('not json')),
      deflateRawSync(Buffer.from(JSON.stringify({ version: 99 }))),
      deflateRawSync(Buffer.from(JSON.stringify({ version: 1, nextSeq: 1, workers: 'x', runs: [], timings: [], flakes: [] }))),
      deflateRawSync(Buffer.from(JSON.stringify({ version: 1, nextSeq: 1, workers: [], runs: [], timings: [['k', 'x', 1]], flakes: [] }))),
    ];
    for (const bytes of garbage) {
      expect(() => d.o.restore(bytes)).toThrow(SnapshotDecodeError);
      expect(d.snapshotHex()).toBe(before);
      d.o.checkInvariants();
    }
  });

  it('refuses a snapshot that decodes to a non-object with SnapshotDecodeError', () => {
    const d = new Driver();
    for (const json of ['null', '42', '"x"', '[]']) {
      expect(() => d.o.restore(deflateRawSync(Buffer.from(json)))).toThrow(SnapshotDecodeError);
    }
  });

  it('refuses a well-formed snapshot that breaks the invariants and keeps its state', () => {
    const a = new Driver();
    replay(a, scripted());
    const state = JSON.parse(inflateRawSync(a.o.snapshot()).toString('utf8')) as { runs: { counts: { passed: number } }[] };
    state.runs[0]!.counts.passed += 1;
    const bad = deflateRawSync(Buffer.from(JSON.stringify(state)));
    const d = new Driver();
    replay(d, scripted().slice(0, 3));
    const before = d.snapshotHex();
    expect(() => d.o.restore(bad)).toThrow(SnapshotDecodeError);
    expect(d.snapshotHex()).toBe(before);
    d.o.checkInvariants();
  });

  it('restores empty bytes as the empty state, whose snapshot is empty', () => {
    const d = new Driver();
    expect(d.o.snapshot().byteLength).toBe(0);
    replay(d, scripted());
    d.o.restore(new Uint8Array(0));
    d.o.checkInvariants();
    expect(d.o.snapshot().byteLength).toBe(0);
    expect(d.o.listRuns()).toEqual([]);
    expect(d.o.listWorkers()).toEqual([]);
    expect([...d.o.queuedTasks()]).toEqual([]);
    expect(d.o.queuedCount).toBe(0);
  });

  it('keeps replicas identical when the state empties out but the sequence counter moved', () => {
    // Submit and cancel a run with no worker and no results, prune it: no
    // workers, runs, timings or flakes remain.
    const cmds: [OrchCommand, number][] = [
      [{ type: 'submit-run', runId: 'r1', submission: submission([template(), template()]) }, 1],
      [{ type: 'cancel-run', runId: 'r1', reason: 'x' }, 2],
      [{ type: 'prune-runs', finishedBeforeMs: 10 }, 3],
    ];
    const a = new Driver();
    replay(a, cmds);
    const b = new Driver();
    b.o.restore(a.o.snapshot());
    const next: [OrchCommand, number] = [{ type: 'submit-run', runId: 'r2', submission: submission([template()]) }, 4];
    replay(a, [next]);
    replay(b, [next]);
    expect(b.snapshotHex()).toBe(a.snapshotHex());
  });
});

describe('Orchestrator: malformed commands are refused and change nothing', () => {
  const good = (): Driver => {
    const d = new Driver();
    replay(d, scripted());
    return d;
  };
  const bad: [string, string][] = [
    ['unknown type', JSON.stringify({ type: 'launch-missiles' })],
    ['no type', JSON.stringify({ workerId: 'w1' })],
    ['not an object', JSON.stringify([1, 2])],
    ['null', 'null'],
    ['not JSON', '{"type": "assign", '],
    ['register: bad id', JSON.stringify({ ...registration('w 1') })],
    ['register: empty id', JSON.stringify({ ...registration('') })],
    ['register: slots 0', JSON.stringify(registration('w9', { slots: 0 }))],
    ['register: slots fractional', JSON.stringify(registration('w9', { slots: 1.5 }))],
    ['register: no capabilities', JSON.stringify({ ...registration('w9'), capabilities: undefined })],
    ['register: bad labels', JSON.stringify(registration('w9', { capabilities: { ...capabilities(), labels: { os: 1 } as unknown as Record<string, string> } }))],
    ['register: no running list', JSON.stringify({ ...registration('w9'), running: undefined })],
    ['submit: bad run id', JSON.stringify({ type: 'submit-run', runId: '../etc', submission: submission([template()]) })],
    ['submit: no submission', JSON.stringify({ type: 'submit-run', runId: 'r9' })],
    ['submit: existing run', JSON.stringify({ type: 'submit-run', runId: 'r1', submission: submission([template()]) })],
    ['submit: shard 0', JSON.stringify({ type: 'submit-run', runId: 'r9', submission: submission([template({ shard: 0 })]) })],
    ['submit: shard > count', JSON.stringify({ type: 'submit-run', runId: 'r9', submission: submission([template({ shard: 3, shardCount: 2 })]) })],
    ['submit: no command', JSON.stringify({ type: 'submit-run', runId: 'r9', submission: submission([{ ...template(), command: '' }]) })],
    ['submit: timeout 0', JSON.stringify({ type: 'submit-run', runId: 'r9', submission: submission([template({ timeoutSec: 0 })]) })],
    ['submit: second task bad', JSON.stringify({ type: 'submit-run', runId: 'r9', submission: submission([template(), { ...template(), requirements: null as unknown as TaskTemplate['requirements'] }]) })],
    ['assign: not a list', JSON.stringify({ type: 'assign', assignments: { taskId: 'r1.t2', workerId: 'w1' } })],
    ['assign: missing list', JSON.stringify({ type: 'assign' })],
    ['results: not a list', JSON.stringify({ type: 'results', results: result('r1.t1.a1', 'w1') })],
    ['results: bad outcome', JSON.stringify({ type: 'results', results: [{ ...result('r1.t1.a2', 'w1'), outcome: 'meh' }] })],
    ['results: infra without class', JSON.stringify({ type: 'results', results: [{ ...result('r1.t1.a2', 'w1'), outcome: 'infra-error' }] })],
    ['results: no times', JSON.stringify({ type: 'results', results: [{ ...result('r1.t1.a2', 'w1'), startedAtMs: 'x' }] })],
    ['results: no ids', JSON.stringify({ type: 'results', results: [{ ...result('r1.t1.a2', 'w1'), attemptId: undefined }] })],
    ['worker-lost: unknown', JSON.stringify({ type: 'worker-lost', workerId: 'w9', reason: 'x' })],
    ['worker-lost: no id', JSON.stringify({ type: 'worker-lost', reason: 'x' })],
    ['drain: unknown', JSON.stringify({ type: 'drain-worker', workerId: 'w9', drain: true })],
    ['cancel: unknown', JSON.stringify({ type: 'cancel-run', runId: 'r9', reason: 'x' })],
  ];

  it.each(bad)('%s', (_name, json) => {
    const d = good();
    // Let r1.t1 run again so results commands have a live target.
    d.assign([{ taskId: 'r1.t1', workerId: 'w1' }], 5000);
    const before = d.snapshotHex();
    const plan = d.plan(5000);
    expect(() => applyRaw(d, json, 6000)).toThrow(ExtensionCommandError);
    expect(d.snapshotHex()).toBe(before);
    expect(d.plan(5000)).toEqual(plan);
  });

  it('refuses payloads that do not inflate', () => {
    const d = good();
    const before = d.snapshotHex();
    expect(() => d.o.apply(99, 0, Uint8Array.of(0xff, 0xff, 0xff), true)).toThrow(ExtensionCommandError);
    expect(d.snapshotHex()).toBe(before);
  });

  // Commands whose refusal the original code got wrong (see the report).
  const partial: [string, () => string][] = [
    ['results: a bad result after a good one', () => JSON.stringify({ type: 'results', results: [result('r1.t1.a2', 'w1'), { ...result('r1.t3.a1', 'w1'), outcome: 'meh' }] })],
    ['results: a test case that is null', () => JSON.stringify({ type: 'results', results: [result('r1.t1.a2', 'w1', { tests: [null as unknown as ReturnType<typeof testCase>] })] })],
    ['results: a test time that is not a number', () => JSON.stringify({ type: 'results', results: [result('r1.t1.a2', 'w1', { tests: [testCase({ timeSec: 'x' as unknown as number, file: 'f1' })] })] })],
    ['results: a test without a status', () => JSON.stringify({ type: 'results', results: [result('r1.t1.a2', 'w1', { tests: [{ ...testCase(), status: undefined as unknown as 'passed' }] })] })],
    ['results: reason not a string', () => JSON.stringify({ type: 'results', results: [failed('r1.t1.a2', 'w1', { reason: 5 as unknown as string })] })],
    ['prune: no bound', () => JSON.stringify({ type: 'prune-runs' })],
    ['prune: bound not a number', () => JSON.stringify({ type: 'prune-runs', finishedBeforeMs: '9999999' })],
    ['cancel: no reason', () => JSON.stringify({ type: 'cancel-run', runId: 'r1' })],
    ['worker-lost: no reason', () => JSON.stringify({ type: 'worker-lost', workerId: 'w1' })],
    ['drain: drain not a boolean', () => JSON.stringify({ type: 'drain-worker', workerId: 'w1', drain: 'yes' })],
  ];

  it.each(partial)('%s', (_name, json) => {
    const d = good();
    d.assign([{ taskId: 'r1.t1', workerId: 'w1' }], 5000);
    // A finished run for prune to (wrongly) remove.
    d.submit('done', submission([]), 5000);
    d.drain('w1', true, 5000);
    const before = d.snapshotHex();
    expect(() => applyRaw(d, json(), 6000)).toThrow(ExtensionCommandError);
    expect(d.snapshotHex()).toBe(before);
  });
});

describe('Orchestrator: the invariant checker can fail', () => {
  type Internals = {
    runs: Map<string, { counts: { passed: number; queued: number }; state: string; running: number; parallelOpen: number }>;
    workers: Map<string, { running: string[]; state: string }>;
    tasks: Map<string, { state: string; attempts: { state: string }[] }>;
  };
  // The records live in the Orchestrator's working state (machine.ts), its private `m`.
  const internals = (o: Orchestrator) => (o as unknown as { m: Internals }).m;
  const setup = (): Orchestrator => {
    const d = new Driver();
    d.register(registration('w1', { slots: 2 }));
    d.submit('r1', submission([template(), template(), template()]), 0);
    d.assign([{ taskId: 'r1.t1', workerId: 'w1' }], 0);
    d.o.checkInvariants();
    return d.o;
  };

  it('catches a broken count', () => {
    const o = setup();
    internals(o).runs.get('r1')!.counts.passed++;
    expect(() => o.checkInvariants()).toThrow(AssertionFailure);
  });

  it('catches a worker running an attempt it was not assigned', () => {
    const o = setup();
    internals(o).workers.get('w1')!.running.push('r1.t2.a1');
    expect(() => o.checkInvariants()).toThrow(/running set disagrees/);
  });

  it('catches a run whose state disagrees with its open tasks', () => {
    const o = setup();
    internals(o).runs.get('r1')!.state = 'passed';
    expect(() => o.checkInvariants()).toThrow(/is passed with/);
  });

  it('catches a task ending without its count moving', () => {
    const o = setup();
    internals(o).tasks.get('r1.t2')!.state = 'passed';
    expect(() => o.checkInvariants()).toThrow(/counts/);
  });

  it('catches wrong run load and a running task without a running attempt', () => {
    const o = setup();
    internals(o).runs.get('r1')!.running = 0;
    expect(() => o.checkInvariants()).toThrow(/load disagrees/);
    const p = setup();
    internals(p).tasks.get('r1.t1')!.attempts[0]!.state = 'passed';
    expect(() => p.checkInvariants()).toThrow(AssertionFailure);
  });

  it('catches a replica that double counts a result (planted bug in a subclass)', () => {
    // A buggy build that applies every results command twice over, ignoring
    // the duplicate check by wiping the recorded result first.
    class DoubleCounting extends Orchestrator {
      override apply(index: number, atMs: number, payload: Uint8Array, deflated: boolean): unknown {
        const out = super.apply(index, atMs, payload, deflated);
        const cmd = JSON.parse(Buffer.from(payload).toString('utf8')) as OrchCommand;
        if (cmd.type === 'results') {
          const tasks = (this as unknown as { m: { tasks: Map<string, { attempts: { result?: unknown; state: string }[]; state: string }> } }).m.tasks;
          for (const task of tasks.values()) {
            const last = task.attempts[task.attempts.length - 1];
            if (last !== undefined && task.state === 'passed') {
              last.result = undefined;
              last.state = 'running';
            }
          }
        }
        return out;
      }
    }
    const d = new Driver(new DoubleCounting());
    d.register(registration('w1'));
    d.submit('r1', submission([template()]));
    d.schedule(0);
    expect(() => d.results([result('r1.t1.a1', 'w1')], 1)).toThrow(AssertionFailure);
  });
});

/** A small deterministic LCG (Numerical Recipes constants). */
class Lcg {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (Math.imul(this.state, 1664525) + 1013904223) >>> 0;
    return this.state / 2 ** 32;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

describe('Orchestrator: seeded random command sequences', () => {
  for (const seed of [1, 7, 42, 2024]) {
    it(`keeps its invariants and determinism (seed ${seed})`, () => {
      const rng = new Lcg(seed);
      const d = new Driver();
      const log: [OrchCommand, number][] = [];
      const apply = (cmd: OrchCommand, at: number): unknown => {
        log.push([cmd, at]);
        return d.apply(cmd, at);
      };
      const workerIds = ['w1', 'w2', 'w3', 'w4'];
      const gpuCaps = capabilities({ labels: { os: 'linux', gpu: 'yes' } });
      const counted = new Map<string, number>();
      const seenResults: AttemptResult[] = [];
      // Attempts superseded by a loss or a cancel: their results must come back 'late'.
      const orphans: AttemptResult[] = [];
      const seenStatus = new Map<ResultStatus, number>();
      let runN = 0;
      let now = 1;
      let replica: Driver | null = null;
      let replicaFrom = 0;

      for (let step = 0; step < 300; step++) {
        now += rng.int(800);
        const known = d.o.listWorkers();
        const roll = rng.int(100);
        if (roll < 10 || known.length === 0) {
          const id = rng.pick(workerIds);
          const w = d.o.worker(id);
          const running = w === undefined ? [] : w.running.filter(() => rng.chance(0.5));
          const pending = w === undefined ? [] : w.running.filter((a) => !running.includes(a) && rng.chance(0.5));
          if (rng.chance(0.2)) running.push(`zz.t1.a${rng.int(3) + 1}`);
          apply(registration(id, { slots: 1 + rng.int(3), capabilities: id === 'w4' ? gpuCaps : capabilities(), running, pending }), now);
        } else if (roll < 16) {
          const victim = rng.pick(known);
          const running = d.o.worker(victim.workerId)!.running;
          const out = apply({ type: 'worker-lost', workerId: victim.workerId, reason: 'chaos' }, now) as { requeued: number; failed: number };
          expect(out.requeued + out.failed).toBe(victim.state === 'lost' ? 0 : running.length);
          orphans.push(...running.map((a) => result(a, victim.workerId)));
        } else if (roll < 19) {
          apply({ type: 'drain-worker', workerId: rng.pick(known).workerId, drain: rng.chance(0.5) }, now);
        } else if (roll < 32) {
          const n = rng.int(6);
          const tasks = Array.from({ length: n }, () =>
            template({
              suite: rng.pick(['unit', 'e2e', 'lint']),
              retries: rng.int(3),
              exclusive: rng.chance(0.15),
              priority: rng.int(3),
              requirements: rng.chance(0.15) ? { labels: { gpu: 'yes' }, cpus: 0, memoryMb: 0, tools: [] } : { labels: {}, cpus: 0, memoryMb: 0, tools: [] },
            }),
          );
          apply({ type: 'submit-run', runId: `r${++runN}`, submission: submission(tasks) }, now);
        } else if (roll < 62) {
          const plan = d.plan(now);
          const out = apply({ type: 'assign', assignments: plan }, now) as { assigned: unknown[]; skipped: number };
          // A fresh plan applied at once is never trimmed.
          expect(out.skipped).toBe(0);
          expect(out.assigned).toHaveLength(plan.length);
        } else if (roll < 90) {
          const running = d.o.listWorkers().flatMap((w) => w.running.map((a) => [a, w.workerId] as const));
          const batch: AttemptResult[] = [];
          for (const [attemptId, workerId] of running) {
            if (!rng.chance(0.5)) continue;
            const tests = [testCase({ name: 'a', status: rng.chance(0.7) ? 'passed' : 'failed', file: 'x.ts', timeSec: rng.int(5) })];
            const kind = rng.int(10);
            batch.push(
              kind < 6
                ? result(attemptId, workerId, { tests, startedAtMs: now - 100, finishedAtMs: now })
                : kind < 9
                  ? failed(attemptId, workerId, { tests })
                  : infra(attemptId, workerId, rng.pick(['crash', 'timeout', 'out-of-memory'] as const)),
            );
          }
          if (seenResults.length > 0 && rng.chance(0.3)) batch.push(rng.pick(seenResults));
          if (orphans.length > 0 && rng.chance(0.3)) batch.push(rng.pick(orphans));
          if (rng.chance(0.05)) batch.push(result('nope.t1.a1', 'w1'));
          const out = apply({ type: 'results', results: batch }, now) as { statuses: { attemptId: string; status: ResultStatus }[] };
          expect(out.statuses).toHaveLength(batch.length);
          for (const { attemptId, status } of out.statuses) {
            seenStatus.set(status, (seenStatus.get(status) ?? 0) + 1);
            if (status === 'counted') counted.set(attemptId, (counted.get(attemptId) ?? 0) + 1);
          }
          seenResults.push(...batch);
        } else if (roll < 95) {
          const runs = d.o.listRuns();
          if (runs.length > 0) {
            const out = apply({ type: 'cancel-run', runId: rng.pick(runs).runId, reason: 'chaos' }, now) as { cancelled: { attemptId: string; workerId: string }[] };
            orphans.push(...out.cancelled.map((c) => failed(c.attemptId, c.workerId)));
          }
        } else {
          apply({ type: 'prune-runs', finishedBeforeMs: now - 5000 }, now);
        }

        if (step === 150) {
          replica = new Driver();
          replica.o.restore(d.o.snapshot());
          replicaFrom = log.length;
          expect(replica.snapshotHex()).toBe(d.snapshotHex());
        }
      }

      // Every result counted at most once.
      for (const [attemptId, n] of counted) expect(n, attemptId).toBe(1);
      expect(seenStatus.get('counted') ?? 0).toBeGreaterThan(10);
      for (const status of ['duplicate', 'late', 'unknown'] as const) expect(seenStatus.get(status) ?? 0, status).toBeGreaterThan(0);

      // Drain the system: finish everything still open so every run ends.
      for (let guard = 0; guard < 200 && d.o.listRuns().some((r) => r.state === 'running'); guard++) {
        now += 60_000;
        const open = d.o.listRuns().filter((r) => r.state === 'running');
        if (guard > 100) {
          for (const r of open) apply({ type: 'cancel-run', runId: r.runId, reason: 'drain' }, now);
          continue;
        }
        for (const id of workerIds) if (d.o.worker(id)?.state !== 'active') apply(registration(id, { capabilities: id === 'w4' ? gpuCaps : capabilities(), slots: 3 }), now);
        apply({ type: 'drain-worker', workerId: 'w1', drain: false }, now);
        apply({ type: 'assign', assignments: d.plan(now) }, now);
        const running = d.o.listWorkers().flatMap((w) => w.running.map((a) => result(a, w.workerId)));
        const out = apply({ type: 'results', results: running }, now) as { statuses: { attemptId: string; status: ResultStatus }[] };
        for (const { attemptId, status } of out.statuses) if (status === 'counted') counted.set(attemptId, (counted.get(attemptId) ?? 0) + 1);
      }
      for (const [attemptId, n] of counted) expect(n, attemptId).toBe(1);

      const runs = d.o.listRuns();
      expect(runs.length).toBeGreaterThan(0);
      for (const summary of runs) {
        expect(summary.state).not.toBe('running');
        const run = d.o.getRun(summary.runId)!;
        const c = run.counts;
        expect(c.tasks).toBe(run.tasks.length);
        expect(c.queued + c.running).toBe(0);
        expect(c.passed + c.failed + c.cancelled + c.failedInfra).toBe(c.tasks);
        for (const task of run.tasks) {
          expect(['passed', 'failed', 'cancelled', 'failed-infra']).toContain(task.state);
          expect(task.finishedAtMs).toBeGreaterThan(0);
          expect(task.attempts.filter((a) => a.state === 'running')).toEqual([]);
          const verdicts = task.attempts.filter((a) => a.state === 'passed');
          expect(verdicts.length).toBeLessThanOrEqual(1);
          if (task.state === 'passed') expect(task.attempts[task.attempts.length - 1]!.state).toBe('passed');
          if (task.state === 'failed') expect(task.attempts[task.attempts.length - 1]!.state).toBe('failed');
          // Counted results are exactly the attempts with a recorded result.
          for (const a of task.attempts) expect(counted.get(a.attemptId) ?? 0).toBe(a.result === undefined ? 0 : 1);
          expect(task.attempts.map((a) => a.number)).toEqual(task.attempts.map((_, i) => i + 1));
        }
        const expectedState = c.cancelled > 0 ? 'cancelled' : c.failed + c.failedInfra > 0 ? 'failed' : 'passed';
        expect(run.state).toBe(expectedState);
      }
      for (const w of d.o.listWorkers()) expect(w.running).toEqual([]);

      // Determinism: a fresh replica applying the whole log, and the one
      // restored mid-way applying the rest, both end byte-identical.
      const fresh = new Driver();
      replay(fresh, log);
      expect(fresh.snapshotHex()).toBe(d.snapshotHex());
      expect(replica).not.toBeNull();
      replay(replica!, log.slice(replicaFrom));
      expect(replica!.snapshotHex()).toBe(d.snapshotHex());
    });
  }
});

describe('Orchestrator: unschedulable tasks and drains', () => {
  it('finds queued tasks no registered worker can run, and fail-tasks ends exactly those still queued', () => {
    const d = new Driver();
    d.register(registration('w1', { capabilities: capabilities({ labels: { os: 'linux' } }) }), 0);
    const gpu = template({ suite: 'gpu', requirements: { labels: { gpu: 'a100' }, cpus: 0, memoryMb: 0, tools: [] } });
    d.submit('r1', submission([template({ suite: 'any' }), gpu]), 10);
    expect(d.o.unschedulableTasks(10).map((t) => t.taskId)).toEqual(['r1.t2']);
    // A worker that meets the requirement makes it schedulable again.
    d.register(registration('w2', { capabilities: capabilities({ labels: { gpu: 'a100' } }) }), 20);
    expect(d.o.unschedulableTasks(10)).toEqual([]);
    d.lost('w2', 30);
    expect(d.o.unschedulableTasks(10).map((t) => t.taskId)).toEqual(['r1.t2']);
    d.schedule(40); // r1.t1 runs on w1
    const out = d.apply({ type: 'fail-tasks', taskIds: ['r1.t1', 'r1.t2', 'nope'], reason: 'unschedulable: no gpu' }, 50);
    expect(out).toEqual({ failed: ['r1.t2'] }); // a running task is left alone
    const task = d.o.getRun('r1')!.tasks[1]!;
    expect(task).toMatchObject({ state: 'failed-infra', reason: 'unschedulable: no gpu', finishedAtMs: 50 });
    d.results([result('r1.t1.a1', 'w1')], 60);
    expect(d.o.runSummary('r1')?.state).toBe('failed');
    expect(() => d.apply({ type: 'fail-tasks', taskIds: ['r1.t1'], reason: '' }, 70)).toThrow(ExtensionCommandError);
  });

  it('keeps a drain through a loss: a drained worker comes back draining', () => {
    const d = new Driver();
    d.register(registration('w1'), 0);
    expect(d.drain('w1', true, 1)).toEqual({ state: 'draining' });
    d.lost('w1', 2);
    d.register(registration('w1'), 3);
    expect(d.o.worker('w1')?.state).toBe('draining');
    expect(d.drain('w1', false, 4)).toEqual({ state: 'active' });
    d.lost('w1', 5);
    d.register(registration('w1'), 6);
    expect(d.o.worker('w1')?.state).toBe('active');
  });
});

describe('Orchestrator: the leader view for the scheduler', () => {
  it('lists busy workers too, so a retry waits for another worker instead of going back where it failed', () => {
    const d = new Driver();
    d.register(registration('w1', { slots: 1 }));
    d.register(registration('w2', { slots: 1 }));
    d.submit('r1', submission([template({ retries: 1 }), template({ suite: 'long' })]), 0);
    d.assign([{ taskId: 'r1.t1', workerId: 'w1' }], 0);
    d.assign([{ taskId: 'r1.t2', workerId: 'w2' }], 0);
    d.results([failed('r1.t1.a1', 'w1')], 1000);
    expect(d.o.schedulableWorkers(10_000)).toEqual([
      { workerId: 'w1', capabilities: capabilities(), freeSlots: 1, prefetchSlots: 1, slots: 1 },
      { workerId: 'w2', capabilities: capabilities(), freeSlots: 0, prefetchSlots: 1, slots: 1 },
    ]);
    expect(d.plan(10_000)).toEqual([]);
    d.results([result('r1.t2.a1', 'w2')], 11_000);
    expect(d.plan(12_000)).toEqual([{ taskId: 'r1.t1', workerId: 'w2' }]);
  });
});

describe('Orchestrator: the queue a submission will make, told before its apply', () => {
  const timed = (file: string, sec: number) => testCase({ classname: file, name: 'case', file, timeSec: sec });

  /** A cluster with timing history: files a 9 s, b 1 s, c 4 s of suite e2e; unnamed-file suites fast 1 s and slow 7 s. */
  function withHistory(): Driver {
    const d = new Driver();
    d.register(registration('w1', { slots: 4 }));
    d.submit('h', submission([template({ suite: 'e2e', files: ['a.ts', 'b.ts', 'c.ts'] }), template({ suite: 'fast' }), template({ suite: 'slow' })]), 0);
    d.schedule(0);
    d.results(
      [
        result('h.t1.a1', 'w1', { tests: [timed('a.ts', 9), timed('b.ts', 1), timed('c.ts', 4)] }),
        result('h.t2.a1', 'w1', { startedAtMs: 0, finishedAtMs: 1000 }),
        result('h.t3.a1', 'w1', { startedAtMs: 0, finishedAtMs: 7000 }),
      ],
      10_000,
    );
    expect(queued(d)).toEqual([]);
    return d;
  }

  it('gives the tasks and the run load that submit-run then queues, in scheduling order (priority, longest expected, submission order)', () => {
    const d = withHistory();
    const tasks = [
      template({ suite: 'fast' }),
      template({ suite: 'e2e', files: ['b.ts'] }),
      template({ suite: 'slow', exclusive: true }),
      template({ suite: 'e2e', files: ['a.ts', 'c.ts'] }),
      template({ suite: 'fast', priority: 5, requirements: { labels: { os: 'linux' }, cpus: 2, memoryMb: 0, tools: [] } }),
      template({ suite: 'e2e', files: ['c.ts'] }),
      template({ suite: 'fast' }),
    ];
    const preview = d.o.previewQueued('r1', submission(tasks));
    expect(preview).not.toBeNull();
    d.submit('r1', submission(tasks), 20_000);
    expect(preview!.tasks).toEqual(queued(d));
    expect(preview!.tasks.map((t) => t.taskId)).toEqual(['r1.t5', 'r1.t4', 'r1.t3', 'r1.t6', 'r1.t1', 'r1.t2', 'r1.t7']);
    expect(preview!.load).toEqual(d.o.runLoad('r1'));
    // The plan made from the preview is the plan the loop makes once the run is queued.
    const workers = d.o.schedulableWorkers(20_000);
    const fromPreview = planAssignments({ queue: preview!.tasks, workers, runLoad: () => preview!.load, nowMs: 20_000, limits: scheduleLimitsDefault, queuedTotal: preview!.tasks.length });
    expect(fromPreview.length).toBeGreaterThan(0);
    expect(fromPreview).toEqual(d.plan(20_000));
  });

  it('tells nothing when the apply decides: other tasks queued, the run known, files split by timings or drawn from a queue', () => {
    const d = withHistory();
    expect(d.o.previewQueued('h', submission([template()]))).toBeNull();
    expect(d.o.previewQueued('r1', submission([template({ suite: 'e2e', files: ['a.ts', 'b.ts'], splitByTimings: true, shardCount: 2 })]))).toBeNull();
    expect(d.o.previewQueued('r1', submission([template({ suite: 'e2e', files: ['a.ts', 'b.ts'], queue: true })]))).toBeNull();
    expect(d.o.previewQueued('r1', submission([]))).toBeNull();
    d.submit('r2', submission([template(), template()]), 20_000);
    expect(d.o.previewQueued('r3', submission([template()]))).toBeNull();
  });
});

describe('Orchestrator: breakers in the replicated state', () => {
  function crashOn(d: Driver, worker: string, taskId: string, atMs: number): void {
    const out = d.assign([{ taskId, workerId: worker }], atMs);
    expect(out.assigned).toHaveLength(1);
    d.results([infra(out.assigned[0]!.attemptId, worker, 'crash')], atMs + 10);
  }

  it('opens a failing worker’s breaker, probes it half-open, and quarantines it after repeated opens; an operator releases it', () => {
    const d = new Driver();
    const events: OrchEvent[] = [];
    // Long opens and an early quarantine keep the steps readable; the defaults are shorter (tested below).
    d.apply({ type: 'set-breaker-config', config: { openBaseMs: 30_000, openMaxMs: 600_000, quarantineAfterOpens: 3, failingPaceMs: 0 } }, 0);
    d.o.onChange((_r, _t, evs) => events.push(...evs.filter((e) => e.kind !== 'decision')));
    for (const w of ['w1', 'w2', 'w3', 'w4']) d.register(registration(w, { slots: 4 }));
    d.submit('r1', submission(Array.from({ length: 12 }, () => template())), 0);
    for (let i = 1; i <= 5; i++) crashOn(d, 'w1', `r1.t${i}`, i * 100);
    expect(d.o.worker('w1')?.breaker.state).toBe('open');
    // Open: no work until the wait is over.
    expect(d.assign([{ taskId: 'r1.t6', workerId: 'w1' }], 1000).skipped).toBe(1);
    expect(d.o.schedulableWorkers(1000).map((w) => w.workerId)).toEqual(['w2', 'w3', 'w4']);
    // After 30 s a probe goes through (half-open); it crashes: open again, for 60 s.
    crashOn(d, 'w1', 'r1.t6', 31_000);
    expect(d.o.worker('w1')?.breaker.state).toBe('open');
    expect(d.assign([{ taskId: 'r1.t7', workerId: 'w1' }], 60_000).skipped).toBe(1);
    crashOn(d, 'w1', 'r1.t7', 92_000);
    expect(d.o.worker('w1')?.breaker).toMatchObject({ state: 'forced-open' });
    expect(events.filter((e) => e.kind === 'alert').map((e) => (e.kind === 'alert' ? e.alert : ''))).toEqual(['quarantine']);
    expect(events.filter((e) => e.kind === 'breaker').map((e) => (e.kind === 'breaker' ? `${e.from}>${e.to}` : ''))).toEqual([
      'closed>open',
      'open>half-open',
      'half-open>open',
      'open>half-open',
      'half-open>open',
      'open>forced-open',
    ]);
    // Quarantined: nothing for it until an operator releases it (or the cool-down lets a probe through).
    expect(d.assign([{ taskId: 'r1.t8', workerId: 'w1' }], 200_000).skipped).toBe(1);
    expect(d.apply({ type: 'release-worker', workerId: 'w1', reason: 'disk replaced' }, 210_000)).toEqual({ breaker: 'closed' });
    expect(d.assign([{ taskId: 'r1.t8', workerId: 'w1' }], 210_001).assigned).toHaveLength(1);
    // The healthy workers never moved; the snapshot carries every breaker.
    for (const w of ['w2', 'w3', 'w4']) expect(d.o.worker(w)?.breaker.state).toBe('closed');
    const copy = new Driver();
    copy.o.restore(d.o.snapshot());
    expect(copy.o.worker('w1')?.breaker).toEqual(d.o.worker('w1')?.breaker);
  });

  it('quarantine clears the preference of queued tasks only, so a replica restored from a snapshot stays equal to one that replayed the log', () => {
    const d = new Driver();
    d.apply({ type: 'set-breaker-config', config: { openBaseMs: 30_000, openMaxMs: 600_000, quarantineAfterOpens: 3, failingPaceMs: 0 } }, 0);
    for (const w of ['w1', 'w2', 'w3', 'w4']) d.register(registration(w, { slots: 4 }));
    d.submit('r1', submission(Array.from({ length: 10 }, () => template())), 0);
    // t1 crashes on w1 once (level 1: back to w1), then passes there: it ends still preferring w1.
    crashOn(d, 'w1', 'r1.t1', 100);
    expect(queued(d).find((t) => t.taskId === 'r1.t1')?.preferWorker).toBe('w1');
    const again = d.assign([{ taskId: 'r1.t1', workerId: 'w1' }], 5_000);
    d.results([result(again.assigned[0]!.attemptId, 'w1')], 5_100);
    // The replica that replayed the log still holds the ended t1 in its (node-local) queue order; one
    // restored from a snapshot holds only queued tasks there. Both now apply the same commands.
    const restored = new Driver();
    restored.o.restore(d.o.snapshot());
    restored.index = d.index;
    const both = (f: (x: Driver) => void): void => [d, restored].forEach(f);
    both((x) => {
      // With t1's, four crashes in its last five attempts: the breaker opens; two probes crash: quarantined.
      for (let i = 2; i <= 4; i++) crashOn(x, 'w1', `r1.t${i}`, 6_000 + i * 100);
      expect(x.o.worker('w1')?.breaker.state).toBe('open');
      crashOn(x, 'w1', 'r1.t7', 40_000);
      crashOn(x, 'w1', 'r1.t8', 110_000);
    });
    expect(d.o.worker('w1')?.breaker.state).toBe('forced-open');
    expect(restored.o.snapshot()).toEqual(d.o.snapshot());
  });

  it('never trips a breaker on test failures: a worker whose tests fail is healthy', () => {
    const d = new Driver();
    d.register(registration('w1', { slots: 8 }));
    d.submit('r1', submission(Array.from({ length: 8 }, () => template())), 0);
    const out = d.schedule(0);
    d.results(out.assigned.map((a) => failed(a.attemptId, 'w1')), 100);
    expect(d.o.worker('w1')?.breaker.state).toBe('closed');
    expect(d.o.getRun('r1')!.tasks.every((t) => t.decisions.length === 0)).toBe(true);
  });

  it('upgrades a version-1 snapshot: closed breakers, tasks at the foot of their ladders', () => {
    const d = new Driver();
    d.register(registration('w1'));
    d.submit('r1', submission([template()]), 0);
    const v2 = JSON.parse(inflateRawSync(d.o.snapshot()).toString('utf8')) as Record<string, unknown> & { workers: Record<string, unknown>[]; runs: (Record<string, unknown> & { tasks: Record<string, unknown>[] })[] };
    const v1: Record<string, unknown> & typeof v2 = { ...v2, version: 1 };
    delete v1['recovery'];
    for (const w of v1.workers) for (const k of ['breaker', 'capabilityKey', 'resetting', 'resetSinceMs']) delete w[k];
    for (const r of v1.runs) {
      delete r['degraded'];
      for (const t of r.tasks) for (const k of ['preferWorker', 'ladder', 'decisions']) delete t[k];
    }
    const copy = new Driver();
    copy.o.restore(deflateRawSync(Buffer.from(JSON.stringify(v1))));
    expect(copy.o.worker('w1')?.breaker.state).toBe('closed');
    expect(copy.o.getRun('r1')!.tasks[0]!.decisions).toEqual([]);
    expect(copy.o.runSummary('r1')?.degraded).toBe(false);
  });
});

describe('Orchestrator: attempts cancelled by stopping workers', () => {
  it('requeues them without blaming anyone, but ends the task after cancelledRunsMax', () => {
    const d = new Driver();
    d.register(registration('w1', { slots: 1 }));
    d.submit('r1', submission([template()]), 0);
    let at = 0;
    for (let i = 1; i <= cancelledRunsMax + 1; i++) {
      at += 10_000;
      const out = d.schedule(at);
      expect(out.assigned).toHaveLength(1);
      d.results([infra(out.assigned[0]!.attemptId, 'w1', 'cancelled')], at + 1);
    }
    const task = d.o.getRun('r1')!.tasks[0]!;
    expect(task.state).toBe('failed-infra');
    expect(task.reason).toMatch(new RegExp(`^cancelled ${cancelledRunsMax + 1} times by stopping workers`));
    expect(task.decisions).toEqual([]);
    expect(d.o.worker('w1')?.breaker.state).toBe('closed');
  });

  it('asks a worker that was lost while a reset was owed to reset when it comes back', () => {
    const d = new Driver();
    for (const w of ['w1', 'w2']) d.register(registration(w, { slots: 1 }));
    d.submit('r1', submission([template()]), 0);
    d.assign([{ taskId: 'r1.t1', workerId: 'w1' }], 0);
    d.results([infra('r1.t1.a1', 'w1', 'setup-failure')], 10);
    expect(d.o.worker('w1')?.resetting).toBe(true);
    d.lost('w1', 20);
    expect(d.register(registration('w1', { slots: 1 }), 30).reset).toBe(true);
    expect(d.o.resetSinceMs('w1')).toBe(30);
  });
});

describe('Orchestrator: replicated breaker settings', () => {
  it('changes them for every replica alike, refuses invalid ones, and keeps them in the snapshot', () => {
    const d = new Driver();
    expect(d.o.breakerConfig().openBaseMs).toBe(2_000);
    expect(d.apply({ type: 'set-breaker-config', config: { openBaseMs: 1000, openMaxMs: 4000 } }, 0)).toMatchObject({ config: { openBaseMs: 1000, openMaxMs: 4000, minimumCalls: 5 } });
    const before = d.snapshotHex();
    expect(() => d.apply({ type: 'set-breaker-config', config: { openBaseMs: 9000 } }, 1)).toThrow(/openBaseMs ≤ openMaxMs/);
    expect(() => d.apply({ type: 'set-breaker-config', config: { nonsense: 1 } as never }, 2)).toThrow(/unknown setting nonsense/);
    expect(d.snapshotHex()).toBe(before);
    const copy = new Driver();
    copy.o.restore(d.o.snapshot());
    expect(copy.o.breakerConfig()).toEqual(d.o.breakerConfig());
  });
  it('sets the ladder and threshold numbers too, and refuses bad ones', () => {
    const d = new Driver();
    expect(d.apply({ type: 'set-breaker-config', config: { retryBackoffMs: 500, fleetHoldsMax: 2, thresholdK: 2, maxEjectedShare: 0.5 } }, 0)).toMatchObject({
      config: { retryBackoffMs: 500, fleetHoldsMax: 2, thresholdK: 2, maxEjectedShare: 0.5 },
    });
    expect(() => d.apply({ type: 'set-breaker-config', config: { sameWorkerFailuresMax: 0 } }, 1)).toThrow(/sameWorkerFailuresMax must be an integer ≥ 1/);
    expect(() => d.apply({ type: 'set-breaker-config', config: { maxEjectedShare: 2 } }, 1)).toThrow(/maxEjectedShare must be in \[0, 1\]/);
    expect(d.o.breakerConfig().retryBackoffMs).toBe(500);
  });

  it('with adaptive recovery off, a failing worker is never cut off and its tasks follow the fixed policy', () => {
    const d = new Driver();
    d.apply({ type: 'set-breaker-config', config: { adaptiveRecovery: false } }, 0);
    for (const w of ['w1', 'w2']) d.register(registration(w, { slots: 1 }));
    d.submit('r1', submission([template()]), 0);
    d.assign([{ taskId: 'r1.t1', workerId: 'w1' }], 0);
    d.results([infra('r1.t1.a1', 'w1', 'setup-failure')], 10);
    const task = d.o.getRun('r1')?.tasks[0];
    expect(task?.decisions.at(-1)).toMatchObject({ level: 1, action: 'retry-same-worker' });
    expect(task?.decisions.at(-1)?.reason).toMatch(/adaptive recovery off/);
    expect(d.o.worker('w1')?.resetting).toBe(false);
    expect(d.o.worker('w1')?.breaker.state).toBe('closed');
  });
});

describe('Orchestrator: recovery that keeps the fleet serving', () => {
  function crashOn(d: Driver, worker: string, taskId: string, atMs: number, infraClass: 'crash' | 'spawn-error' = 'crash'): string {
    const out = d.assign([{ taskId, workerId: worker }], atMs);
    expect(out.assigned).toHaveLength(1);
    const attemptId = out.assigned[0]!.attemptId;
    d.results([infra(attemptId, worker, infraClass)], atMs + 10);
    return attemptId;
  }

  it('past the ejection cap an open worker stays in service at one attempt at a time; the first one is ejected', () => {
    const d = new Driver();
    // A plain threshold (no peer guard), so the second bad worker trips too; no pacing (tested below).
    d.apply({ type: 'set-breaker-config', config: { thresholdK: 0, thresholdGuardMargin: 0, failingPaceMs: 0 } }, 0);
    for (const w of ['w1', 'w2', 'w3']) d.register(registration(w, { slots: 2 }));
    d.submit('r1', submission(Array.from({ length: 20 }, () => template())), 0);
    for (let i = 1; i <= 5; i++) crashOn(d, 'w1', `r1.t${i}`, i * 10);
    expect(d.o.worker('w1')?.breaker.state).toBe('open');
    // w1 is the first of its class to open: ejected (no work while open).
    expect(d.o.schedulableWorkers(100).map((w) => w.workerId)).toEqual(['w2', 'w3']);
    for (let i = 6; i <= 10; i++) crashOn(d, 'w2', `r1.t${i}`, 100 + i * 10);
    expect(d.o.worker('w2')?.breaker.state).toBe('open');
    // w2 opened second: 4 of 6 slots would be out (cap 25%), so it keeps one slot.
    const listed = d.o.schedulableWorkers(300);
    expect(listed.find((w) => w.workerId === 'w1')).toBeUndefined();
    expect(listed.find((w) => w.workerId === 'w2')?.freeSlots).toBe(1);
    expect(d.o.workerService('w1', 300)).toMatchObject({ service: 'out', reason: expect.stringContaining('ejected until') });
    expect(d.o.workerService('w2', 300)).toMatchObject({ service: 'one-at-a-time', reason: expect.stringContaining('past the ejection cap') });
    expect(d.o.workerService('w3', 300)).toEqual({ service: 'full', reason: '' });
    expect(d.o.workerService('w9', 300)).toEqual({ service: 'out', reason: 'unknown worker' });
    expect(d.assign([{ taskId: 'r1.t11', workerId: 'w2' }], 300).assigned).toHaveLength(1);
    expect(d.assign([{ taskId: 'r1.t12', workerId: 'w2' }], 301).skipped).toBe(1);
    expect(d.assign([{ taskId: 'r1.t12', workerId: 'w1' }], 302).skipped).toBe(1);
  });

  it('runs a worker that fails one spawn in three at a lower weight until its window is clean; its peers keep their slots', () => {
    const d = new Driver();
    // Off by default (docs/recovery.md, "Outlier weighting"): turned on here.
    d.apply({ type: 'set-breaker-config', config: { outlierMargin: 0.2 } }, 0);
    for (const w of ['w1', 'w2', 'w3']) d.register(registration(w, { slots: 2 }));
    d.submit('r1', submission(Array.from({ length: 40 }, () => template())), 0);
    let n = 0;
    const pass = (w: string, atMs: number): void => {
      const out = d.assign([{ taskId: `r1.t${++n}`, workerId: w }], atMs);
      d.results([result(out.assigned[0]!.attemptId, w)], atMs + 10);
    };
    for (const w of ['w2', 'w3']) for (let i = 0; i < 4; i++) pass(w, 100 + i * 20);
    // w1: one failure is luck, it keeps both slots.
    pass('w1', 200);
    crashOn(d, 'w1', `r1.t${++n}`, 220, 'spawn-error');
    pass('w1', 240);
    expect(d.o.schedulableWorkers(300).find((w) => w.workerId === 'w1')?.freeSlots).toBe(2);
    // A second failure: 2 of 4 against its peers' 0 is an outlier (margin 0.2), one attempt at a time.
    crashOn(d, 'w1', `r1.t${++n}`, 260, 'spawn-error');
    expect(d.o.worker('w1')?.breaker.state).toBe('closed');
    expect(d.o.schedulableWorkers(300).map((w) => [w.workerId, w.freeSlots])).toEqual([['w1', 1], ['w2', 2], ['w3', 2]]);
    // `workers list` says so, with the numbers.
    expect(d.o.workerService('w1', 300)).toEqual({ service: 'one-at-a-time', reason: "outlier: 2 of 4 attempts failed, at least 0.2 above its peers' median" });
    expect(d.o.workerService('w2', 300)).toEqual({ service: 'full', reason: '' });
    expect(d.assign([{ taskId: `r1.t${++n}`, workerId: 'w1' }], 300).assigned).toHaveLength(1);
    expect(d.assign([{ taskId: `r1.t${++n}`, workerId: 'w1' }], 301).skipped).toBe(1);
    d.results([result(`r1.t${n - 1}.a1`, 'w1')], 310);
    // Successes thin its failures out: at 2 of 10 (0.2) it is still one; at 2 of 11 it has both slots again.
    for (let i = 0; i < 5; i++) pass('w1', 400 + i * 20);
    expect(d.o.schedulableWorkers(500).find((w) => w.workerId === 'w1')?.freeSlots).toBe(1);
    pass('w1', 520);
    expect(d.o.schedulableWorkers(600).find((w) => w.workerId === 'w1')?.freeSlots).toBe(2);
    // Off, it never applies.
    crashOn(d, 'w1', `r1.t${++n}`, 620, 'spawn-error');
    expect(d.o.schedulableWorkers(700).find((w) => w.workerId === 'w1')?.freeSlots).toBe(1);
    d.apply({ type: 'set-breaker-config', config: { outlierMargin: 0 } }, 700);
    expect(d.o.schedulableWorkers(800).find((w) => w.workerId === 'w1')?.freeSlots).toBe(2);
  });

  it('holds tasks through a fleet-wide fault instead of giving them up, and nobody is quarantined', () => {
    const d = new Driver();
    const decisions: OrchEvent[] = [];
    d.o.onChange((_r, _t, evs) => decisions.push(...evs.filter((e) => e.kind === 'decision')));
    for (const w of ['w1', 'w2', 'w3']) d.register(registration(w, { slots: 2 }));
    d.submit('r1', submission([template()]), 0);
    // Every worker fails every spawn: after three each, they are all "failing now".
    let t = 0;
    for (const w of ['w1', 'w2', 'w3']) {
      for (let i = 0; i < 3; i++) {
        d.submit(`x${w}${i}`, submission([template()]), (t += 10));
        crashOn(d, w, `x${w}${i}.t1`, (t += 10), 'spawn-error');
      }
    }
    // Now the run's task fails again and again, on every worker in turn; it is held, never given up.
    for (let i = 0; i < 8; i++) {
      const w = `w${(i % 3) + 1}`;
      t += 20_000;
      crashOn(d, w, 'r1.t1', t, 'spawn-error');
      const task = d.o.getRun('r1')!.tasks[0]!;
      expect(task.state).toBe('queued');
      expect(task.decisions.at(-1)?.reason).toMatch(new RegExp(`during a fleet-wide fault: hold ${i + 1} of 8`));
    }
    expect(d.o.getRun('r1')!.tasks[0]!.decisions.every((x) => x.level === 1)).toBe(true);
    for (const w of ['w1', 'w2', 'w3']) expect(d.o.worker(w)?.breaker.state).not.toBe('forced-open');
    expect(decisions.filter((e) => e.kind === 'decision' && e.hold).length).toBeGreaterThanOrEqual(8);
    // The fault heals: the first task a failing worker runs releases the held task from the rest of its wait.
    const held = (): number => [...d.o.queuedTasks()].find((x) => x.taskId === 'r1.t1')!.notBeforeMs;
    expect(held()).toBe(t + 10 + 4_000);
    d.submit('healed', submission([template()]), (t += 100));
    const out = d.assign([{ taskId: 'healed.t1', workerId: 'w1' }], (t += 10));
    d.results([result(out.assigned[0]!.attemptId, 'w1')], (t += 10));
    expect(held()).toBe(t);
  });

  it('paces a worker failing now: one attempt at a time, one per failingPaceMs, until one succeeds', () => {
    const d = new Driver();
    for (const w of ['w1', 'w2']) d.register(registration(w, { slots: 4 }));
    d.submit('r1', submission(Array.from({ length: 10 }, () => template())), 0);
    for (let i = 1; i <= 3; i++) crashOn(d, 'w1', `r1.t${i}`, i * 10, 'spawn-error');
    // Its last failure was at 40 ms: nothing before 1040 ms, then one slot at a time.
    expect(d.o.schedulableWorkers(500).find((w) => w.workerId === 'w1')?.freeSlots).toBe(0);
    expect(d.assign([{ taskId: 'r1.t4', workerId: 'w1' }], 500).skipped).toBe(1);
    expect(d.o.schedulableWorkers(1_040).find((w) => w.workerId === 'w1')?.freeSlots).toBe(1);
    expect(d.o.schedulableWorkers(1_040).find((w) => w.workerId === 'w2')?.freeSlots).toBe(4);
    const out = d.assign([{ taskId: 'r1.t4', workerId: 'w1' }, { taskId: 'r1.t5', workerId: 'w1' }], 1_040);
    expect(out.assigned).toHaveLength(1);
    expect(out.skipped).toBe(1);
    // It succeeds: no longer failing now, every slot is back.
    d.results([result(out.assigned[0]!.attemptId, 'w1')], 1_500);
    expect(d.o.schedulableWorkers(1_500).find((w) => w.workerId === 'w1')?.freeSlots).toBe(4);
    // With adaptive recovery off (the baseline), nobody is paced.
    d.apply({ type: 'set-breaker-config', config: { adaptiveRecovery: false } }, 1_600);
    for (let i = 5; i <= 7; i++) crashOn(d, 'w1', `r1.t${i}`, 1_600 + i * 10, 'spawn-error');
    expect(d.o.schedulableWorkers(1_700).find((w) => w.workerId === 'w1')?.freeSlots).toBe(4);
  });

  it('does not pace a worker whose process died with three attempts in flight: the crash is one event, probed at once', () => {
    const d = new Driver();
    for (const w of ['w1', 'w2']) d.register(registration(w, { slots: 3, bootId: `${w}-a` }));
    d.submit('r1', submission(Array.from({ length: 6 }, () => template())), 0);
    d.assign([1, 2, 3].map((i) => ({ taskId: `r1.t${i}`, workerId: 'w1' })), 0);
    // The new process names all three: three lost calls at one instant (failing now), and the crash trips the breaker.
    d.register(registration('w1', { slots: 3, bootId: 'w1-b', uncleanStart: true, interrupted: ['r1.t1.a1', 'r1.t2.a1', 'r1.t3.a1'] }), 1_000);
    expect(d.o.worker('w1')?.breaker.state).toBe('open');
    // No pacing wait: probes go out at once (halfOpenProbes of them), not one a second.
    expect(d.o.schedulableWorkers(1_000).find((w) => w.workerId === 'w1')?.freeSlots).toBe(2);
    const out = d.assign([4, 5].map((i) => ({ taskId: `r1.t${i}`, workerId: 'w1' })), 1_000);
    expect(out.assigned).toHaveLength(2);
    expect(d.o.worker('w1')?.breaker.state).toBe('half-open');
  });
});
