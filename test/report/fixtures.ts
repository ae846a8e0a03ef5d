// RunView builders shared by the report tests.
import type {
  AttemptResult,
  AttemptState,
  AttemptView,
  RunState,
  RunView,
  TaskState,
  TaskTemplate,
  TaskView,
  TestCaseResult,
  TestCaseStatus,
} from '../../src/model/types.js';

export type AttemptOpts = Partial<Pick<AttemptView, 'workerId' | 'reason' | 'lateResults'>> &
  Partial<Pick<AttemptResult, 'infraClass' | 'startedAtMs' | 'finishedAtMs' | 'outputTail'>> & { resultReason?: string; noResult?: boolean };
export type TaskOpts = { suite?: string; shard?: number; shardCount?: number; matrix?: Record<string, string>; state?: TaskState; reason?: string; files?: string[] };

export function tc(classname: string, name: string, status: TestCaseStatus = 'passed', extra: Partial<TestCaseResult> = {}): TestCaseResult {
  const failing = status === 'failed' || status === 'error';
  return {
    classname,
    name,
    file: '',
    status,
    timeSec: 0.5,
    message: failing ? `${name} ${status}` : '',
    type: failing ? 'AssertionError' : '',
    details: failing ? `stack of ${name}` : '',
    ...extra,
  };
}

let attemptSeq = 0;

export function attempt(number: number, state: AttemptState, tests: TestCaseResult[], opts: AttemptOpts = {}): AttemptView {
  const attemptId = `a${++attemptSeq}`;
  const workerId = opts.workerId ?? 'w1';
  const hasResult = !opts.noResult && (state === 'passed' || state === 'failed' || state === 'infra-error');
  const startedAtMs = opts.startedAtMs ?? 1_000_000 + number * 10_000;
  const result: AttemptResult | undefined = hasResult
    ? {
        attemptId,
        taskId: '',
        workerId,
        outcome: state as AttemptResult['outcome'],
        infraClass: opts.infraClass ?? (state === 'infra-error' ? 'crash' : ''),
        reason: opts.resultReason ?? (state === 'infra-error' ? 'process crashed' : ''),
        exitCode: state === 'passed' ? 0 : 1,
        signal: '',
        startedAtMs,
        finishedAtMs: opts.finishedAtMs ?? startedAtMs + 2_000,
        tests,
        outputTail: opts.outputTail ?? '',
        logBytes: 0,
      }
    : undefined;
  return {
    attemptId,
    number,
    workerId,
    assignedAtMs: startedAtMs - 100,
    state,
    ...(result ? { result } : {}),
    reason: opts.reason ?? '',
    lateResults: opts.lateResults ?? 0,
  };
}

export function task(taskId: string, attempts: AttemptView[], opts: TaskOpts = {}): TaskView {
  const last = attempts[attempts.length - 1];
  const derived: TaskState =
    last === undefined ? 'cancelled' : last.state === 'passed' ? 'passed' : last.state === 'failed' ? 'failed' : last.state === 'cancelled' ? 'cancelled' : 'failed-infra';
  const template: TaskTemplate = {
    suite: opts.suite ?? 'unit',
    command: 'npm test',
    cwd: '.',
    shard: opts.shard ?? 1,
    shardCount: opts.shardCount ?? 1,
    files: opts.files ?? [],
    splitByTimings: false,
    matrix: opts.matrix ?? {},
    env: {},
    requirements: { labels: {}, cpus: 0, memoryMb: 0, tools: [] },
    priority: 0,
    timeoutSec: 600,
    retries: 2,
    exclusive: false,
  };
  return {
    taskId,
    runId: 'run-1',
    template,
    files: opts.files ?? [],
    state: opts.state ?? derived,
    reason: opts.reason ?? '',
    queuedAtMs: 1_000_000,
    finishedAtMs: 1_100_000,
    expectedMs: 1000,
    attempts: attempts.map((a) => (a.result ? { ...a, result: { ...a.result, taskId } } : a)),
    decisions: [],
  };
}

export interface RunOpts {
  state?: RunState;
  flakiness?: Record<string, number>;
  flakinessHistory?: RunView['flakinessHistory'];
  workers?: RunView['workers'];
  name?: string;
  runId?: string;
}

export function runView(tasks: readonly TaskView[], opts: RunOpts = {}): RunView {
  const count = (s: TaskState): number => tasks.filter((t) => t.state === s).length;
  return {
    degraded: false,
    runId: opts.runId ?? 'run-1',
    name: opts.name ?? 'nightly',
    state: opts.state ?? (tasks.every((t) => t.state === 'passed') ? 'passed' : 'failed'),
    submittedAtMs: Date.UTC(2025, 0, 2, 3, 4, 5),
    finishedAtMs: Date.UTC(2025, 0, 2, 3, 14, 5),
    counts: {
      tasks: tasks.length,
      queued: 0,
      running: 0,
      passed: count('passed'),
      failed: count('failed'),
      cancelled: count('cancelled'),
      failedInfra: count('failed-infra'),
    },
    setup: [],
    setupCacheKey: '',
    sourceDir: '/src',
    tasks,
    flakiness: opts.flakiness ?? {},
    ...(opts.flakinessHistory !== undefined ? { flakinessHistory: opts.flakinessHistory } : {}),
    ...(opts.workers !== undefined ? { workers: opts.workers } : {}),
  };
}
