/**
 * Attempts starting and letting go: the assign command (each assignment
 * checked again here, whatever the leader planned; lazy, stamp-driven
 * breaker transitions on the way), a new running attempt, and an attempt
 * releasing its worker's slot and its run's load.
 */
import { attemptIdOf } from '../../model/index.js';
import { assert } from '../../common/assert.js';
import { ExtensionCommandError } from '../kv-machine.js';
import { maybeHalfOpen, quarantineCooldownElapsed } from '../recovery/index.js';
import { maybeCarve } from './batches.js';
import { capacityOf } from './capacity.js';
import type { Assignment } from './commands.js';
import { runOf, setTaskState, type AssignOutcome, type Machine } from './machine.js';
import type { AttemptRec, TaskRec, WorkerRec } from './records.js';
import { setBreaker } from './recovery-steps.js';
import { meetsRequirements } from './scheduler.js';
import { probeAfterQuarantine } from './worker-health.js';

/** The assign command: each assignment that still holds at `atMs` starts an attempt; the rest are skipped. */
export function assign(m: Machine, assignments: readonly Assignment[], atMs: number): AssignOutcome {
  if (!Array.isArray(assignments)) throw new ExtensionCommandError('assign: assignments must be an array');
  const assigned: { attemptId: string; taskId: string; workerId: string }[] = [];
  let skipped = 0;
  for (const a of assignments) {
    const task = typeof a?.taskId === 'string' ? m.tasks.get(a.taskId) : undefined;
    const worker = typeof a?.workerId === 'string' ? m.workers.get(a.workerId) : undefined;
    if (task === undefined || worker === undefined || !mayAssign(m, task, worker, atMs)) {
      skipped++;
      continue;
    }
    maybeCarve(m, task, worker);
    assigned.push(startAttempt(m, task, worker, atMs, null));
  }
  return { assigned, skipped };
}

/** A new running attempt of the task on the worker: a hedge, when `hedgedBecause` says why, of the task's attempt that still runs. */
export function startAttempt(m: Machine, task: TaskRec, worker: WorkerRec, atMs: number, hedgedBecause: string | null): { attemptId: string; taskId: string; workerId: string } {
  const hedge = hedgedBecause !== null;
  const number = task.attempts.length + 1;
  const attempt: AttemptRec = {
    attemptId: attemptIdOf(task.taskId, number),
    number,
    workerId: worker.workerId,
    assignedAtMs: atMs,
    state: 'running',
    reason: '',
    lateResults: 0,
    ...(hedge ? { hedge: true as const, hedgedBecause } : {}),
  };
  task.attempts.push(attempt);
  m.attemptIndex.set(attempt.attemptId, task.taskId);
  if (!hedge) setTaskState(m, task, 'running');
  worker.running.push(attempt.attemptId);
  const run = runOf(m, task.runId);
  run.running++;
  m.touched.add(run.runId);
  if (hedge) m.events.push({ kind: 'hedge', step: 'started', taskId: task.taskId });
  return { attemptId: attempt.attemptId, taskId: task.taskId, workerId: worker.workerId };
}

/** Whether the worker may start the queued task now (applies the breaker's stamp-driven transitions on the way). */
function mayAssign(m: Machine, task: TaskRec, worker: WorkerRec, atMs: number): boolean {
  if (task.state !== 'queued' || worker.state !== 'active' || worker.resetting) return false;
  if (!meetsRequirements(worker.capabilities, task.template.requirements)) return false;
  if (task.template.exclusive) {
    const run = runOf(m, task.runId);
    if (run.parallelOpen > 0 || run.running > 0) return false;
  }
  // Time-driven breaker transitions happen here, lazily, with the assign
  // command's stamp: open → half-open once its wait is over, and a
  // quarantined worker past its cool-down gets half-open probes.
  const b = worker.breaker;
  if (b.state === 'open') setBreaker(m, worker, maybeHalfOpen(b, atMs));
  else if (b.state === 'forced-open' && quarantineCooldownElapsed(b, atMs, m.breakerSettings)) setBreaker(m, worker, probeAfterQuarantine(b, atMs, m.breakerSettings));
  const capacity = capacityOf(m.fleet, worker, atMs, true);
  return capacity.startsLeft >= 1 && worker.running.length < worker.slots + capacity.prefetch;
}

/** Frees the slot and run load an attempt held. */
export function releaseAttempt(m: Machine, task: TaskRec, attempt: AttemptRec): void {
  const worker = m.workers.get(attempt.workerId);
  if (worker !== undefined) {
    const at = worker.running.indexOf(attempt.attemptId);
    if (at >= 0) worker.running.splice(at, 1);
  }
  const run = runOf(m, task.runId);
  run.running--;
  assert(run.running >= 0, `run ${run.runId} has negative running attempts`);
  m.touched.add(run.runId);
}
