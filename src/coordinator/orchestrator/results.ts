/**
 * Verdicts and infrastructure failures reaching the orchestrator's state
 * (the results command): each result counted at most once (invariant 4),
 * late ones for superseded attempts only counted as late. A verdict feeds
 * the worker's breaker as a success, the timing and flakiness histories,
 * and ends or retries its task; an infrastructure failure goes to the
 * recovery ladder (recovery-steps.ts).
 */
import { testId, type AttemptResult } from '../../model/index.js';
import { assert } from '../../common/assert.js';
import { ExtensionCommandError } from '../kv-machine.js';
import { failingNow, isFaultClass, pendingRecovery, recordRecovery } from '../recovery/index.js';
import { releaseAttempt } from './attempts.js';
import { liveSibling, supersedeSibling } from './hedging.js';
import { fileTimingKey } from './history.js';
import { retryBackoffBaseMs, timingKeyOfTask, type Machine, type ResultsOutcome, type ResultStatus } from './machine.js';
import type { TaskRec } from './records.js';
import { feedBreaker, recover, releaseHolds } from './recovery-steps.js';
import { endTask, requeue } from './runs.js';
import { validateResult } from './validate.js';

/** The results command: the whole batch validated first (a refused command changes nothing), then each result applied. */
export function applyResults(m: Machine, results: readonly AttemptResult[], atMs: number): ResultsOutcome {
  if (!Array.isArray(results)) throw new ExtensionCommandError('results: must be an array');
  // Validate the whole batch before applying any of it: a refused command changes nothing.
  for (const result of results) {
    const problem = validateResult(result);
    if (problem !== null) throw new ExtensionCommandError(`results: ${problem}`);
  }
  const statuses: { attemptId: string; status: ResultStatus }[] = [];
  for (const result of results) {
    statuses.push({ attemptId: result.attemptId, status: applyResult(m, result, atMs) });
  }
  return { statuses };
}

/** One result: counted, duplicate, late (its attempt no longer runs there) or unknown. */
function applyResult(m: Machine, result: AttemptResult, atMs: number): ResultStatus {
  const taskId = m.attemptIndex.get(result.attemptId);
  const task = taskId === undefined ? undefined : m.tasks.get(taskId);
  if (task === undefined) return 'unknown';
  const attempt = task.attempts.find((a) => a.attemptId === result.attemptId);
  assert(attempt !== undefined, `attempt ${result.attemptId} indexed but missing from task ${task.taskId}`);
  if (attempt.result !== undefined) return 'duplicate';
  if (attempt.state !== 'running' || attempt.workerId !== result.workerId || result.taskId !== task.taskId) {
    if (m.plantedBug === 'count-late-result' && (attempt.state === 'lost' || attempt.state === 'cancelled') && result.outcome !== 'infra-error') {
      attempt.result = result; // the planted bug: a late verdict counted
      m.touched.add(task.runId);
      return 'counted';
    }
    attempt.lateResults++;
    m.touched.add(task.runId);
    return 'late';
  }
  attempt.result = result;
  releaseAttempt(m, task, attempt);
  const worker = m.workers.get(attempt.workerId);
  const durationMs = Math.max(0, result.finishedAtMs - result.startedAtMs);
  // The other attempt of a hedged pair, still running: it carries the task on.
  const sibling = liveSibling(task, attempt.attemptId);
  if (result.outcome === 'infra-error') {
    attempt.state = 'infra-error';
    attempt.reason = result.reason;
    const infraClass = result.infraClass === '' ? 'crash' : result.infraClass;
    if (worker !== undefined && isFaultClass(infraClass)) feedBreaker(m, worker, { atMs, ok: false, durationMs, failureClass: infraClass });
    if (sibling === undefined) recover(m, task, attempt.attemptId, infraClass, result.reason, attempt.workerId, atMs);
    return 'counted';
  }
  // A test verdict: the machine ran the tests, so for its breaker this is a success.
  if (worker !== undefined) {
    const wasFailing = m.breakerSettings.adaptiveRecovery && failingNow(worker.breaker);
    feedBreaker(m, worker, { atMs, ok: true, durationMs, expectedMs: task.expectedMs });
    if (wasFailing) releaseHolds(m, atMs);
  }
  const pending = pendingRecovery(task.ladder);
  if (pending !== null) m.recovery = recordRecovery(m.recovery, { failureClass: pending.failureClass, level: pending.level, recoveryMs: Math.max(0, atMs - pending.atMs) });
  attempt.state = result.outcome;
  recordTiming(m, task, result);
  if (result.outcome === 'passed') {
    endTask(m, task, 'passed', '', m.plantedBug === 'diverge' ? atMs + 1 : atMs);
    supersedeSibling(m, task, attempt);
  } else if (task.testFailures < task.template.retries) {
    task.testFailures++;
    // A test failure is not the machine's fault, but a retry elsewhere tells flaky tests from machine-bound ones.
    // A hedged task's other attempt, on another worker, is that retry already.
    if (sibling === undefined) requeue(m, task, [attempt.workerId], atMs, retryBackoffBaseMs * 2 ** Math.max(0, task.testFailures - 1));
    else if (!task.avoidWorkers.includes(attempt.workerId)) task.avoidWorkers.push(attempt.workerId);
  } else {
    endTask(m, task, 'failed', result.reason, atMs);
    supersedeSibling(m, task, attempt);
  }
  return 'counted';
}

/** A verdict's durations into the timing history: per file (and per capability class) or per task. */
function recordTiming(m: Machine, task: TaskRec, result: AttemptResult): void {
  const ms = Math.max(0, result.finishedAtMs - result.startedAtMs);
  if (task.files.length === 0) {
    m.timings.record(timingKeyOfTask(task.template), ms);
    return;
  }
  // Per-file time from the report when it names files, else an equal share.
  const byFile = new Map<string, number>();
  for (const test of result.tests) if (test.file !== '') byFile.set(test.file, (byFile.get(test.file) ?? 0) + test.timeSec * 1000);
  const classKey = m.workers.get(result.workerId)?.capabilityKey ?? '';
  for (const file of task.files) {
    const fileMs = byFile.get(file) ?? ms / task.files.length;
    m.timings.record(fileTimingKey(task.template.suite, file), fileMs);
    if (classKey !== '') m.timings.record(fileTimingKey(task.template.suite, file, classKey), fileMs);
  }
}

/** An ended task's tests into the flakiness history: a test that passed after failing in an earlier attempt is a flake. */
export function recordFlakes(m: Machine, task: TaskRec): void {
  const failedBefore = new Set<string>();
  const counted = task.attempts.filter((a) => a.result !== undefined && a.result.outcome !== 'infra-error');
  const last = counted[counted.length - 1];
  if (last?.result === undefined) return;
  for (const attempt of counted.slice(0, -1)) {
    for (const test of attempt.result!.tests) if (test.status === 'failed' || test.status === 'error') failedBefore.add(testId(test));
  }
  for (const test of last.result.tests) {
    if (test.status === 'skipped') continue;
    const id = testId(test);
    m.flakes.record(`${task.template.suite}\u0000${id}`, test.status === 'passed' && failedBefore.has(id));
  }
}
