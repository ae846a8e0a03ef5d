import type {
  AttemptOrder,
  AttemptResult,
  InfraFailureClass,
  RunSubmission,
  RunSummary,
  RunView,
  TaskState,
  TaskTemplate,
  WorkerState,
  WorkerView,
  WorkerServiceView,
} from '../../model/index.js';
import { attemptIdOf, taskIdOf, testId } from '../../model/index.js';
import { assert } from '../../common/assert.js';
import { SnapshotDecodeError } from '../codec.js';
import { ExtensionCommandError, type MachineExtension } from '../kv-machine.js';
import { decodeOrchCommand, type Assignment, type OrchCommand, type OrchCommandType, type OrchResults, type RegisterWorkerCommand } from './commands.js';
import { classOfSuite, fileEstimator, fileTimingKey, FlakeHistory, splitByTimings, TimingHistory } from './history.js';
import * as fq from './file-queue.js';
import { decodeData, encodeData, type OrchestratorData } from './snapshot.js';
import * as q from './queries.js';
import { meetsRequirements, type RunLoad, type SchedulableTask, type SchedulableWorker } from './scheduler.js';
import { validateResult, validateSubmission, validateWorker } from './validate.js';
import { orchestratorFormatVersion } from './records.js';
import { capacityOf, schedulableWorkersOf, slownessOfWorker, type Fleet } from './capacity.js';
import { hedgeable, hedgeAfterMs, hedgePeersMin, hedgingOn, liveSibling, mayTakeHedge, planHedges, type Straggler } from './hedging.js';
import { capabilityKeyOf, fleetWideFault, otherWorkerCanRun, peerStats, probeAfterQuarantine, suspect } from './worker-health.js';
import {
  adaptiveThreshold,
  advance,
  decide,
  defaultBreakerConfig,
  ladderConfigOf,
  lastWasHold,
  thresholdConfigOf,
  disable,
  emptyRecoveryHistory,
  enable,
  failingNow,
  forceOpen,
  isFaultClass,
  maybeHalfOpen,
  newBreaker,
  newTaskLadder,
  pendingRecovery,
  quarantineCooldownElapsed,
  recordMiss,
  recordOutcome,
  recordRecovery,
  release,
  slowHedgeDue,
  slowReason,
  tripOnCrash,
  windowStats,
  type BreakerOutcome,
  type BreakerStep,
  type BreakerConfig,
  validateBreakerConfig,
  type FaultClass,
  type RecoveryHistory,
  type ThresholdInput,
} from '../recovery/index.js';
import {
  checkInvariants,
  countKey,
  emptyCounts,
  terminal,
  type AttemptRec,
  type RunRec,
  type TaskRec,
  type WorkerRec,
} from './records.js';

/**
 * The orchestrator's replicated state: workers, runs, tasks, attempts,
 * results, and the timing and flakiness histories. It is the coordinator
 * machine's extension (see MachineExtension): every change comes from an
 * applied command, every time from the command's stamp, so every replica
 * holds the same state (compare `digest()` of the machine).
 *
 * Invariants (asserted): a task is in exactly one state; only its last
 * attempt may run, or its last two while it is hedged (hedging.ts); a worker's `running` set holds exactly the running
 * attempts assigned to it; a run's counts equal its tasks' states; a result
 * is counted at most once (docs/architecture.md, invariant 4), and a task ends exactly
 * once (invariant 5).
 */

/** First retry backoff; doubles per failure of the task, capped. */
export const retryBackoffBaseMs = 500;
export const retryBackoffMaxMs = 30_000;
/** Runs pruned by one prune command. */
export const pruneBatchMax = 100;
export { orchestratorFormatVersion };
/** Workers known at once (lost ones included; a lost worker is forgotten first). */
export const workersMax = 10_000;
/** Runs kept (finished ones are pruned by age; beyond this, submit is refused). */
export const runsMax = 10_000;
/** Tasks across all kept runs. */
export const tasksMax = 1_000_000;

/** What register-worker gives back: attempts the worker must run (again) and ones it must drop. */
export interface RegisterOutcome {
  readonly workerId: string;
  readonly resend: readonly string[];
  readonly cancel: readonly string[];
  /** The worker owes a reset (asked before it reconnected). */
  readonly reset: boolean;
  /** Attempts lost because the worker's previous process died with them (not sent again). */
  readonly interrupted: number;
}

/** How a register-worker refused for identity starts its message (the leader answers PERMISSION_DENIED). */
export const workerIdentityRefusal = 'register-worker: identity';

export type ResultStatus = 'counted' | 'duplicate' | 'late' | 'unknown';

/** The state-machine bugs a chaos run can plant (src/coordinator/planted-bugs.ts). */
export type OrchestratorPlantedBug = 'count-late-result' | 'drop-task' | 'diverge';

export interface ResultsOutcome {
  readonly statuses: readonly { readonly attemptId: string; readonly status: ResultStatus }[];
}

export interface AssignOutcome {
  readonly assigned: readonly { readonly attemptId: string; readonly taskId: string; readonly workerId: string }[];
  readonly skipped: number;
}

export interface CancelOutcome {
  readonly cancelled: readonly { readonly attemptId: string; readonly workerId: string }[];
}

export interface WorkerLostOutcome {
  readonly requeued: number;
  readonly failed: number;
}

/**
 * What an applied command did that someone outside the state machine acts
 * on: breaker transitions (logs, metrics), workers to reset (the leader tells
 * them), alerts (the leader sends them). Every replica derives the same events.
 */
export type OrchEvent =
  | { readonly kind: 'breaker'; readonly workerId: string; readonly from: string; readonly to: string; readonly atMs: number; readonly reason: string }
  | { readonly kind: 'reset'; readonly workerId: string; readonly reason: string }
  | { readonly kind: 'decision'; readonly workerId: string; readonly level: number; readonly failureClass: string; readonly hold: boolean }
  /** A hedge started, or a hedged task ended: its hedge won (the first verdict) or lost to the attempt it hedged. */
  | { readonly kind: 'hedge'; readonly step: 'started' | 'won' | 'lost'; readonly taskId: string }
  /** An attempt the worker still runs is superseded (its task's other attempt won): the leader tells the worker to stop it. */
  | { readonly kind: 'cancel-attempt'; readonly workerId: string; readonly attemptId: string; readonly reason: string }
  | {
      readonly kind: 'alert';
      readonly alert: 'quarantine' | 'give-up' | 'reset-failed';
      readonly workerId: string;
      readonly runId: string;
      readonly taskId: string;
      readonly atMs: number;
      readonly text: string;
    };

/** Called after each applied command with the runs it touched (node-local; never part of the state). */
export type ChangeListener = (runIds: ReadonlySet<string>, command: OrchCommand['type'], events: readonly OrchEvent[]) => void;

/** The breaker settings a new cluster starts with; `set-breaker-config` changes them for every replica alike. */
export const breakerConfig = defaultBreakerConfig;
/** Attempts of one task cancelled by stopping workers before the task ends failed-infra. */
export const cancelledRunsMax = 5;
/** Recovery decisions kept per task. */
export const decisionsPerTaskMax = 32;

function timingKeyOfFile(suite: string, file: string): string {
  return fileTimingKey(suite, file);
}

function timingKeyOfTask(template: TaskTemplate): string {
  return `${template.suite}\u0000#${template.shard}/${template.shardCount}\u0000${JSON.stringify(template.matrix)}`;
}

