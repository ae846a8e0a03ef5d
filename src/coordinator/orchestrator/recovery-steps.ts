/**
 * The orchestrator's recovery steps (the pure rules are src/coordinator/recovery/):
 * after an infrastructure failure the ladder decides where the task runs
 * next, with every decision kept; breaker outcomes and transitions, with
 * quarantine once a breaker keeps re-opening; and the operator commands
 * worker-reset-done, release-worker, set-breaker and set-breaker-config.
 * Events for the leader are pushed on the Machine.
 */
import type { InfraFailureClass } from '../../model/index.js';
import { ExtensionCommandError } from '../kv-machine.js';
import { adaptiveThreshold, advance, decide, defaultBreakerConfig, disable, enable, forceOpen, isFaultClass, ladderConfigOf, lastWasHold, pendingRecovery, recordMiss, recordOutcome, release, thresholdConfigOf, validateBreakerConfig, windowStats, type BreakerConfig, type BreakerOutcome, type BreakerStep, type Decision, type LadderContext, type LadderFailure, type ThresholdInput } from '../recovery/index.js';
import { cancelledRunsMax, decisionsPerTaskMax, retryBackoffBaseMs, runOf, type Machine } from './machine.js';
import type { RunRec, TaskRec, WorkerRec } from './records.js';
import { endTask, requeue } from './runs.js';
import { fleetWideFault, otherWorkerCanRun, peerStats, suspect } from './worker-health.js';

/**
 * After an infrastructure failure of a task's attempt: the recovery ladder
 * decides where (or whether) the task runs next, and every decision is kept
 * with its reason. A cancelled attempt (the worker stopped) is not a fault:
 * the task just runs again.
 */
export function recover(m: Machine, task: TaskRec, attemptId: string, infraClass: InfraFailureClass, reason: string, workerId: string, atMs: number): void {
  task.infraFailures++;
  if (!isFaultClass(infraClass)) {
    requeueCancelled(m, task, reason, atMs);
    return;
  }
  const failure: LadderFailure = { failureClass: infraClass, workerId, atMs };
  const decision = decideRecovery(m, task, failure);
  recordDecision(m, task, attemptId, failure, decision);
  applyDecision(m, task, failure, decision, reason);
}

/** A stopping worker cancelled the attempt: not a fault, but bounded (invariant 5: the task must end). */
function requeueCancelled(m: Machine, task: TaskRec, reason: string, atMs: number): void {
  task.cancelledRuns++;
  if (task.cancelledRuns > cancelledRunsMax) {
    endTask(m, task, 'failed-infra', `cancelled ${task.cancelledRuns} times by stopping workers (limit ${cancelledRunsMax}): ${reason}`, atMs);
    return;
  }
  requeue(m, task, [], atMs, retryBackoffBaseMs);
}

/** The ladder's decision for this failure, in what the fleet shows now; a level tried before and failed again counts as its miss. */
function decideRecovery(m: Machine, task: TaskRec, failure: LadderFailure): Decision {
  const pending = pendingRecovery(task.ladder);
  // After a hold the ladder's last level was not tried again, so this failure is no miss of it.
  if (pending !== null && !lastWasHold(task.ladder)) m.recovery = recordMiss(m.recovery, { failureClass: pending.failureClass, level: pending.level });
  const { workerId, atMs } = failure;
  const worker = m.workers.get(workerId);
  const settings = m.breakerSettings;
  const context: LadderContext = {
    otherWorkersAvailable: otherWorkerCanRun(m.workers.values(), task, workerId, atMs),
    workerFailuresRecent: worker === undefined ? 0 : windowStats(worker.breaker, atMs, settings).failures,
    workerSuspect: worker !== undefined && suspect(m.workers.values(), worker, atMs, settings),
    adaptive: settings.adaptiveRecovery,
    fleetWide: worker !== undefined && fleetWideFault(m.workers.values(), worker, settings.fleetFailingShare),
  };
  return decide(task.ladder, failure, m.recovery, context, ladderConfigOf(settings));
}

/** Moves the task up its ladder and keeps the decision (the last decisionsPerTaskMax), with an event for the leader. */
function recordDecision(m: Machine, task: TaskRec, attemptId: string, failure: LadderFailure, decision: Decision): void {
  const { failureClass, workerId, atMs } = failure;
  task.ladder = advance(task.ladder, failure, decision);
  task.decisions.push({ atMs, attemptId, workerId, failureClass, level: decision.level, action: decision.action, reason: decision.reason });
  if (task.decisions.length > decisionsPerTaskMax) task.decisions.shift();
  m.events.push({ kind: 'decision', workerId, level: decision.level, failureClass, hold: decision.hold === true });
}

