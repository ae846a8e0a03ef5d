import type { AttemptOrder, FlakinessRecord, LiveTaskView, RunCounts, RunState, RunSummary, RunView, RunWorker, Requirements, WorkerState, WorkerView } from '../../model/index.js';
import { flakinessKey, testId } from '../../model/index.js';
import { assert } from '../../common/assert.js';
import { spawnRetriesOf } from '../recovery/index.js';
import { emptyCounts, runSummary, taskView, workerView, type MutableCounts, type RunRec, type TaskRec } from './records.js';
import { meetsRequirements } from './scheduler.js';
import type { OrchestratorData } from './snapshot.js';

/**
 * The orchestrator's read-only queries, as functions over its data: what the
 * CLI, the metrics, the dashboard and the leader's loops read. None changes
 * the state; the Orchestrator class (state.ts) exposes each as a method.
 */

/** What the queries read: the replicated data and the node-local queue order. */
export interface OrchestratorView extends Pick<OrchestratorData, 'workers' | 'runs' | 'tasks' | 'attempts' | 'flakes' | 'breakerSettings'> {
  /** Queued tasks in scheduling order (node-local, derived; may hold ended ones). */
  readonly queueOrder: readonly TaskRec[];
}

function runOf(d: OrchestratorView, runId: string): RunRec {
  const run = d.runs.get(runId);
  assert(run !== undefined, `run ${runId} is missing`);
  return run;
}

/** Runs, tasks and workers by state (for metrics). */
export function stateCounts(d: OrchestratorView): { runs: Record<RunState, number>; tasks: RunCounts; workers: Record<WorkerState, number> } {
  const runs: Record<RunState, number> = { running: 0, passed: 0, failed: 0, cancelled: 0 };
  const tasks = emptyCounts();
  for (const run of d.runs.values()) {
    runs[run.state]++;
    for (const key of Object.keys(tasks) as (keyof MutableCounts)[]) tasks[key] += run.counts[key];
  }
  const workers: Record<WorkerState, number> = { active: 0, draining: 0, lost: 0 };
  for (const worker of d.workers.values()) workers[worker.state]++;
  return { runs, tasks, workers };
}

/**
 * Queued tasks whose requirements no registered worker (active or
 * draining) meets, with those requirements; at most `limit`.
 */
export function unschedulableTasks(d: OrchestratorView, limit: number): { taskId: string; requirements: Requirements }[] {
  const workers = [...d.workers.values()].filter((w) => w.state !== 'lost');
  const verdict = new Map<string, boolean>();
  const out: { taskId: string; requirements: Requirements }[] = [];
  for (const task of d.queueOrder) {
    if (out.length >= limit) break;
    if (task.state !== 'queued') continue;
    const requirements = task.template.requirements;
    const key = JSON.stringify(requirements);
    let none = verdict.get(key);
    if (none === undefined) {
      none = !workers.some((w) => meetsRequirements(w.capabilities, requirements));
      verdict.set(key, none);
    }
    if (none) out.push({ taskId: task.taskId, requirements });
  }
  return out;
}

/** When the worker was asked to reset (0 when it is not resetting or unknown). */
export function resetSinceMs(d: OrchestratorView, workerId: string): number {
  const w = d.workers.get(workerId);
  return w?.resetting === true ? w.resetSinceMs : 0;
}

/** When a task was submitted (coordinator clock), or undefined. */
export function taskQueuedAtMs(d: OrchestratorView, taskId: string): number | undefined {
  return d.tasks.get(taskId)?.queuedAtMs;
}

/** Earliest backoff among queued tasks still waiting, or null. */
export function nextBackoffEndMs(d: OrchestratorView, nowMs: number): number | null {
  let next: number | null = null;
  for (const task of d.queueOrder) {
    if (task.state === 'queued' && task.notBeforeMs > nowMs && (next === null || task.notBeforeMs < next)) next = task.notBeforeMs;
  }
  return next;
}

export function attemptOrder(d: OrchestratorView, attemptId: string): AttemptOrder | undefined {
  const taskId = d.attempts.get(attemptId);
  const task = taskId === undefined ? undefined : d.tasks.get(taskId);
  const attempt = task?.attempts.find((a) => a.attemptId === attemptId);
  if (task === undefined || attempt === undefined) return undefined;
  const run = runOf(d, task.runId);
  return {
    attemptId,
    number: attempt.number,
    taskId: task.taskId,
    runId: run.runId,
    template: task.template,
    files: task.files,
    setup: run.setup,
    setupCacheKey: run.setupCacheKey,
    sourceDir: run.sourceDir,
    spawnRetries: spawnRetriesOf(d.breakerSettings),
  };
}

