// The JSON summary of a run: totals, per-worker and per-suite tables,
// duration distributions, the slowest, flaky and failed tests and the
// infrastructure failures.
import type { AttemptState, InfraFailureClass, RunState, RunView, TaskState, TaskView } from '../model/types.js';
import { flakinessKey } from '../model/types.js';
import type { MergedReport, MergedTest } from './merge.js';
import { countedAttempts, roundSec, suiteLabel } from './merge.js';

export const SUMMARY_SCHEMA_VERSION = 1;

export interface SummaryTotals {
  /** Merged tests, synthetic task cases included. */
  readonly tests: number;
  /** Includes flaky tests. */
  readonly passed: number;
  readonly failed: number;
  readonly errors: number;
  readonly skipped: number;
  readonly flaky: number;
  readonly tasks: number;
  readonly tasksPassed: number;
  readonly tasksFailed: number;
  readonly tasksFailedInfra: number;
  readonly tasksCancelled: number;
  /** Every attempt the coordinator recorded (lost and cancelled ones included). */
  readonly attempts: number;
  /** Attempts beyond each task's first. */
  readonly retries: number;
}

export interface WorkerSummary {
  readonly workerId: string;
  /** Attempts assigned to the worker, whatever their end. */
  readonly attempts: number;
  /** Attempts that ended passed / failed / infra-error / lost / cancelled. */
  readonly passed: number;
  readonly failed: number;
  readonly infraErrors: number;
  readonly lost: number;
  readonly cancelled: number;
  /** Sum of the reported attempts' durations (worker clock); lost attempts have none. */
  readonly busySec: number;
}

export interface SuiteSummary {
  /** Suite label (suite × matrix cell). */
  readonly suite: string;
  readonly tests: number;
  readonly passed: number;
  readonly failed: number;
  readonly errors: number;
  readonly flaky: number;
  readonly skipped: number;
  /** Sum of the tests' final times (the JUnit testsuite time). */
  readonly durationSec: number;
  readonly tasks: number;
}

/** Nearest-rank statistics; null fields when `count` is 0. */
export interface DurationStats {
  readonly count: number;
  readonly minSec: number | null;
  readonly p50Sec: number | null;
  readonly p90Sec: number | null;
  readonly p99Sec: number | null;
  readonly maxSec: number | null;
  readonly meanSec: number | null;
}

export interface SlowTest {
  readonly id: string;
  readonly suite: string;
  readonly timeSec: number;
}

export interface SlowTask {
  readonly taskId: string;
  readonly suite: string;
  readonly shard: number;
  readonly shardCount: number;
  readonly state: TaskState;
  /** Duration of the task's last reported attempt. */
  readonly durationSec: number;
  readonly attempts: number;
  /** The worker of that attempt. */
  readonly workerId: string;
}

export interface FlakyTest {
  readonly id: string;
  readonly suite: string;
  /** Counted runs of the test (the failing ones and the final pass). */
  readonly attempts: number;
  /** From the run's flakiness history (0..1); null when the history has no rate. */
  readonly flakinessRate: number | null;
}

export interface FailedTest {
  readonly id: string;
  readonly suite: string;
  readonly status: 'failed' | 'error';
  readonly message: string;
  readonly attempts: number;
  /** Stands for a task that ended without a test verdict. */
  readonly synthetic: boolean;
}

export interface InfraFailureAttempt {
  readonly attemptId: string;
  readonly number: number;
  readonly workerId: string;
  readonly state: AttemptState;
  readonly infraClass: InfraFailureClass | '';
  readonly reason: string;
}

export interface InfraFailure {
  readonly taskId: string;
  readonly suite: string;
  readonly reason: string;
  readonly attempts: readonly InfraFailureAttempt[];
}