export class Orchestrator implements MachineExtension {
  private workers = new Map<string, WorkerRec>();
  private runs = new Map<string, RunRec>();
  private tasks = new Map<string, TaskRec>();
  /** attemptId → taskId. */
  private attemptIndex = new Map<string, string>();
  private timings = new TimingHistory();
  private flakes = new FlakeHistory();
  private nextSeq = 1;
  // Derived, node-local: the scheduling order of queued tasks.
  private queueOrder: TaskRec[] = [];
  private queueDirty = false;
  private readonly listeners = new Set<ChangeListener>();
  private touched = new Set<string>();
  private events: OrchEvent[] = [];
  private recovery: RecoveryHistory = emptyRecoveryHistory();
  /** Replicated: every replica applies the same breaker settings (set-breaker-config). */
  private breakerSettings: BreakerConfig = defaultBreakerConfig;
  /** What capacity.ts reads: the workers, the settings and the attempts. */
  private readonly fleet: Fleet = {
    workers: () => this.workers.values(),
    settings: () => this.breakerSettings,
    attempt: (attemptId) => this.taskOfAttempt(attemptId).attempts.find((a) => a.attemptId === attemptId),
  };

  /**
   * `plantedBug` exists only to prove that the chaos checks catch a broken
   * state machine (docs/chaos.md, src/coordinator/planted-bugs.ts):
   * 'count-late-result' counts a test verdict that arrives for a superseded
   * (lost or cancelled, e.g. a hedge's loser) attempt; 'drop-task' never queues a run's last task; 'diverge'
   * records a passed task's finish 1 ms late (set on one replica only). A
   * coordinator sets it only with --chaos-hooks and TESTUDO_CHAOS_PLANTED_BUG;
   * never in production.
   */
  constructor(private readonly options: { readonly plantedBug?: OrchestratorPlantedBug } = {}) {}

  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ------------------------------------------------------------------ apply

  apply(_index: number, atMs: number, payload: Uint8Array, deflated: boolean): unknown {
    const command = decodeOrchCommand(payload, deflated);
    this.touched = new Set();
    this.events = [];
    const result = this.applyDecoded(command, atMs);
    const touched = this.touched;
    const events = this.events;
    for (const listener of this.listeners) listener(touched, command.type, events);
    return result;
  }

  private applyDecoded(command: OrchCommand, atMs: number): OrchResults[OrchCommandType] {
    switch (command.type) {
      case 'register-worker':
        return this.registerWorker(command, atMs) satisfies OrchResults['register-worker'];
      case 'worker-lost':
        return this.workerLost(command.workerId, command.reason, atMs) satisfies OrchResults['worker-lost'];
      case 'drain-worker':
        return this.drainWorker(command.workerId, command.drain) satisfies OrchResults['drain-worker'];
      case 'submit-run':
        return this.submitRun(command.runId, command.submission, atMs) satisfies OrchResults['submit-run'];
      case 'assign':
        return this.assign(command.assignments, atMs) satisfies OrchResults['assign'];
      case 'hedge':
        return this.hedge(command.assignments, atMs) satisfies OrchResults['hedge'];
      case 'results':
        return this.applyResults(command.results, atMs) satisfies OrchResults['results'];
      case 'cancel-run':
        return this.cancelRun(command.runId, command.reason, atMs) satisfies OrchResults['cancel-run'];
      case 'prune-runs':
        return this.pruneRuns(command.finishedBeforeMs) satisfies OrchResults['prune-runs'];
      case 'fail-tasks':
        return this.failTasks(command.taskIds, command.reason, atMs) satisfies OrchResults['fail-tasks'];
      case 'worker-reset-done':
        return this.resetDone(command.workerId, command.ok, command.reason, atMs) satisfies OrchResults['worker-reset-done'];
      case 'release-worker':
        return this.releaseWorker(command.workerId, command.reason, atMs) satisfies OrchResults['release-worker'];
      case 'forget-worker-key':
        return this.forgetWorkerKey(command.workerId, command.reason) satisfies OrchResults['forget-worker-key'];
      case 'set-breaker':
        return this.setBreakerEnabled(command.workerId, command.enabled, command.reason, atMs) satisfies OrchResults['set-breaker'];
      case 'set-breaker-config':
        return this.setBreakerConfig(command.config) satisfies OrchResults['set-breaker-config'];
    }
  }