/** Carries the decision out: the task queued again (where it may run next), the worker reset or quarantined, or the task given up. */
function applyDecision(m: Machine, task: TaskRec, failure: LadderFailure, decision: Decision, reason: string): void {
  const { failureClass, workerId, atMs } = failure;
  const worker = m.workers.get(workerId);
  const run = runOf(m, task.runId);
  switch (decision.action) {
    case 'retry-same-worker':
      requeue(m, task, [], atMs, decision.backoffMs ?? retryBackoffBaseMs);
      // A hold runs again anywhere: every worker is as sick as this one.
      task.preferWorker = decision.hold === true ? '' : workerId;
      return;
    case 'move-to-other-worker':
      requeue(m, task, decision.avoidWorkers, atMs, retryBackoffBaseMs);
      return;
    case 'reset-worker':
      requeue(m, task, decision.avoidWorkers, atMs, retryBackoffBaseMs);
      if (worker !== undefined) owesReset(m, worker, `${failureClass}: ${reason}`, atMs);
      return;
    case 'quarantine-worker':
      requeue(m, task, decision.avoidWorkers, atMs, retryBackoffBaseMs);
      if (worker !== undefined) quarantine(m, worker, `level 4 for task ${task.taskId}: ${decision.reason}`, atMs, task);
      return;
    case 'give-up':
      giveUp(m, task, run, decision, workerId, atMs);
      return;
  }
}

/** Level 3: the worker owes a reset (once: a lost or already resetting worker is left as it is). */
function owesReset(m: Machine, worker: WorkerRec, reason: string, atMs: number): void {
  if (worker.state === 'lost' || worker.resetting) return;
  worker.resetting = true;
  worker.resetSinceMs = atMs;
  m.events.push({ kind: 'reset', workerId: worker.workerId, reason: reason.slice(0, 500) });
}

/** Level 5: the task ends failed-infra and its run is degraded, with an alert. */
function giveUp(m: Machine, task: TaskRec, run: RunRec, decision: Decision, workerId: string, atMs: number): void {
  const diagnosis = decision.diagnosis ?? decision.reason;
  endTask(m, task, 'failed-infra', diagnosis, atMs);
  run.degraded = true;
  const { suite, shard, shardCount } = task.template;
  m.events.push({
    kind: 'alert',
    alert: 'give-up',
    workerId,
    runId: task.runId,
    taskId: task.taskId,
    atMs,
    text: `run ${task.runId} is degraded: task ${task.taskId} (${suite} ${shard}/${shardCount}) gave up after infrastructure failures: ${diagnosis}`,
  });
}

/**
 * A worker that was failing now ran a task: the evidence that a fleet-wide
 * fault may have healed. Tasks held through it (their last decision a
 * hold) need not sit out the rest of their wait: they may run at once.
 */
export function releaseHolds(m: Machine, atMs: number): void {
  for (const t of m.queueOrder) {
    if (t.state !== 'queued' || m.tasks.get(t.taskId) !== t || t.notBeforeMs <= atMs || !lastWasHold(t.ladder)) continue;
    t.notBeforeMs = atMs;
  }
}

/** Forces the worker's breaker open (a person releases it, or the long cool-down ends) and alerts. */
export function quarantine(m: Machine, worker: WorkerRec, reason: string, atMs: number, task: TaskRec | null): void {
  if (worker.breaker.state === 'forced-open') return;
  setBreaker(m, worker, forceOpen(worker.breaker, atMs, reason));
  // Queued tasks only: the queue order is node-local (the leader compacts it, a
  // restored replica holds only queued tasks), so touching an ended task here
  // would make replicas differ.
  for (const t of m.queueOrder) if (t.state === 'queued' && t.preferWorker === worker.workerId) t.preferWorker = '';
  m.events.push({
    kind: 'alert',
    alert: 'quarantine',
    workerId: worker.workerId,
    runId: task?.runId ?? '',
    taskId: task?.taskId ?? '',
    atMs,
    text: `worker ${worker.workerId} (${worker.name}) is quarantined: ${reason}. Release it with: testudo workers release ${worker.workerId}`,
  });
}