export interface RunReportJson {
  readonly schemaVersion: 1;
  readonly runId: string;
  readonly name: string;
  readonly state: RunState;
  /** ISO 8601. */
  readonly submittedAt: string;
  /** ISO 8601; null while the run has not finished. */
  readonly finishedAt: string | null;
  /** Wall clock from submission to finish; null while the run has not finished. */
  readonly durationSec: number | null;
  readonly totals: SummaryTotals;
  /** Sorted by worker id. */
  readonly perWorker: readonly WorkerSummary[];
  /** In run order. */
  readonly perSuite: readonly SuiteSummary[];
  readonly durations: { readonly tasks: DurationStats; readonly tests: DurationStats };
  /** Top 20 by final time. */
  readonly slowestTests: readonly SlowTest[];
  /** Top 10 by duration. */
  readonly slowestTasks: readonly SlowTask[];
  readonly flakyTests: readonly FlakyTest[];
  /** Final status failed or error. */
  readonly failedTests: readonly FailedTest[];
  /** Tasks that ended failed-infra. */
  readonly infraFailures: readonly InfraFailure[];
}

/**
 * Nearest-rank percentile of ascending `sorted`: the value at rank
 * ceil(p/100 × n) (1-based), rank 1 at least. Undefined when empty.
 */
export function nearestRank(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}

