/**
 * Workers joining and leaving the orchestrator's state: register-worker
 * (a new worker, or a known one reconnecting or restarted after a crash),
 * worker-lost, drain-worker and forget-worker-key. A lost attempt is
 * released, fed to its worker's breaker and handed to the recovery ladder
 * (recovery-steps.ts). Every time is the command's stamp.
 */
import type { WorkerState } from '../../model/index.js';
import { assert } from '../../common/assert.js';
import { ExtensionCommandError } from '../kv-machine.js';
import { newBreaker, tripOnCrash } from '../recovery/index.js';
import { releaseAttempt } from './attempts.js';
import type { RegisterWorkerCommand } from './commands.js';
import { liveSibling } from './hedging.js';
import { taskOfAttempt, workerIdentityRefusal, workersMax, type Machine, type RegisterOutcome, type WorkerLostOutcome } from './machine.js';
import { terminal, type TaskRec, type WorkerRec } from './records.js';
import { feedBreaker, recover, setBreaker } from './recovery-steps.js';
import { validateWorker } from './validate.js';
import { capabilityKeyOf } from './worker-health.js';

/** The register-worker command: a new worker, or a known one back (a lost one in service again, a crashed one's attempts lost). */
export function registerWorker(m: Machine, command: RegisterWorkerCommand, atMs: number): RegisterOutcome {
  const problem = validateWorker(command);
  if (problem !== null) throw new ExtensionCommandError(`register-worker: ${problem}`);
  let worker = m.workers.get(command.workerId);
  const keyHash = command.sessionKeyHash ?? '';
  const bound = worker?.sessionKeyHash ?? '';
  // Checked here, in apply, as well as by the leader before proposing: two sessions racing under one id cannot both bind it.
  if (bound !== '' && bound !== keyHash) throw new ExtensionCommandError(`${workerIdentityRefusal}: worker ${command.workerId} is bound to another session key`);
  if (worker === undefined) {
    if (m.workers.size >= workersMax) forgetOneLostWorker(m);
    worker = {
      workerId: command.workerId,
      name: command.name,
      capabilities: command.capabilities,
      slots: command.slots,
      state: 'active',
      registeredAtMs: atMs,
      httpAddress: command.httpAddress,
      running: [],
      drained: false,
      breaker: newBreaker(atMs),
      capabilityKey: capabilityKeyOf(command.capabilities),
      resetting: false,
      resetSinceMs: 0,
      sessionKeyHash: keyHash,
      bootId: command.bootId ?? '',
    };
    m.workers.set(worker.workerId, worker);
  } else {
    worker.name = command.name;
    worker.capabilities = command.capabilities;
    worker.capabilityKey = capabilityKeyOf(command.capabilities);
    worker.slots = command.slots;
    worker.httpAddress = command.httpAddress;
    worker.registeredAtMs = atMs;
    if (bound === '' && keyHash !== '') worker.sessionKeyHash = keyHash;
    if (worker.state === 'lost') worker.state = worker.drained ? 'draining' : 'active';
    // A reset still owed is asked for again now; its timeout starts over.
    if (worker.resetting) worker.resetSinceMs = atMs;
  }
  const has = new Set([...command.running, ...command.pending]);
  const restarted = restartedAfterCrash(m, worker, command);
  const stateBefore = worker.breaker.state;
  const interrupted = loseInterrupted(m, worker, command.interrupted ?? [], has, atMs);
  // One crash, one step: a lost probe has already re-opened the breaker (opens + 1); tripping again would count the crash twice.
  const reopened = stateBefore !== 'open' && worker.breaker.state === 'open';
  if ((interrupted > 0 || restarted) && !reopened) {
    const why = interrupted > 0 ? `the worker's process died with ${interrupted} attempt(s) in flight` : `the worker's process died (its restart found the work-dir lock left behind)`;
    setBreaker(m, worker, tripOnCrash(worker.breaker, atMs, why, m.breakerSettings));
  }
  const resend = worker.running.filter((id) => !has.has(id));
  const mine = new Set(worker.running);
  const cancel = command.running.filter((id) => !mine.has(id));
  return { workerId: worker.workerId, resend, cancel, reset: worker.resetting, interrupted };
}

/**
 * A worker process died with attempts in flight and a new one registered
 * under its id: each attempt the old process started, still assigned here
 * and neither running nor finished in the new one, is lost (sending it
 * again would hide the crash: a crash-looping worker would hold its tasks
 * through every restart, and its breaker would never see a failure).
 * Returns how many were lost; the caller trips the breaker (tripOnCrash).
 */
