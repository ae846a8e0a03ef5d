/**
 * A run's life in the orchestrator's state: submit-run (its tasks queued,
 * shards split by timings), a task's expected duration, requeues, a task's
 * end (exactly once, invariant 5) and the run's, cancel-run, fail-tasks and
 * prune-runs. Queue-mode batches are batches.ts. Every time is the
 * command's stamp.
 */
import { taskIdOf, type RunSubmission, type TaskState, type TaskTemplate } from '../../model/index.js';
import { assert } from '../../common/assert.js';
import { ExtensionCommandError } from '../kv-machine.js';
import { newTaskLadder } from '../recovery/index.js';
import { releaseAttempt } from './attempts.js';
import { afterBatchEnds, openQueues, queueOf } from './batches.js';
import * as fq from './file-queue.js';
import { classOfSuite, fileEstimator, splitByTimings } from './history.js';
import { enqueue, pruneBatchMax, queuedCount, retryBackoffMaxMs, runOf, runsMax, setTaskState, tasksMax, timingKeyOfTask, type CancelOutcome, type Machine } from './machine.js';
import { emptyCounts, terminal, type RunRec, type TaskRec } from './records.js';
import { recordFlakes } from './results.js';
import type { RunLoad, SchedulableTask } from './scheduler.js';
import { validateSubmission } from './validate.js';

/** The submit-run command: a new run with its tasks queued (refused whole when invalid or over the bounds). */
export function submitRun(m: Machine, runId: string, submission: RunSubmission, atMs: number): { runId: string; tasks: number } {
  const problem = validateSubmission(runId, submission);
  if (problem !== null) throw new ExtensionCommandError(`submit-run: ${problem}`);
  const queueProblem = fq.queueSubmissionProblem(submission.tasks);
  if (queueProblem !== null) throw new ExtensionCommandError(`submit-run: ${queueProblem}`);
  if (m.runs.has(runId)) throw new ExtensionCommandError(`submit-run: run ${runId} already exists`);
  if (m.runs.size >= runsMax) throw new ExtensionCommandError(`submit-run: ${runsMax} runs are kept; wait for old ones to be pruned`);
  if (m.tasks.size + fq.plannedTaskCount(submission.tasks) > tasksMax) throw new ExtensionCommandError(`submit-run: more than ${tasksMax} tasks would be kept`);
  const run: RunRec = {
    runId,
    name: submission.name,
    state: 'running',
    submittedAtMs: atMs,
    finishedAtMs: 0,
    setup: [...submission.setup],
    setupCacheKey: submission.setupCacheKey,
    sourceDir: submission.sourceDir,
    taskIds: [],
    counts: emptyCounts(),
    parallelOpen: 0,
    running: 0,
    degraded: false,
  };
  m.runs.set(runId, run);
  const files = shardFiles(m, submission.tasks);
  const queues = openQueues(m, run, submission.tasks);
  submission.tasks.forEach((template, position) => {
    const taskId = taskIdOf(runId, position + 1);
    const queue = queues.get(position);
    const task = newTask(m, runId, taskId, queue === undefined ? template : fq.nextBatchTemplate(queue, taskId), queue === undefined ? (files[position] ?? [...template.files]) : [], atMs);
    m.tasks.set(task.taskId, task);
    run.taskIds.push(task.taskId);
    run.counts.tasks++;
    run.counts.queued++;
    if (!template.exclusive) run.parallelOpen++;
    const plantedDrop = m.plantedBug === 'drop-task' && position === submission.tasks.length - 1;
    if (!plantedDrop) enqueue(m, task);
  });
  m.touched.add(runId);
  if (run.taskIds.length === 0) finishRun(m, run, atMs);
  return { runId, tasks: run.taskIds.length };
}

/** A queued task record (not yet in the maps: the caller adds it to its run). */
export function newTask(m: Machine, runId: string, taskId: string, template: TaskTemplate, files: string[], atMs: number): TaskRec {
  const task: TaskRec = {
    taskId,
    runId,
    seq: m.nextSeq++,
    template,
    files,
    state: 'queued',
    reason: '',
    queuedAtMs: atMs,
    finishedAtMs: 0,
    expectedMs: 0,
    attempts: [],
    testFailures: 0,
    infraFailures: 0,
    notBeforeMs: 0,
    avoidWorkers: [],
    preferWorker: '',
    ladder: newTaskLadder(),
    decisions: [],
    cancelledRuns: 0,
  };
  task.expectedMs = expectedMs(m, task);
  return task;
}