/** Count, min, nearest-rank p50/p90/p99, max and mean of `values` (seconds). */
export function durationStats(values: readonly number[]): DurationStats {
  if (values.length === 0) {
    return { count: 0, minSec: null, p50Sec: null, p90Sec: null, p99Sec: null, maxSec: null, meanSec: null };
  }
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  const r = (p: number): number => roundSec(nearestRank(sorted, p) ?? 0);
  return {
    count: sorted.length,
    minSec: roundSec(sorted[0] ?? 0),
    p50Sec: r(50),
    p90Sec: r(90),
    p99Sec: r(99),
    maxSec: roundSec(sorted[sorted.length - 1] ?? 0),
    meanSec: roundSec(sum / sorted.length),
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function attemptSec(task: TaskView, attemptId: string): number {
  const r = task.attempts.find((a) => a.attemptId === attemptId)?.result;
  return r ? Math.max(0, (r.finishedAtMs - r.startedAtMs) / 1000) : 0;
}

/** The task's last attempt with a result (counted first, then any). */
function lastReported(task: TaskView): { attemptId: string; workerId: string } | undefined {
  const counted = countedAttempts(task);
  const a = counted[counted.length - 1] ?? [...task.attempts].reverse().find((x) => x.result !== undefined);
  return a ? { attemptId: a.attemptId, workerId: a.result?.workerId || a.workerId } : undefined;
}

function byDescThenId<T>(sec: (x: T) => number, id: (x: T) => string): (a: T, b: T) => number {
  return (a, b) => sec(b) - sec(a) || (id(a) < id(b) ? -1 : id(a) > id(b) ? 1 : 0);
}

export function buildSummary(run: RunView, merged: MergedReport): RunReportJson {
  const allTests: MergedTest[] = merged.suites.flatMap((s) => s.tests);
  const c = merged.counts;

  let attempts = 0;
  let retries = 0;
  const taskCount = (state: TaskState): number => run.tasks.filter((t) => t.state === state).length;
  const workers = new Map<string, { attempts: number; passed: number; failed: number; infraErrors: number; lost: number; cancelled: number; busyMs: number }>();
  for (const task of run.tasks) {
    attempts += task.attempts.length;
    retries += Math.max(0, task.attempts.length - 1);
    for (const a of task.attempts) {
      const id = a.workerId || a.result?.workerId || '';
      let w = workers.get(id);
      if (w === undefined) {
        w = { attempts: 0, passed: 0, failed: 0, infraErrors: 0, lost: 0, cancelled: 0, busyMs: 0 };
        workers.set(id, w);
      }
      w.attempts++;
      if (a.state === 'passed') w.passed++;
      else if (a.state === 'failed') w.failed++;
      else if (a.state === 'infra-error') w.infraErrors++;
      else if (a.state === 'lost') w.lost++;
      else if (a.state === 'cancelled') w.cancelled++;
      if (a.result) w.busyMs += Math.max(0, a.result.finishedAtMs - a.result.startedAtMs);
    }
  }
  const perWorker: WorkerSummary[] = [...workers]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([workerId, w]) => ({
      workerId,
      attempts: w.attempts,
      passed: w.passed,
      failed: w.failed,
      infraErrors: w.infraErrors,
      lost: w.lost,
      cancelled: w.cancelled,
      busySec: roundSec(w.busyMs / 1000),
    }));

  const perSuite: SuiteSummary[] = merged.suites.map((s) => ({
    suite: s.name,
    tests: s.counts.tests,
    passed: s.counts.passed,
    failed: s.counts.failed,
    errors: s.counts.errors,
    flaky: s.counts.flaky,
    skipped: s.counts.skipped,
    durationSec: s.counts.timeSec,
    tasks: s.taskIds.length,
  }));

  const taskDurations: SlowTask[] = [];
  for (const task of run.tasks) {
    const last = lastReported(task);
    if (last === undefined) continue;
    taskDurations.push({
      taskId: task.taskId,
      suite: suiteLabel(task.template),
      shard: task.template.shard,
      shardCount: task.template.shardCount,
      state: task.state,
      durationSec: roundSec(attemptSec(task, last.attemptId)),
      attempts: task.attempts.length,
      workerId: last.workerId,
    });
  }
  const realTests = allTests.filter((t) => !t.synthetic);
  const timedTests = realTests.filter((t) => t.status !== 'skipped');

  const slowestTests: SlowTest[] = [...timedTests]
    .sort(byDescThenId((t) => t.timeSec, (t) => t.key))
    .slice(0, 20)
    .map((t) => ({ id: t.id, suite: t.suite, timeSec: roundSec(t.timeSec) }));
  const slowestTasks = [...taskDurations].sort(byDescThenId((t) => t.durationSec, (t) => t.taskId)).slice(0, 10);

  const suiteOfTask = new Map(run.tasks.map((task) => [task.taskId, task.template.suite]));
  const flakyTests: FlakyTest[] = allTests
    .filter((t) => t.flaky)
    .map((t) => ({
      id: t.id,
      suite: t.suite,
      attempts: t.runs.length,
      flakinessRate: run.flakiness[flakinessKey(suiteOfTask.get(t.taskId) ?? t.suite, t.id)] ?? null,
    }));
  const failedTests: FailedTest[] = [];
  for (const t of allTests) {
    if (t.status !== 'failed' && t.status !== 'error') continue;
    const final = t.runs[t.runs.length - 1];
    failedTests.push({ id: t.id, suite: t.suite, status: t.status, message: final?.message ?? '', attempts: t.runs.length, synthetic: t.synthetic });
  }

  const infraFailures: InfraFailure[] = run.tasks
    .filter((t) => t.state === 'failed-infra')
    .map((task) => ({
      taskId: task.taskId,
      suite: suiteLabel(task.template),
      reason: task.reason,
      attempts: [...task.attempts]
        .sort((a, b) => a.number - b.number)
        .map((a) => ({
          attemptId: a.attemptId,
          number: a.number,
          workerId: a.workerId || a.result?.workerId || '',
          state: a.state,
          infraClass: a.result?.infraClass ?? (a.state === 'lost' ? 'lost-worker' : a.state === 'cancelled' ? 'cancelled' : ''),
          reason: a.result?.reason || a.reason,
        })),
    }));

  const finished = run.finishedAtMs > 0;
  return {
    schemaVersion: SUMMARY_SCHEMA_VERSION,
    runId: run.runId,
    name: run.name,
    state: run.state,
    submittedAt: iso(run.submittedAtMs),
    finishedAt: finished ? iso(run.finishedAtMs) : null,
    durationSec: finished ? roundSec(Math.max(0, run.finishedAtMs - run.submittedAtMs) / 1000) : null,
    totals: {
      tests: c.tests,
      passed: c.passed,
      failed: c.failed,
      errors: c.errors,
      skipped: c.skipped,
      flaky: c.flaky,
      tasks: run.tasks.length,
      tasksPassed: taskCount('passed'),
      tasksFailed: taskCount('failed'),
      tasksFailedInfra: taskCount('failed-infra'),
      tasksCancelled: taskCount('cancelled'),
      attempts,
      retries,
    },
    perWorker,
    perSuite,
    durations: {
      tasks: durationStats(taskDurations.map((t) => t.durationSec)),
      tests: durationStats(timedTests.map((t) => t.timeSec)),
    },
    slowestTests,
    slowestTasks,
    flakyTests,
    failedTests,
    infraFailures,
  };
}