/** One attempt outcome into the worker's breaker. */
export function feedBreaker(m: Machine, worker: WorkerRec, outcome: BreakerOutcome): void {
  // The adaptive threshold is a pass over the worker's peers; recordOutcome
  // asks for it only when the worker's window holds a failure.
  const threshold = (): ThresholdInput =>
    adaptiveThreshold(worker.workerId, peerStats(m.workers.values(), worker, outcome.atMs, m.breakerSettings), thresholdConfigOf(m.breakerSettings));
  setBreaker(m, worker, recordOutcome(worker.breaker, outcome, m.breakerSettings, threshold));
}

/** Installs a breaker step, emitting its transition; quarantines a breaker that keeps re-opening. */
export function setBreaker(m: Machine, worker: WorkerRec, step: BreakerStep): void {
  worker.breaker = step.breaker;
  const t = step.transition;
  if (t === null) return;
  m.events.push({ kind: 'breaker', workerId: worker.workerId, from: t.from, to: t.to, atMs: t.atMs, reason: t.reason });
  // Probes failed again and again: stop probing on a timer and ask for a person (or the long cool-down).
  if (t.to === 'open' && worker.breaker.opens >= m.breakerSettings.quarantineAfterOpens) {
    quarantine(m, worker, `its breaker opened ${worker.breaker.opens} times in a row without closing (${t.reason})`, t.atMs, null);
  }
}

/** worker-reset-done: a reset the worker owed is over; a failed one quarantines it. */
export function resetDone(m: Machine, workerId: string, ok: boolean, reason: string, atMs: number): { resetting: boolean; breaker: string } {
  if (typeof ok !== 'boolean' || typeof reason !== 'string') throw new ExtensionCommandError('worker-reset-done: ok and reason are required');
  const worker = m.workers.get(workerId);
  if (worker === undefined) throw new ExtensionCommandError(`worker-reset-done: unknown worker ${workerId}`);
  if (!worker.resetting) return { resetting: false, breaker: worker.breaker.state };
  worker.resetting = false;
  if (!ok) {
    quarantine(m, worker, `reset failed: ${reason}`.slice(0, 500), atMs, null);
    m.events.push({ kind: 'alert', alert: 'reset-failed', workerId, runId: '', taskId: '', atMs, text: `worker ${workerId} could not reset: ${reason}` });
  }
  return { resetting: false, breaker: worker.breaker.state };
}

/** release-worker: the operator closes the worker's breaker (out of quarantine) and drops an owed reset. */
export function releaseWorker(m: Machine, workerId: string, reason: string, atMs: number): { breaker: string } {
  if (typeof reason !== 'string' || reason === '') throw new ExtensionCommandError('release-worker: a reason is required');
  const worker = m.workers.get(workerId);
  if (worker === undefined) throw new ExtensionCommandError(`release-worker: unknown worker ${workerId}`);
  if (worker.breaker.state !== 'closed' && worker.breaker.state !== 'disabled') setBreaker(m, worker, release(worker.breaker, atMs, reason));
  worker.resetting = false;
  return { breaker: worker.breaker.state };
}

/** Changes the cluster's breaker settings (a partial object over the current ones); refused when invalid. */
export function setBreakerConfig(m: Machine, change: Partial<BreakerConfig>): { config: BreakerConfig } {
  if (typeof change !== 'object' || change === null || Array.isArray(change)) throw new ExtensionCommandError('set-breaker-config: config must be an object');
  const known = new Set(Object.keys(defaultBreakerConfig));
  for (const key of Object.keys(change)) if (!known.has(key)) throw new ExtensionCommandError(`set-breaker-config: unknown setting ${key}`);
  const next: BreakerConfig = { ...m.breakerSettings, ...change };
  try {
    validateBreakerConfig(next);
  } catch (error) {
    throw new ExtensionCommandError(`set-breaker-config: ${(error as Error).message}`);
  }
  m.breakerSettings = next;
  return { config: next };
}

/** set-breaker: the operator turns the worker's breaker on or off. */
export function setBreakerEnabled(m: Machine, workerId: string, enabled: boolean, reason: string, atMs: number): { breaker: string } {
  if (typeof enabled !== 'boolean' || typeof reason !== 'string' || reason === '') throw new ExtensionCommandError('set-breaker: enabled and a reason are required');
  const worker = m.workers.get(workerId);
  if (worker === undefined) throw new ExtensionCommandError(`set-breaker: unknown worker ${workerId}`);
  setBreaker(m, worker, enabled ? enable(worker.breaker, atMs, reason) : disable(worker.breaker, atMs, reason));
  return { breaker: worker.breaker.state };
}