/** A submission's tasks as the scheduler will see them once submit-run queues them (previewQueued). */
export interface QueuedPreview {
  /** In scheduling order, as `Orchestrator.queuedTasks` will yield them. */
  readonly tasks: SchedulableTask[];
  /** The new run's load once queued (nothing runs yet). */
  readonly load: RunLoad;
}

/**
 * The scheduler's view of the tasks submit-run would queue, without applying
 * it; null when that cannot be told before the apply: other tasks are queued
 * (the new ones take their places among them by priority and expected
 * duration), the run exists already, or a task's files are decided at the
 * apply (split by timings, or drawn from a file queue). Reads the machine
 * only. The leader plans a submission's first assignments from it (see
 * ScheduleLoop.proposeAlongside); the assign command is checked when
 * applied like any other, so a preview that turns out wrong costs no
 * correctness, only the assignments it skips.
 */
export function previewQueued(m: Machine, runId: string, submission: RunSubmission): QueuedPreview | null {
  if (queuedCount(m) > 0 || m.runs.has(runId) || submission.tasks.length === 0) return null;
  if (submission.tasks.some((t) => t.splitByTimings || t.queue === true)) return null;
  const order = submission.tasks.map((template, position) => ({ template, position, expectedMs: filesExpectedMs(m, template, template.files) }));
  // The queue's order (Orchestrator.queuedTasks): priority, then the longest expected first, then submission order.
  order.sort((a, b) => b.template.priority - a.template.priority || b.expectedMs - a.expectedMs || a.position - b.position);
  let parallelOpen = 0;
  for (const t of submission.tasks) if (!t.exclusive) parallelOpen++;
  const tasks = order.map(({ template, position }) => ({
    taskId: taskIdOf(runId, position + 1),
    runId,
    requirements: template.requirements,
    exclusive: template.exclusive,
    notBeforeMs: 0,
    avoidWorkers: [],
    preferWorker: '',
  }));
  return { tasks, load: { parallelOpen, running: 0 } };
}

/** Files per template: timing-split groups for `splitByTimings` suites, the template's own list otherwise. */
function shardFiles(m: Machine, templates: readonly TaskTemplate[]): (string[] | undefined)[] {
  const out: (string[] | undefined)[] = new Array(templates.length);
  const groups = new Map<string, number[]>();
  templates.forEach((template, position) => {
    if (!template.splitByTimings) return;
    const key = `${template.suite}\u0000${JSON.stringify(template.matrix)}`;
    let list = groups.get(key);
    if (list === undefined) groups.set(key, (list = []));
    list.push(position);
  });
  for (const positions of groups.values()) {
    const first = templates[positions[0]!]!;
    const perFile = estimatorOf(m, first.suite, classOfSuite(m.workers.values(), first.requirements));
    const split = splitByTimings(first.files, positions.length, perFile);
    positions.forEach((position, k) => {
      out[position] = split[k] ?? [];
    });
  }
  return out;
}

/** Per-file duration estimates of the suite, for the capability class when given. */
export function estimatorOf(m: Machine, suite: string, classKey = ''): (file: string) => number {
  return fileEstimator(m.timings, suite, classKey);
}

/** What the task is expected to take, by the timing history (an uncarved batch: its share of the queue). */
export function expectedMs(m: Machine, task: TaskRec): number {
  const queue = queueOf(m, task);
  if (queue !== undefined && task.files.length === 0) return fq.uncarvedExpectedMs(queue, estimatorOf(m, task.template.suite, classOfSuite(m.workers.values(), task.template.requirements)));
  return filesExpectedMs(m, task.template, task.files);
}

/** A task's expected duration from its files' history, or its template's when it names no files. */
function filesExpectedMs(m: Machine, template: TaskTemplate, files: readonly string[]): number {
  if (files.length === 0) return m.timings.get(timingKeyOfTask(template))?.ms ?? m.timings.median();
  const estimate = estimatorOf(m, template.suite);
  let total = 0;
  for (const file of files) total += estimate(file);
  return total;
}