// ------------------------------------------------------------------ reads

/** The session key hash worker `workerId` is bound to ('' when it is unknown or not bound). */
export function workerKeyHash(d: OrchestratorView, workerId: string): string {
  return d.workers.get(workerId)?.sessionKeyHash ?? '';
}

/** The worker attempt `attemptId` was assigned to, or undefined for an unknown attempt. */
export function attemptWorker(d: OrchestratorView, attemptId: string): string | undefined {
  const taskId = d.attempts.get(attemptId);
  const task = taskId === undefined ? undefined : d.tasks.get(taskId);
  return task?.attempts.find((a) => a.attemptId === attemptId)?.workerId;
}

export function workerOf(d: OrchestratorView, workerId: string): WorkerView | undefined {
  const w = d.workers.get(workerId);
  return w === undefined ? undefined : workerView(w);
}

export function listWorkers(d: OrchestratorView): WorkerView[] {
  return [...d.workers.values()].map(workerView);
}

export function listRuns(d: OrchestratorView): RunSummary[] {
  return [...d.runs.values()].map(runSummary);
}

export function runSummaryOf(d: OrchestratorView, runId: string): RunSummary | undefined {
  const run = d.runs.get(runId);
  return run === undefined ? undefined : runSummary(run);
}

export function getRun(d: OrchestratorView, runId: string): RunView | undefined {
  const run = d.runs.get(runId);
  if (run === undefined) return undefined;
  const tasks = run.taskIds.map((id) => taskView(d.tasks.get(id)!));
  const flakiness: Record<string, number> = {};
  const flakinessHistory: Record<string, FlakinessRecord> = {};
  const workers: Record<string, RunWorker> = {};
  for (const task of tasks) {
    const last = task.attempts[task.attempts.length - 1]?.result;
    for (const test of last?.tests ?? []) {
      const record = d.flakes.get(`${task.template.suite}\u0000${testId(test)}`);
      if (record === undefined || record.runs === 0) continue;
      const key = flakinessKey(task.template.suite, testId(test));
      flakiness[key] = record.flaky / record.runs;
      flakinessHistory[key] = { runs: record.runs, flaky: record.flaky };
    }
    for (const attempt of task.attempts) {
      const worker = d.workers.get(attempt.workerId);
      if (worker !== undefined) workers[worker.workerId] = { name: worker.name, httpAddress: worker.httpAddress };
    }
  }
  return { ...runSummary(run), setup: run.setup, setupCacheKey: run.setupCacheKey, sourceDir: run.sourceDir, tasks, flakiness, flakinessHistory, workers };
}

/**
 * The queued and running tasks of the running runs, highest priority first,
 * running before queued, then oldest: the first `limit` of them, and how many
 * there are. Reads each live task's fields, not its attempts or results (a
 * run's full view is getRun's): the dashboard asks once a second while a
 * page watches.
 */
export function liveTasks(d: OrchestratorView, limit: number): { tasks: LiveTaskView[]; total: number } {
  const live: TaskRec[] = [];
  for (const run of d.runs.values()) {
    if (run.state !== 'running' || run.counts.queued + run.counts.running === 0) continue;
    for (const id of run.taskIds) {
      const task = d.tasks.get(id)!;
      if (task.state === 'queued' || task.state === 'running') live.push(task);
    }
  }
  live.sort(
    (a, b) =>
      b.template.priority - a.template.priority ||
      Number(b.state === 'running') - Number(a.state === 'running') ||
      a.queuedAtMs - b.queuedAtMs ||
      (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0),
  );
  const tasks = live.slice(0, Math.max(0, limit)).map((task): LiveTaskView => {
    const last = task.attempts[task.attempts.length - 1];
    const running = task.state === 'running' && last !== undefined;
    return {
      runId: task.runId,
      runName: runOf(d, task.runId).name,
      taskId: task.taskId,
      template: task.template,
      state: task.state as 'queued' | 'running',
      queuedAtMs: task.queuedAtMs,
      attempts: task.attempts.length,
      workerId: running ? last.workerId : '',
      startedAtMs: running ? last.assignedAtMs : 0,
    };
  });
  return { tasks, total: live.length };
}

/** Finished runs that finished before `ms` (candidates for pruning). */
export function prunableBefore(d: OrchestratorView, ms: number): number {
  let n = 0;
  for (const run of d.runs.values()) if (run.state !== 'running' && run.finishedAtMs < ms) n++;
  return n;
}