  private registerWorker(command: RegisterWorkerCommand, atMs: number): RegisterOutcome {
    const problem = validateWorker(command);
    if (problem !== null) throw new ExtensionCommandError(`register-worker: ${problem}`);
    let worker = this.workers.get(command.workerId);
    const keyHash = command.sessionKeyHash ?? '';
    const bound = worker?.sessionKeyHash ?? '';
    // Checked here, in apply, as well as by the leader before proposing: two sessions racing under one id cannot both bind it.
    if (bound !== '' && bound !== keyHash) throw new ExtensionCommandError(`${workerIdentityRefusal}: worker ${command.workerId} is bound to another session key`);
    if (worker === undefined) {
      if (this.workers.size >= workersMax) this.forgetOneLostWorker();
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
      this.workers.set(worker.workerId, worker);
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
    const restarted = this.restartedAfterCrash(worker, command);
    const stateBefore = worker.breaker.state;
    const interrupted = this.loseInterrupted(worker, command.interrupted ?? [], has, atMs);
    // One crash, one step: a lost probe has already re-opened the breaker (opens + 1); tripping again would count the crash twice.
    const reopened = stateBefore !== 'open' && worker.breaker.state === 'open';
    if ((interrupted > 0 || restarted) && !reopened) {
      const why = interrupted > 0 ? `the worker's process died with ${interrupted} attempt(s) in flight` : `the worker's process died (its restart found the work-dir lock left behind)`;
      this.setBreaker(worker, tripOnCrash(worker.breaker, atMs, why, this.breakerSettings));
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
  private loseInterrupted(worker: WorkerRec, interrupted: readonly string[], has: ReadonlySet<string>, atMs: number): number {
    const died = new Set(interrupted);
    const lost = worker.running.filter((id) => died.has(id) && !has.has(id));
    for (const attemptId of lost) this.loseAttempt(worker, attemptId, `worker ${worker.workerId} restarted: its previous process died running the attempt`, atMs);
    return lost.length;
  }

  /**
   * A new process (a boot id not seen under this worker id) that found its
   * predecessor's lock left behind: the worker crashed since it last
   * registered, whether or not it was running anything. Records the boot
   * id, so the same process reconnecting is not counted again.
   */
  private restartedAfterCrash(worker: WorkerRec, command: RegisterWorkerCommand): boolean {
    const bootId = command.bootId ?? '';
    if (bootId === '' || bootId === (worker.bootId ?? '')) return false;
    worker.bootId = bootId;
    return command.uncleanStart === true;
  }

  /** One running attempt of the worker is lost: released, fed to its breaker, its task handed to the recovery ladder. */
  private loseAttempt(worker: WorkerRec, attemptId: string, reason: string, atMs: number): TaskRec {
    const task = this.taskOfAttempt(attemptId);
    const attempt = task.attempts.find((a) => a.attemptId === attemptId);
    assert(attempt !== undefined && attempt.state === 'running', `worker ${worker.workerId} runs ${attemptId}, which is not a running attempt of its task`);
    attempt.state = 'lost';
    attempt.reason = reason;
    this.releaseAttempt(task, attempt);
    this.feedBreaker(worker, { atMs, ok: false, durationMs: atMs - attempt.assignedAtMs, failureClass: 'lost-worker' });
    // A hedged task whose other attempt still runs is left to it.
    if (liveSibling(task, attemptId) === undefined) this.recover(task, attempt.attemptId, 'lost-worker', attempt.reason, worker.workerId, atMs);
    return task;
  }

  private forgetOneLostWorker(): void {
    for (const [id, worker] of this.workers) {
      if (worker.state === 'lost') {
        this.workers.delete(id);
        return;
      }
    }
    throw new ExtensionCommandError(`register-worker: ${workersMax} workers are registered and none is lost`);
  }

  private workerLost(workerId: string, reason: string, atMs: number): WorkerLostOutcome {
    if (typeof reason !== 'string') throw new ExtensionCommandError('worker-lost: reason must be a string');
    const worker = this.workers.get(workerId);
    if (worker === undefined) throw new ExtensionCommandError(`worker-lost: unknown worker ${workerId}`);
    if (worker.state === 'lost') return { requeued: 0, failed: 0 };
    worker.state = 'lost';
    let requeued = 0;
    let failed = 0;
    for (const attemptId of [...worker.running]) {
      const task = this.loseAttempt(worker, attemptId, `worker ${workerId} lost: ${reason}`, atMs);
      if (task.state === 'queued') requeued++;
      else if (terminal(task.state)) failed++;
    }
    assert(worker.running.length === 0, `lost worker ${workerId} still has running attempts`);
    return { requeued, failed };
  }

  private drainWorker(workerId: string, drain: boolean): { state: WorkerState } {
    if (typeof drain !== 'boolean') throw new ExtensionCommandError('drain-worker: drain must be a boolean');
    const worker = this.workers.get(workerId);
    if (worker === undefined) throw new ExtensionCommandError(`drain-worker: unknown worker ${workerId}`);
    worker.drained = drain;
    if (worker.state !== 'lost') worker.state = drain ? 'draining' : 'active';
    return { state: worker.state };
  }

  private submitRun(runId: string, submission: RunSubmission, atMs: number): { runId: string; tasks: number } {
    const problem = validateSubmission(runId, submission);
    if (problem !== null) throw new ExtensionCommandError(`submit-run: ${problem}`);
    const queueProblem = fq.queueSubmissionProblem(submission.tasks);
    if (queueProblem !== null) throw new ExtensionCommandError(`submit-run: ${queueProblem}`);
    if (this.runs.has(runId)) throw new ExtensionCommandError(`submit-run: run ${runId} already exists`);
    if (this.runs.size >= runsMax) throw new ExtensionCommandError(`submit-run: ${runsMax} runs are kept; wait for old ones to be pruned`);
    if (this.tasks.size + fq.plannedTaskCount(submission.tasks) > tasksMax) throw new ExtensionCommandError(`submit-run: more than ${tasksMax} tasks would be kept`);
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
    this.runs.set(runId, run);
    const files = this.shardFiles(submission.tasks);
    const queues = this.openQueues(run, submission.tasks);
    submission.tasks.forEach((template, position) => {
      const taskId = taskIdOf(runId, position + 1);
      const queue = queues.get(position);
      const task = this.newTask(runId, taskId, queue === undefined ? template : fq.nextBatchTemplate(queue, taskId), queue === undefined ? (files[position] ?? [...template.files]) : [], atMs);
      this.tasks.set(task.taskId, task);
      run.taskIds.push(task.taskId);
      run.counts.tasks++;
      run.counts.queued++;
      if (!template.exclusive) run.parallelOpen++;
      const plantedDrop = this.options.plantedBug === 'drop-task' && position === submission.tasks.length - 1;
      if (!plantedDrop) this.enqueue(task);
    });
    this.touched.add(runId);
    if (run.taskIds.length === 0) this.finishRun(run, atMs);
    return { runId, tasks: run.taskIds.length };
  }

  /** A queued task record (not yet in the maps: the caller adds it to its run). */
  private newTask(runId: string, taskId: string, template: TaskTemplate, files: string[], atMs: number): TaskRec {
    const task: TaskRec = {
      taskId,
      runId,
      seq: this.nextSeq++,
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
    task.expectedMs = this.expectedMs(task);
    return task;
  }

  /** Files per template: timing-split groups for `splitByTimings` suites, the template's own list otherwise. */
  private shardFiles(templates: readonly TaskTemplate[]): (string[] | undefined)[] {
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
      const perFile = this.fileEstimator(first.suite, classOfSuite(this.workers.values(), first.requirements));
      const split = splitByTimings(first.files, positions.length, perFile);
      positions.forEach((position, k) => {
        out[position] = split[k] ?? [];
      });
    }
    return out;
  }

  private fileEstimator(suite: string, classKey = ''): (file: string) => number {
    return fileEstimator(this.timings, suite, classKey);
  }

  private expectedMs(task: TaskRec): number {
    const queue = this.queueOf(task);
    if (queue !== undefined && task.files.length === 0) return fq.uncarvedExpectedMs(queue, this.fileEstimator(task.template.suite, classOfSuite(this.workers.values(), task.template.requirements)));
    if (task.files.length === 0) return this.timings.get(timingKeyOfTask(task.template))?.ms ?? this.timings.median();
    const estimate = this.fileEstimator(task.template.suite);
    let total = 0;
    for (const file of task.files) total += estimate(file);
    return total;
  }

  private assign(assignments: readonly Assignment[], atMs: number): AssignOutcome {
    if (!Array.isArray(assignments)) throw new ExtensionCommandError('assign: assignments must be an array');
    const assigned: { attemptId: string; taskId: string; workerId: string }[] = [];
    let skipped = 0;
    for (const a of assignments) {
      const task = typeof a?.taskId === 'string' ? this.tasks.get(a.taskId) : undefined;
      const worker = typeof a?.workerId === 'string' ? this.workers.get(a.workerId) : undefined;
      if (task === undefined || worker === undefined || !this.mayAssign(task, worker, atMs)) {
        skipped++;
        continue;
      }
      this.maybeCarve(task, worker);
      assigned.push(this.startAttempt(task, worker, atMs, null));
    }
    return { assigned, skipped };
  }

  /** A new running attempt of the task on the worker: a hedge, when `hedgedBecause` says why, of the task's attempt that still runs. */
  private startAttempt(task: TaskRec, worker: WorkerRec, atMs: number, hedgedBecause: string | null): { attemptId: string; taskId: string; workerId: string } {
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
    this.attemptIndex.set(attempt.attemptId, task.taskId);
    if (!hedge) this.setTaskState(task, 'running');
    worker.running.push(attempt.attemptId);
    const run = this.run(task.runId);
    run.running++;
    this.touched.add(run.runId);
    if (hedge) this.events.push({ kind: 'hedge', step: 'started', taskId: task.taskId });
    return { attemptId: attempt.attemptId, taskId: task.taskId, workerId: worker.workerId };
  }

  /**
   * Starts the hedges the leader planned (hedgeCandidates) that still hold
   * at `atMs`: the task's one attempt has straggled past hedgeAfterMs and
   * the worker is idle, in full service, and may run the task. Safety does
   * not depend on the leader's plan: anything else is skipped.
   */
  private hedge(assignments: readonly Assignment[], atMs: number): AssignOutcome {
    if (!Array.isArray(assignments)) throw new ExtensionCommandError('hedge: assignments must be an array');
    const assigned: { attemptId: string; taskId: string; workerId: string }[] = [];
    let skipped = 0;
    for (const a of assignments) {
      const task = typeof a?.taskId === 'string' ? this.tasks.get(a.taskId) : undefined;
      const worker = typeof a?.workerId === 'string' ? this.workers.get(a.workerId) : undefined;
      const straggler = task === undefined ? undefined : this.straggler(task, atMs, new Map());
      if (task === undefined || worker === undefined || straggler === undefined || !mayTakeHedge(task, straggler.attempt, worker) || !this.fullService(worker, atMs)) {
        skipped++;
        continue;
      }
      assigned.push(this.startAttempt(task, worker, atMs, straggler.because));
    }
    return { assigned, skipped };
  }

  /**
   * The task's running attempt when it straggles past its hedge point at
   * `atMs` and hedging is on; else undefined. `peers` caches the run's
   * per-suite medians for one pass.
   */
  private straggler(task: TaskRec, atMs: number, peers: Map<string, number | null>): Straggler | undefined {
    if (!hedgingOn(this.breakerSettings)) return undefined;
    const attempt = hedgeable(task);
    if (attempt === undefined) return undefined;
    const ranMs = atMs - attempt.assignedAtMs;
    const expected = this.knownExpectedMs(task) ?? this.peerExpectedMs(task, peers);
    if (expected !== null && ranMs >= hedgeAfterMs(expected, this.breakerSettings)) {
      return { task, attempt, overrun: ranMs / Math.max(1, expected), because: `attempt ${attempt.number} had run ${ranMs} ms of an expected ${expected} ms` };
    }
    // On a slow worker: hedged once a faster worker is predicted to finish first (slowness.ts).
    const worker = this.workers.get(attempt.workerId);
    const slow = worker === undefined ? null : slownessOfWorker(this.fleet, worker, atMs);
    if (slow === null || !slowHedgeDue(ranMs, task.expectedMs, slow, this.breakerSettings.hedgeMinMs)) return undefined;
    return {
      task,
      attempt,
      overrun: slow.relative,
      because: `attempt ${attempt.number} runs on ${attempt.workerId}, ${slowReason(slow, this.breakerSettings.slowPaceFactor)}; a faster worker should finish first`,
    };
  }

  /** The task's expected duration when the timing history knows it (every file of it, or the task), else null: no hedge on a guess. */
  private knownExpectedMs(task: TaskRec): number | null {
    if (task.files.length === 0) return this.timings.get(timingKeyOfTask(task.template))?.ms ?? null;
    let total = 0;
    for (const file of task.files) {
      const known = this.timings.get(timingKeyOfFile(task.template.suite, file));
      if (known === undefined) return null;
      total += known.ms;
    }
    return total;
  }

  /**
   * Without a history, what the task's peers took: the median duration of
   * the verdicts counted so far for tasks of the same suite in the same run,
   * once there are at least hedgePeersMin of them; else null.
   */
  private peerExpectedMs(task: TaskRec, cache: Map<string, number | null>): number | null {
    const key = `${task.runId}\u0000${task.template.suite}`;
    const cached = cache.get(key);
    if (cached !== undefined) return cached;
    const durations: number[] = [];
    for (const id of this.run(task.runId).taskIds) {
      const peer = this.tasks.get(id)!;
      if (peer.template.suite !== task.template.suite || (peer.state !== 'passed' && peer.state !== 'failed')) continue;
      const verdict = peer.attempts.findLast((a) => a.result?.outcome === peer.state)?.result;
      if (verdict !== undefined) durations.push(Math.max(0, verdict.finishedAtMs - verdict.startedAtMs));
    }
    const median = durations.length < hedgePeersMin ? null : durations.sort((a, b) => a - b)[(durations.length - 1) >> 1]!;
    cache.set(key, median);
    return median;
  }

  /** A worker the scheduler uses at full weight: breaker closed, not paced, not an outlier. */
  private fullService(worker: WorkerRec, atMs: number): boolean {
    return capacityOf(this.fleet, worker, atMs).service === 'full';
  }

  /**
   * Hedges worth proposing at `nowMs` (read-only, for the leader's
   * scheduler): none while any task is queued (hedging is for the tail);
   * else the stragglers matched to idle connected workers in full service.
   */
  hedgeCandidates(nowMs: number, connected: (workerId: string) => boolean = () => true): Assignment[] {
    if (!hedgingOn(this.breakerSettings) || this.queuedCount > 0) return [];
    const idle = [...this.workers.values()].filter((w) => w.state === 'active' && w.running.length < w.slots && connected(w.workerId) && this.fullService(w, nowMs));
    if (idle.length === 0) return [];
    const stragglers: Straggler[] = [];
    const peers = new Map<string, number | null>();
    for (const w of this.workers.values()) {
      for (const attemptId of w.running) {
        const s = this.straggler(this.taskOfAttempt(attemptId), nowMs, peers);
        if (s !== undefined && s.attempt.attemptId === attemptId) stragglers.push(s);
      }
    }
    return planHedges(stragglers, idle);
  }

  /**
   * A hedged task ended through `winner`: its other attempt, if it still
   * runs, is cancelled (released here; the leader tells its worker to stop).
   */
  private supersedeSibling(task: TaskRec, winner: AttemptRec): void {
    const sibling = liveSibling(task, winner.attemptId);
    if (sibling === undefined) return;
    sibling.state = 'cancelled';
    sibling.reason = `superseded: attempt ${winner.number} ended ${task.state} first`;
    this.releaseAttempt(task, sibling);
    this.events.push({ kind: 'hedge', step: winner.hedge === true ? 'won' : 'lost', taskId: task.taskId });
    this.events.push({ kind: 'cancel-attempt', workerId: sibling.workerId, attemptId: sibling.attemptId, reason: sibling.reason });
  }

  private mayAssign(task: TaskRec, worker: WorkerRec, atMs: number): boolean {
    if (task.state !== 'queued' || worker.state !== 'active' || worker.resetting) return false;
    if (!meetsRequirements(worker.capabilities, task.template.requirements)) return false;
    if (task.template.exclusive) {
      const run = this.run(task.runId);
      if (run.parallelOpen > 0 || run.running > 0) return false;
    }
    // Time-driven breaker transitions happen here, lazily, with the assign
    // command's stamp: open → half-open once its wait is over, and a
    // quarantined worker past its cool-down gets half-open probes.
    const b = worker.breaker;
    if (b.state === 'open') this.setBreaker(worker, maybeHalfOpen(b, atMs));
    else if (b.state === 'forced-open' && quarantineCooldownElapsed(b, atMs, this.breakerSettings)) this.setBreaker(worker, probeAfterQuarantine(b, atMs, this.breakerSettings));
    const capacity = capacityOf(this.fleet, worker, atMs, true);
    return capacity.startsLeft >= 1 && worker.running.length < worker.slots + capacity.prefetch;
  }

  /** How much of the worker's capacity the scheduler uses at `nowMs`, and why (capacity, told). */
  workerService(workerId: string, nowMs: number): WorkerServiceView {
    const w = this.workers.get(workerId);
    if (w === undefined) return { service: 'out', reason: 'unknown worker' };
    const { service, reason } = capacityOf(this.fleet, w, nowMs);
    return { service, reason };
  }

  /** Workers that may take work at `nowMs`, with the attempts each may start (capacity.ts). No transition is applied. */
  schedulableWorkers(nowMs: number, connected: (workerId: string) => boolean = () => true): SchedulableWorker[] {
    return schedulableWorkersOf(this.fleet, nowMs, connected);
  }

  private applyResults(results: readonly AttemptResult[], atMs: number): ResultsOutcome {
    if (!Array.isArray(results)) throw new ExtensionCommandError('results: must be an array');
    // Validate the whole batch before applying any of it: a refused command changes nothing.
    for (const result of results) {
      const problem = validateResult(result);
      if (problem !== null) throw new ExtensionCommandError(`results: ${problem}`);
    }
    const statuses: { attemptId: string; status: ResultStatus }[] = [];
    for (const result of results) {
      statuses.push({ attemptId: result.attemptId, status: this.applyResult(result, atMs) });
    }
    return { statuses };
  }

  private applyResult(result: AttemptResult, atMs: number): ResultStatus {
    const taskId = this.attemptIndex.get(result.attemptId);
    const task = taskId === undefined ? undefined : this.tasks.get(taskId);
    if (task === undefined) return 'unknown';
    const attempt = task.attempts.find((a) => a.attemptId === result.attemptId);
    assert(attempt !== undefined, `attempt ${result.attemptId} indexed but missing from task ${task.taskId}`);
    if (attempt.result !== undefined) return 'duplicate';
    if (attempt.state !== 'running' || attempt.workerId !== result.workerId || result.taskId !== task.taskId) {
      if (this.options.plantedBug === 'count-late-result' && (attempt.state === 'lost' || attempt.state === 'cancelled') && result.outcome !== 'infra-error') {
        attempt.result = result; // the planted bug: a late verdict counted
        this.touched.add(task.runId);
        return 'counted';
      }
      attempt.lateResults++;
      this.touched.add(task.runId);
      return 'late';
    }
    attempt.result = result;
    this.releaseAttempt(task, attempt);
    const worker = this.workers.get(attempt.workerId);
    const durationMs = Math.max(0, result.finishedAtMs - result.startedAtMs);
    // The other attempt of a hedged pair, still running: it carries the task on.
    const sibling = liveSibling(task, attempt.attemptId);
    if (result.outcome === 'infra-error') {
      attempt.state = 'infra-error';
      attempt.reason = result.reason;
      const infraClass = result.infraClass === '' ? 'crash' : result.infraClass;
      if (worker !== undefined && isFaultClass(infraClass)) this.feedBreaker(worker, { atMs, ok: false, durationMs, failureClass: infraClass });
      if (sibling === undefined) this.recover(task, attempt.attemptId, infraClass, result.reason, attempt.workerId, atMs);
      return 'counted';
    }
    // A test verdict: the machine ran the tests, so for its breaker this is a success.
    if (worker !== undefined) {
      const wasFailing = this.breakerSettings.adaptiveRecovery && failingNow(worker.breaker);
      this.feedBreaker(worker, { atMs, ok: true, durationMs, expectedMs: task.expectedMs });
      if (wasFailing) this.releaseHolds(atMs);
    }
    const pending = pendingRecovery(task.ladder);
    if (pending !== null) this.recovery = recordRecovery(this.recovery, { failureClass: pending.failureClass, level: pending.level, recoveryMs: Math.max(0, atMs - pending.atMs) });
    attempt.state = result.outcome;
    this.recordTiming(task, result);
    if (result.outcome === 'passed') {
      this.endTask(task, 'passed', '', this.options.plantedBug === 'diverge' ? atMs + 1 : atMs);
      this.supersedeSibling(task, attempt);
    } else if (task.testFailures < task.template.retries) {
      task.testFailures++;
      // A test failure is not the machine's fault, but a retry elsewhere tells flaky tests from machine-bound ones.
      // A hedged task's other attempt, on another worker, is that retry already.
      if (sibling === undefined) this.requeue(task, [attempt.workerId], atMs, retryBackoffBaseMs * 2 ** Math.max(0, task.testFailures - 1));
      else if (!task.avoidWorkers.includes(attempt.workerId)) task.avoidWorkers.push(attempt.workerId);
    } else {
      this.endTask(task, 'failed', result.reason, atMs);
      this.supersedeSibling(task, attempt);
    }
    return 'counted';
  }

  /** Frees the slot and run load an attempt held. */
  private releaseAttempt(task: TaskRec, attempt: AttemptRec): void {
    const worker = this.workers.get(attempt.workerId);
    if (worker !== undefined) {
      const at = worker.running.indexOf(attempt.attemptId);
      if (at >= 0) worker.running.splice(at, 1);
    }
    const run = this.run(task.runId);
    run.running--;
    assert(run.running >= 0, `run ${run.runId} has negative running attempts`);
    this.touched.add(run.runId);
  }

  /**
   * After an infrastructure failure of a task's attempt: the recovery ladder
   * decides where (or whether) the task runs next, and every decision is kept
   * with its reason. A cancelled attempt (the worker stopped) is not a fault:
   * the task just runs again.
   */
  private recover(task: TaskRec, attemptId: string, infraClass: InfraFailureClass, reason: string, workerId: string, atMs: number): void {
    task.infraFailures++;
    if (!isFaultClass(infraClass)) {
      // Cancelled by a stopping worker: not a fault, but bounded (invariant 5: the task must end).
      task.cancelledRuns++;
      if (task.cancelledRuns > cancelledRunsMax) {
        this.endTask(task, 'failed-infra', `cancelled ${task.cancelledRuns} times by stopping workers (limit ${cancelledRunsMax}): ${reason}`, atMs);
        return;
      }
      this.requeue(task, [], atMs, retryBackoffBaseMs);
      return;
    }
    const pending = pendingRecovery(task.ladder);
    // After a hold the ladder's last level was not tried again, so this failure is no miss of it.
    if (pending !== null && !lastWasHold(task.ladder)) this.recovery = recordMiss(this.recovery, { failureClass: pending.failureClass, level: pending.level });
    const worker = this.workers.get(workerId);
    const failure = { failureClass: infraClass, workerId, atMs };
    const settings = this.breakerSettings;
    const context = {
      otherWorkersAvailable: otherWorkerCanRun(this.workers.values(), task, workerId, atMs),
      workerFailuresRecent: worker === undefined ? 0 : windowStats(worker.breaker, atMs, settings).failures,
      workerSuspect: worker !== undefined && suspect(this.workers.values(), worker, atMs, settings),
      adaptive: settings.adaptiveRecovery,
      fleetWide: worker !== undefined && fleetWideFault(this.workers.values(), worker, settings.fleetFailingShare),
    };
    const decision = decide(task.ladder, failure, this.recovery, context, ladderConfigOf(settings));
    task.ladder = advance(task.ladder, failure, decision);
    task.decisions.push({ atMs, attemptId, workerId, failureClass: infraClass, level: decision.level, action: decision.action, reason: decision.reason });
    if (task.decisions.length > decisionsPerTaskMax) task.decisions.shift();
    this.events.push({ kind: 'decision', workerId, level: decision.level, failureClass: infraClass, hold: decision.hold === true });
    const run = this.run(task.runId);
    switch (decision.action) {
      case 'retry-same-worker':
        this.requeue(task, [], atMs, decision.backoffMs ?? retryBackoffBaseMs);
        // A hold runs again anywhere: every worker is as sick as this one.
        task.preferWorker = decision.hold === true ? '' : workerId;
        return;
      case 'move-to-other-worker':
        this.requeue(task, decision.avoidWorkers, atMs, retryBackoffBaseMs);
        return;
      case 'reset-worker':
        this.requeue(task, decision.avoidWorkers, atMs, retryBackoffBaseMs);
        if (worker !== undefined && worker.state !== 'lost' && !worker.resetting) {
          worker.resetting = true;
          worker.resetSinceMs = atMs;
          this.events.push({ kind: 'reset', workerId, reason: `${infraClass}: ${reason}`.slice(0, 500) });
        }
        return;
      case 'quarantine-worker':
        this.requeue(task, decision.avoidWorkers, atMs, retryBackoffBaseMs);
        if (worker !== undefined) this.quarantine(worker, `level 4 for task ${task.taskId}: ${decision.reason}`, atMs, task);
        return;
      case 'give-up':
        this.endTask(task, 'failed-infra', decision.diagnosis ?? decision.reason, atMs);
        run.degraded = true;
        this.events.push({
          kind: 'alert',
          alert: 'give-up',
          workerId,
          runId: task.runId,
          taskId: task.taskId,
          atMs,
          text: `run ${task.runId} is degraded: task ${task.taskId} (${task.template.suite} ${task.template.shard}/${task.template.shardCount}) gave up after infrastructure failures: ${decision.diagnosis ?? decision.reason}`,
        });
        return;
    }
  }

  /**
   * A worker that was failing now ran a task: the evidence that a fleet-wide
   * fault may have healed. Tasks held through it (their last decision a
   * hold) need not sit out the rest of their wait: they may run at once.
   */
  private releaseHolds(atMs: number): void {
    for (const t of this.queueOrder) {
      if (t.state !== 'queued' || this.tasks.get(t.taskId) !== t || t.notBeforeMs <= atMs || !lastWasHold(t.ladder)) continue;
      t.notBeforeMs = atMs;
    }
  }

  private quarantine(worker: WorkerRec, reason: string, atMs: number, task: TaskRec | null): void {
    if (worker.breaker.state === 'forced-open') return;
    this.setBreaker(worker, forceOpen(worker.breaker, atMs, reason));
    for (const t of this.queueOrder) if (t.preferWorker === worker.workerId) t.preferWorker = '';
    this.events.push({
      kind: 'alert',
      alert: 'quarantine',
      workerId: worker.workerId,
      runId: task?.runId ?? '',
      taskId: task?.taskId ?? '',
      atMs,
      text: `worker ${worker.workerId} (${worker.name}) is quarantined: ${reason}. Release it with: testudo workers release ${worker.workerId}`,
    });
  }

  private feedBreaker(worker: WorkerRec, outcome: BreakerOutcome): void {
    // The adaptive threshold is a pass over the worker's peers; recordOutcome
    // asks for it only when the worker's window holds a failure.
    const threshold = (): ThresholdInput =>
      adaptiveThreshold(worker.workerId, peerStats(this.workers.values(), worker, outcome.atMs, this.breakerSettings), thresholdConfigOf(this.breakerSettings));
    this.setBreaker(worker, recordOutcome(worker.breaker, outcome, this.breakerSettings, threshold));
  }

  private setBreaker(worker: WorkerRec, step: BreakerStep): void {
    worker.breaker = step.breaker;
    const t = step.transition;
    if (t === null) return;
    this.events.push({ kind: 'breaker', workerId: worker.workerId, from: t.from, to: t.to, atMs: t.atMs, reason: t.reason });
    // Probes failed again and again: stop probing on a timer and ask for a person (or the long cool-down).
    if (t.to === 'open' && worker.breaker.opens >= this.breakerSettings.quarantineAfterOpens) {
      this.quarantine(worker, `its breaker opened ${worker.breaker.opens} times in a row without closing (${t.reason})`, t.atMs, null);
    }
  }

  private resetDone(workerId: string, ok: boolean, reason: string, atMs: number): { resetting: boolean; breaker: string } {
    if (typeof ok !== 'boolean' || typeof reason !== 'string') throw new ExtensionCommandError('worker-reset-done: ok and reason are required');
    const worker = this.workers.get(workerId);
    if (worker === undefined) throw new ExtensionCommandError(`worker-reset-done: unknown worker ${workerId}`);
    if (!worker.resetting) return { resetting: false, breaker: worker.breaker.state };
    worker.resetting = false;
    if (!ok) {
      this.quarantine(worker, `reset failed: ${reason}`.slice(0, 500), atMs, null);
      this.events.push({ kind: 'alert', alert: 'reset-failed', workerId, runId: '', taskId: '', atMs, text: `worker ${workerId} could not reset: ${reason}` });
    }
    return { resetting: false, breaker: worker.breaker.state };
  }

  private releaseWorker(workerId: string, reason: string, atMs: number): { breaker: string } {
    if (typeof reason !== 'string' || reason === '') throw new ExtensionCommandError('release-worker: a reason is required');
    const worker = this.workers.get(workerId);
    if (worker === undefined) throw new ExtensionCommandError(`release-worker: unknown worker ${workerId}`);
    if (worker.breaker.state !== 'closed' && worker.breaker.state !== 'disabled') this.setBreaker(worker, release(worker.breaker, atMs, reason));
    worker.resetting = false;
    return { breaker: worker.breaker.state };
  }

  /**
   * Unbinds a worker id from its session key (`testudo workers forget`). Only
   * a lost worker: one with a live session still holds the id, and forgetting
   * its key would let any holder of the join token take its place.
   */
  private forgetWorkerKey(workerId: string, reason: string): { wasBound: boolean } {
    if (typeof reason !== 'string' || reason === '') throw new ExtensionCommandError('forget-worker-key: a reason is required');
    const worker = this.workers.get(workerId);
    if (worker === undefined) throw new ExtensionCommandError(`forget-worker-key: unknown worker ${workerId}`);
    if (worker.state !== 'lost') throw new ExtensionCommandError(`forget-worker-key: worker ${workerId} is ${worker.state}, not lost`);
    const wasBound = (worker.sessionKeyHash ?? '') !== '';
    worker.sessionKeyHash = '';
    return { wasBound };
  }

  /** Changes the cluster's breaker settings (a partial object over the current ones); refused when invalid. */
  private setBreakerConfig(change: Partial<BreakerConfig>): { config: BreakerConfig } {
    if (typeof change !== 'object' || change === null || Array.isArray(change)) throw new ExtensionCommandError('set-breaker-config: config must be an object');
    const known = new Set(Object.keys(defaultBreakerConfig));
    for (const key of Object.keys(change)) if (!known.has(key)) throw new ExtensionCommandError(`set-breaker-config: unknown setting ${key}`);
    const next: BreakerConfig = { ...this.breakerSettings, ...change };
    try {
      validateBreakerConfig(next);
    } catch (error) {
      throw new ExtensionCommandError(`set-breaker-config: ${(error as Error).message}`);
    }
    this.breakerSettings = next;
    return { config: next };
  }

  /** The breaker settings in force. */
  breakerConfig(): BreakerConfig {
    return this.breakerSettings;
  }

  private setBreakerEnabled(workerId: string, enabled: boolean, reason: string, atMs: number): { breaker: string } {
    if (typeof enabled !== 'boolean' || typeof reason !== 'string' || reason === '') throw new ExtensionCommandError('set-breaker: enabled and a reason are required');
    const worker = this.workers.get(workerId);
    if (worker === undefined) throw new ExtensionCommandError(`set-breaker: unknown worker ${workerId}`);
    this.setBreaker(worker, enabled ? enable(worker.breaker, atMs, reason) : disable(worker.breaker, atMs, reason));
    return { breaker: worker.breaker.state };
  }

  private requeue(task: TaskRec, avoid: readonly string[], atMs: number, backoffMs: number): void {
    task.notBeforeMs = atMs + Math.min(retryBackoffMaxMs, Math.max(0, backoffMs));
    for (const w of avoid) if (!task.avoidWorkers.includes(w)) task.avoidWorkers.push(w);
    task.preferWorker = '';
    this.setTaskState(task, 'queued');
    this.enqueue(task);
  }

  private endTask(task: TaskRec, state: TaskState, reason: string, atMs: number): void {
    assert(terminal(state), `endTask with non-terminal ${state}`);
    assert(!terminal(task.state), `task ${task.taskId} ends twice (${task.state} then ${state})`);
    this.setTaskState(task, state);
    task.reason = reason;
    task.finishedAtMs = atMs;
    const run = this.run(task.runId);
    if (!task.template.exclusive) run.parallelOpen--;
    if (state === 'passed' || state === 'failed') this.recordFlakes(task);
    this.afterBatchEnds(run, task, state, atMs);
    if (run.counts.queued === 0 && run.counts.running === 0) this.finishRun(run, atMs);
  }

  private finishRun(run: RunRec, atMs: number): void {
    assert(run.state === 'running', `run ${run.runId} finishes twice`);
    const c = run.counts;
    run.state = c.cancelled > 0 ? 'cancelled' : c.failed > 0 || c.failedInfra > 0 ? 'failed' : 'passed';
    run.finishedAtMs = atMs;
    this.touched.add(run.runId);
  }

  private setTaskState(task: TaskRec, state: TaskState): void {
    const counts = this.run(task.runId).counts;
    counts[countKey(task.state)]--;
    counts[countKey(state)]++;
    task.state = state;
    this.touched.add(task.runId);
  }

  private recordTiming(task: TaskRec, result: AttemptResult): void {
    const ms = Math.max(0, result.finishedAtMs - result.startedAtMs);
    if (task.files.length === 0) {
      this.timings.record(timingKeyOfTask(task.template), ms);
      return;
    }
    // Per-file time from the report when it names files, else an equal share.
    const byFile = new Map<string, number>();
    for (const test of result.tests) if (test.file !== '') byFile.set(test.file, (byFile.get(test.file) ?? 0) + test.timeSec * 1000);
    const classKey = this.workers.get(result.workerId)?.capabilityKey ?? '';
    for (const file of task.files) {
      const fileMs = byFile.get(file) ?? ms / task.files.length;
      this.timings.record(timingKeyOfFile(task.template.suite, file), fileMs);
      if (classKey !== '') this.timings.record(fileTimingKey(task.template.suite, file, classKey), fileMs);
    }
  }

  private recordFlakes(task: TaskRec): void {
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
      this.flakes.record(`${task.template.suite}\u0000${id}`, test.status === 'passed' && failedBefore.has(id));
    }
  }

  private cancelRun(runId: string, reason: string, atMs: number): CancelOutcome {
    if (typeof reason !== 'string') throw new ExtensionCommandError('cancel-run: reason must be a string');
    const run = this.runs.get(runId);
    if (run === undefined) throw new ExtensionCommandError(`cancel-run: unknown run ${runId}`);
    const cancelled: { attemptId: string; workerId: string }[] = [];
    if (run.state !== 'running') return { cancelled };
    for (const taskId of run.taskIds) {
      const task = this.tasks.get(taskId)!;
      if (terminal(task.state)) continue;
      // A hedged task runs two attempts: both stop.
      for (const attempt of task.attempts) {
        if (attempt.state !== 'running') continue;
        attempt.state = 'cancelled';
        attempt.reason = reason;
        this.releaseAttempt(task, attempt);
        cancelled.push({ attemptId: attempt.attemptId, workerId: attempt.workerId });
      }
      this.endTask(task, 'cancelled', reason, atMs);
    }
    return { cancelled };
  }

  /** Ends queued tasks failed-infra (no worker could ever take them); others are left alone. */
  private failTasks(taskIds: readonly string[], reason: string, atMs: number): { failed: string[] } {
    if (!Array.isArray(taskIds) || typeof reason !== 'string' || reason === '') throw new ExtensionCommandError('fail-tasks: taskIds and a reason are required');
    const failed: string[] = [];
    for (const taskId of taskIds) {
      const task = typeof taskId === 'string' ? this.tasks.get(taskId) : undefined;
      if (task === undefined || task.state !== 'queued') continue;
      this.endTask(task, 'failed-infra', reason, atMs);
      failed.push(taskId);
    }
    return { failed };
  }

  private pruneRuns(finishedBeforeMs: number): { pruned: string[] } {
    if (typeof finishedBeforeMs !== 'number' || !Number.isFinite(finishedBeforeMs)) throw new ExtensionCommandError('prune-runs: finishedBeforeMs must be a finite number');
    const pruned: string[] = [];
    for (const run of this.runs.values()) {
      if (pruned.length >= pruneBatchMax) break;
      if (run.state === 'running' || run.finishedAtMs >= finishedBeforeMs) continue;
      pruned.push(run.runId);
    }
    for (const runId of pruned) {
      const run = this.runs.get(runId)!;
      for (const taskId of run.taskIds) {
        const task = this.tasks.get(taskId)!;
        for (const attempt of task.attempts) this.attemptIndex.delete(attempt.attemptId);
        this.tasks.delete(taskId);
      }
      this.runs.delete(runId);
      this.touched.add(runId);
    }
    return { pruned };
  }

  // ------------------------------------------------------------ helpers

  private run(runId: string): RunRec {
    const run = this.runs.get(runId);
    assert(run !== undefined, `run ${runId} is missing`);
    return run;
  }

  private taskOfAttempt(attemptId: string): TaskRec {
    const taskId = this.attemptIndex.get(attemptId);
    const task = taskId === undefined ? undefined : this.tasks.get(taskId);
    assert(task !== undefined, `attempt ${attemptId} has no task`);
    return task;
  }

  private enqueue(task: TaskRec): void {
    this.queueOrder.push(task);
    this.queueDirty = true;
  }

  // ------------------------------------------- queue mode (file-queue.ts)

  /** Opens the submission's file queues in the run; returns the queue of each queue-mode position. */
  private openQueues(run: RunRec, templates: readonly TaskTemplate[]): Map<number, fq.FileQueueRec> {
    const byPosition = new Map<number, fq.FileQueueRec>();
    for (const [key, positions] of fq.queueGroups(templates)) {
      const group = positions.map((p) => templates[p]!);
      const estimate = this.fileEstimator(group[0]!.suite, classOfSuite(this.workers.values(), group[0]!.requirements));
      const queue = fq.openQueue(key, group, estimate);
      (run.queues ??= []).push(queue);
      for (const p of positions) byPosition.set(p, queue);
    }
    return byPosition;
  }

  private queueOf(task: TaskRec): fq.FileQueueRec | undefined {
    if (task.template.queue !== true) return undefined;
    const key = fq.queueKeyOf(task.template);
    const queue = this.runs.get(task.runId)?.queues?.find((q) => q.key === key);
    assert(queue !== undefined, `queue-mode task ${task.taskId} has no queue`);
    return queue;
  }

  private queueTaskView = (taskId: string): fq.QueueTaskView => {
    const t = this.tasks.get(taskId)!;
    return { taskId, files: t.files, open: !terminal(t.state) };
  };

  /** A batch being assigned takes its files from the queue's head, sized by the worker's capability class. */
  private maybeCarve(task: TaskRec, worker: WorkerRec): void {
    const queue = this.queueOf(task);
    if (queue === undefined || task.files.length > 0) return;
    const others = fq.uncarvedOpen(queue, this.queueTaskView) - 1;
    task.files = fq.carveBatch(queue, this.fileEstimator(task.template.suite, worker.capabilityKey), others);
    task.expectedMs = this.expectedMs(task);
  }

  /**
   * A batch ended: a new batch task takes its lane while the queue holds
   * files the uncarved batches will not take. An uncarved batch that ended
   * without running takes its share of the files, so each stays in one task;
   * a cancelled run leaves its queue as it is.
   */
  private afterBatchEnds(run: RunRec, task: TaskRec, state: TaskState, atMs: number): void {
    const queue = this.queueOf(task);
    if (queue === undefined || state === 'cancelled') return;
    if (task.files.length === 0) {
      task.files = fq.carveUnrun(queue, fq.uncarvedOpen(queue, this.queueTaskView));
      return;
    }
    if (!fq.needsAnotherBatch(queue, this.queueTaskView)) return;
    const taskId = taskIdOf(run.runId, run.taskIds.length + 1);
    const next = this.newTask(run.runId, taskId, fq.nextBatchTemplate(queue, taskId), [], atMs);
    this.tasks.set(taskId, next);
    run.taskIds.push(taskId);
    run.counts.tasks++;
    run.counts.queued++;
    if (!next.template.exclusive) run.parallelOpen++;
    this.enqueue(next);
  }

  // -------------------------------------------------------- scheduler view

  /** Queued tasks in scheduling order (node-local, derived). */
  *queuedTasks(): Generator<SchedulableTask> {
    if (this.queueDirty) {
      const seen = new Set<TaskRec>();
      this.queueOrder = this.queueOrder.filter((t) => t.state === 'queued' && this.tasks.get(t.taskId) === t && !seen.has(t) && seen.add(t));
      this.queueOrder.sort((a, b) => b.template.priority - a.template.priority || b.expectedMs - a.expectedMs || a.seq - b.seq);
      this.queueDirty = false;
    }
    let stale = 0;
    for (const task of this.queueOrder) {
      if (task.state !== 'queued') {
        stale++;
        continue;
      }
      yield {
        taskId: task.taskId,
        runId: task.runId,
        requirements: task.template.requirements,
        exclusive: task.template.exclusive,
        notBeforeMs: task.notBeforeMs,
        avoidWorkers: task.avoidWorkers,
        preferWorker: task.preferWorker,
      };
    }
    // Drop ended entries once they dominate, so scans stay short.
    if (stale > 1024 && stale * 2 > this.queueOrder.length) this.queueDirty = true;
  }

  get queuedCount(): number {
    let n = 0;
    for (const run of this.runs.values()) n += run.counts.queued;
    return n;
  }

  runLoad(runId: string): RunLoad {
    const run = this.runs.get(runId);
    return run === undefined ? { parallelOpen: 0, running: 0 } : { parallelOpen: run.parallelOpen, running: run.running };
  }


  // ------------------------------------------------ reads (queries.ts)

  /** Runs, tasks and workers by state (for metrics). */
  stateCounts(): ReturnType<typeof q.stateCounts> {
    return q.stateCounts(this.view());
  }

  /** Queued tasks whose requirements no registered worker (active or draining) meets; at most `limit`. */
  unschedulableTasks(limit: number): ReturnType<typeof q.unschedulableTasks> {
    return q.unschedulableTasks(this.view(), limit);
  }

  resetSinceMs(workerId: string): number {
    return q.resetSinceMs(this.view(), workerId);
  }

  taskQueuedAtMs(taskId: string): number | undefined {
    return q.taskQueuedAtMs(this.view(), taskId);
  }

  nextBackoffEndMs(nowMs: number): number | null {
    return q.nextBackoffEndMs(this.view(), nowMs);
  }

  attemptOrder(attemptId: string): AttemptOrder | undefined {
    return q.attemptOrder(this.view(), attemptId);
  }

  workerKeyHash(workerId: string): string {
    return q.workerKeyHash(this.view(), workerId);
  }

  attemptWorker(attemptId: string): string | undefined {
    return q.attemptWorker(this.view(), attemptId);
  }

  worker(workerId: string): WorkerView | undefined {
    return q.workerOf(this.view(), workerId);
  }

  listWorkers(): WorkerView[] {
    return q.listWorkers(this.view());
  }

  listRuns(): RunSummary[] {
    return q.listRuns(this.view());
  }

  runSummary(runId: string): RunSummary | undefined {
    return q.runSummaryOf(this.view(), runId);
  }

  getRun(runId: string): RunView | undefined {
    return q.getRun(this.view(), runId);
  }

  prunableBefore(ms: number): number {
    return q.prunableBefore(this.view(), ms);
  }

  /** The data the queries read. */
  private view(): q.OrchestratorView {
    const { workers, runs, tasks, attemptIndex: attempts, flakes, queueOrder } = this;
    return { workers, runs, tasks, attempts, flakes, queueOrder };
  }

  // -------------------------------------------------------------- snapshots

  snapshot(): Uint8Array {
    return encodeData(this.data());
  }

  restore(bytes: Uint8Array): void {
    const decoded = decodeData(bytes);
    try {
      this.replace(decoded);
    } catch (error) {
      throw new SnapshotDecodeError(`orchestrator state is malformed: ${(error as Error).message}`, { cause: error });
    }
  }

  /** The replicated data, as one object (the fields themselves, not copies). */
  private data(): OrchestratorData {
    const { workers, runs, tasks, attemptIndex: attempts, timings, flakes, nextSeq, recovery, breakerSettings } = this;
    return { workers, runs, tasks, attempts, timings, flakes, nextSeq, recovery, breakerSettings };
  }

  /** Installs `next` whole, or (when its invariants fail) keeps the data as it was. */
  private replace(next: OrchestratorData): void {
    const old = this.data();
    const install = (d: OrchestratorData): void => {
      this.workers = d.workers;
      this.runs = d.runs;
      this.tasks = d.tasks;
      this.attemptIndex = d.attempts;
      this.timings = d.timings;
      this.flakes = d.flakes;
      this.nextSeq = d.nextSeq;
      this.recovery = d.recovery;
      this.breakerSettings = d.breakerSettings;
      this.queueOrder = [...d.tasks.values()].filter((t) => t.state === 'queued');
      this.queueDirty = true;
    };
    install(next);
    try {
      this.checkInvariants();
    } catch (error) {
      install(old);
      throw error;
    }
    for (const listener of this.listeners) listener(new Set(next.runs.keys()), 'submit-run', []);
  }

  /** Asserts the cross-record invariants (after a restore; tests call it after every step). */
  checkInvariants(): void {
    checkInvariants(this.runs, this.tasks, this.workers);
  }
}

export type { FaultClass };

export { capabilityKeyOf };