/** The cancel-run command: every open task ends cancelled; its running attempts (both of a hedged pair) stop. */
export function cancelRun(m: Machine, runId: string, reason: string, atMs: number): CancelOutcome {
  if (typeof reason !== 'string') throw new ExtensionCommandError('cancel-run: reason must be a string');
  const run = m.runs.get(runId);
  if (run === undefined) throw new ExtensionCommandError(`cancel-run: unknown run ${runId}`);
  const cancelled: { attemptId: string; workerId: string }[] = [];
  if (run.state !== 'running') return { cancelled };
  for (const taskId of run.taskIds) {
    const task = m.tasks.get(taskId)!;
    if (terminal(task.state)) continue;
    // A hedged task runs two attempts: both stop.
    for (const attempt of task.attempts) {
      if (attempt.state !== 'running') continue;
      attempt.state = 'cancelled';
      attempt.reason = reason;
      releaseAttempt(m, task, attempt);
      cancelled.push({ attemptId: attempt.attemptId, workerId: attempt.workerId });
    }
    endTask(m, task, 'cancelled', reason, atMs);
  }
  return { cancelled };
}

/** Ends queued tasks failed-infra (no worker could ever take them); others are left alone. */
export function failTasks(m: Machine, taskIds: readonly string[], reason: string, atMs: number): { failed: string[] } {
  if (!Array.isArray(taskIds) || typeof reason !== 'string' || reason === '') throw new ExtensionCommandError('fail-tasks: taskIds and a reason are required');
  const failed: string[] = [];
  for (const taskId of taskIds) {
    const task = typeof taskId === 'string' ? m.tasks.get(taskId) : undefined;
    if (task === undefined || task.state !== 'queued') continue;
    endTask(m, task, 'failed-infra', reason, atMs);
    failed.push(taskId);
  }
  return { failed };
}

/** The prune-runs command: forgets up to pruneBatchMax runs that ended before `finishedBeforeMs`. */
export function pruneRuns(m: Machine, finishedBeforeMs: number): { pruned: string[] } {
  if (typeof finishedBeforeMs !== 'number' || !Number.isFinite(finishedBeforeMs)) throw new ExtensionCommandError('prune-runs: finishedBeforeMs must be a finite number');
  const pruned: string[] = [];
  for (const run of m.runs.values()) {
    if (pruned.length >= pruneBatchMax) break;
    if (run.state === 'running' || run.finishedAtMs >= finishedBeforeMs) continue;
    pruned.push(run.runId);
  }
  for (const runId of pruned) {
    const run = m.runs.get(runId)!;
    for (const taskId of run.taskIds) {
      const task = m.tasks.get(taskId)!;
      for (const attempt of task.attempts) m.attemptIndex.delete(attempt.attemptId);
      m.tasks.delete(taskId);
    }
    m.runs.delete(runId);
    m.touched.add(runId);
  }
  return { pruned };
}

/** Ends a task, exactly once (invariant 5); the run ends with its last open task. */
export function endTask(m: Machine, task: TaskRec, state: TaskState, reason: string, atMs: number): void {
  assert(terminal(state), `endTask with non-terminal ${state}`);
  assert(!terminal(task.state), `task ${task.taskId} ends twice (${task.state} then ${state})`);
  setTaskState(m, task, state);
  task.reason = reason;
  task.finishedAtMs = atMs;
  const run = runOf(m, task.runId);
  if (!task.template.exclusive) run.parallelOpen--;
  if (state === 'passed' || state === 'failed') recordFlakes(m, task);
  afterBatchEnds(m, run, task, state, atMs);
  if (run.counts.queued === 0 && run.counts.running === 0) finishRun(m, run, atMs);
}

/** The run's verdict from its counts: cancelled, failed or passed. */
function finishRun(m: Machine, run: RunRec, atMs: number): void {
  assert(run.state === 'running', `run ${run.runId} finishes twice`);
  const c = run.counts;
  run.state = c.cancelled > 0 ? 'cancelled' : c.failed > 0 || c.failedInfra > 0 ? 'failed' : 'passed';
  run.finishedAtMs = atMs;
  m.touched.add(run.runId);
}

/** Queues the task again after a backoff (capped), away from `avoid`. */
export function requeue(m: Machine, task: TaskRec, avoid: readonly string[], atMs: number, backoffMs: number): void {
  task.notBeforeMs = atMs + Math.min(retryBackoffMaxMs, Math.max(0, backoffMs));
  for (const w of avoid) if (!task.avoidWorkers.includes(w)) task.avoidWorkers.push(w);
  task.preferWorker = '';
  setTaskState(m, task, 'queued');
  enqueue(m, task);
}