function loseInterrupted(m: Machine, worker: WorkerRec, interrupted: readonly string[], has: ReadonlySet<string>, atMs: number): number {
  const died = new Set(interrupted);
  const lost = worker.running.filter((id) => died.has(id) && !has.has(id));
  for (const attemptId of lost) loseAttempt(m, worker, attemptId, `worker ${worker.workerId} restarted: its previous process died running the attempt`, atMs);
  return lost.length;
}

/**
 * A new process (a boot id not seen under this worker id) that found its
 * predecessor's lock left behind: the worker crashed since it last
 * registered, whether or not it was running anything. Records the boot
 * id, so the same process reconnecting is not counted again.
 */
function restartedAfterCrash(m: Machine, worker: WorkerRec, command: RegisterWorkerCommand): boolean {
  const bootId = command.bootId ?? '';
  if (bootId === '' || bootId === (worker.bootId ?? '')) return false;
  worker.bootId = bootId;
  return command.uncleanStart === true;
}

/** One running attempt of the worker is lost: released, fed to its breaker, its task handed to the recovery ladder. */
function loseAttempt(m: Machine, worker: WorkerRec, attemptId: string, reason: string, atMs: number): TaskRec {
  const task = taskOfAttempt(m, attemptId);
  const attempt = task.attempts.find((a) => a.attemptId === attemptId);
  assert(attempt !== undefined && attempt.state === 'running', `worker ${worker.workerId} runs ${attemptId}, which is not a running attempt of its task`);
  attempt.state = 'lost';
  attempt.reason = reason;
  releaseAttempt(m, task, attempt);
  feedBreaker(m, worker, { atMs, ok: false, durationMs: atMs - attempt.assignedAtMs, failureClass: 'lost-worker' });
  // A hedged task whose other attempt still runs is left to it.
  if (liveSibling(task, attemptId) === undefined) recover(m, task, attempt.attemptId, 'lost-worker', attempt.reason, worker.workerId, atMs);
  return task;
}

/** Makes room for a new worker by forgetting a lost one; refused when none is lost. */
function forgetOneLostWorker(m: Machine): void {
  for (const [id, worker] of m.workers) {
    if (worker.state === 'lost') {
      m.workers.delete(id);
      return;
    }
  }
  throw new ExtensionCommandError(`register-worker: ${workersMax} workers are registered and none is lost`);
}

/** The worker-lost command: each of its running attempts is lost and its task recovered. */
export function workerLost(m: Machine, workerId: string, reason: string, atMs: number): WorkerLostOutcome {
  if (typeof reason !== 'string') throw new ExtensionCommandError('worker-lost: reason must be a string');
  const worker = m.workers.get(workerId);
  if (worker === undefined) throw new ExtensionCommandError(`worker-lost: unknown worker ${workerId}`);
  if (worker.state === 'lost') return { requeued: 0, failed: 0 };
  worker.state = 'lost';
  let requeued = 0;
  let failed = 0;
  for (const attemptId of [...worker.running]) {
    const task = loseAttempt(m, worker, attemptId, `worker ${workerId} lost: ${reason}`, atMs);
    if (task.state === 'queued') requeued++;
    else if (terminal(task.state)) failed++;
  }
  assert(worker.running.length === 0, `lost worker ${workerId} still has running attempts`);
  return { requeued, failed };
}

/** The drain-worker command: a drained worker takes no new work (and stays drained through a loss). */
export function drainWorker(m: Machine, workerId: string, drain: boolean): { state: WorkerState } {
  if (typeof drain !== 'boolean') throw new ExtensionCommandError('drain-worker: drain must be a boolean');
  const worker = m.workers.get(workerId);
  if (worker === undefined) throw new ExtensionCommandError(`drain-worker: unknown worker ${workerId}`);
  worker.drained = drain;
  if (worker.state !== 'lost') worker.state = drain ? 'draining' : 'active';
  return { state: worker.state };
}

/**
 * Unbinds a worker id from its session key (`testudo workers forget`). Only
 * a lost worker: one with a live session still holds the id, and forgetting
 * its key would let any holder of the join token take its place.
 */
export function forgetWorkerKey(m: Machine, workerId: string, reason: string): { wasBound: boolean } {
  if (typeof reason !== 'string' || reason === '') throw new ExtensionCommandError('forget-worker-key: a reason is required');
  const worker = m.workers.get(workerId);
  if (worker === undefined) throw new ExtensionCommandError(`forget-worker-key: unknown worker ${workerId}`);
  if (worker.state !== 'lost') throw new ExtensionCommandError(`forget-worker-key: worker ${workerId} is ${worker.state}, not lost`);
  const wasBound = (worker.sessionKeyHash ?? '') !== '';
  worker.sessionKeyHash = '';
  return { wasBound };
}
