/**
 * The orchestrator's working state, as the modules that change it share it
 * (runs.ts, batches.ts, attempts.ts, results.ts, workers.ts,
 * recovery-steps.ts, hedging.ts): the replicated records (snapshot.ts's
 * OrchestratorData, mutable here), the node-local queue order, and what the
 * command being applied touched and emitted. The Orchestrator (state.ts)
 * owns one Machine and passes it to them. No clock, no randomness: every
 * time comes from the command's stamp.
 */
import type { TaskState, TaskTemplate } from '../../model/index.js';
import { assert } from '../../common/assert.js';
import { defaultBreakerConfig, emptyRecoveryHistory, type BreakerConfig, type RecoveryHistory } from '../recovery/index.js';
import type { Fleet } from './capacity.js';
import { FlakeHistory, TimingHistory } from './history.js';
import { countKey, type RunRec, type TaskRec, type WorkerRec } from './records.js';

/** First retry backoff; doubles per failure of the task, capped. */
export const retryBackoffBaseMs = 500;
export const retryBackoffMaxMs = 30_000;
/** Runs pruned by one prune command. */
export const pruneBatchMax = 100;
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

/** Attempts of one task cancelled by stopping workers before the task ends failed-infra. */
export const cancelledRunsMax = 5;
/** Recovery decisions kept per task. */
export const decisionsPerTaskMax = 32;

export interface Machine {
  workers: Map<string, WorkerRec>;
  runs: Map<string, RunRec>;
  tasks: Map<string, TaskRec>;
  /** attemptId → taskId. */
  attemptIndex: Map<string, string>;
  timings: TimingHistory;
  flakes: FlakeHistory;
  nextSeq: number;
  recovery: RecoveryHistory;
  /** Replicated: every replica applies the same breaker settings (set-breaker-config). */
  breakerSettings: BreakerConfig;
  /** Derived, node-local: the scheduling order of queued tasks (stale entries dropped when dirty). */
  queueOrder: TaskRec[];
  queueDirty: boolean;
  /**
   * Derived, node-local: queueOrder[0, queueHead) holds no queued task, so a
   * scan starts at queueHead. Only a requeue makes a task queued again, and
   * it enqueues the task anew (queueDirty), which rebuilds the order and
   * sets queueHead back to 0.
   */
  queueHead: number;
  /** Runs the command being applied touched. */
  touched: Set<string>;
  /** Events the command being applied emitted. */
  events: OrchEvent[];
  /** What capacity.ts reads: the workers, the settings and the attempts. */
  readonly fleet: Fleet;
  readonly plantedBug: OrchestratorPlantedBug | undefined;
}

/** The working state of a new cluster. */
export function newMachine(plantedBug: OrchestratorPlantedBug | undefined): Machine {
  const m: Machine = {
    workers: new Map(),
    runs: new Map(),
    tasks: new Map(),
    attemptIndex: new Map(),
    timings: new TimingHistory(),
    flakes: new FlakeHistory(),
    nextSeq: 1,
    recovery: emptyRecoveryHistory(),
    breakerSettings: defaultBreakerConfig,
    queueOrder: [],
    queueDirty: false,
    queueHead: 0,
    touched: new Set(),
    events: [],
    fleet: {
      workers: () => m.workers.values(),
      settings: () => m.breakerSettings,
      attempt: (attemptId) => taskOfAttempt(m, attemptId).attempts.find((a) => a.attemptId === attemptId),
    },
    plantedBug,
  };
  return m;
}

/** The timing-history key of a task without files. */
export function timingKeyOfTask(template: TaskTemplate): string {
  return `${template.suite}\u0000#${template.shard}/${template.shardCount}\u0000${JSON.stringify(template.matrix)}`;
}

/** Queued tasks across the kept runs. */
export function queuedCount(m: Machine): number {
  let n = 0;
  for (const run of m.runs.values()) n += run.counts.queued;
  return n;
}

/** The run a record names (asserted to exist). */
export function runOf(m: Machine, runId: string): RunRec {
  const run = m.runs.get(runId);
  assert(run !== undefined, `run ${runId} is missing`);
  return run;
}

/** The task of a known attempt (asserted to exist). */
export function taskOfAttempt(m: Machine, attemptId: string): TaskRec {
  const taskId = m.attemptIndex.get(attemptId);
  const task = taskId === undefined ? undefined : m.tasks.get(taskId);
  assert(task !== undefined, `attempt ${attemptId} has no task`);
  return task;
}

/** Puts a queued task in the scheduling order (re-sorted lazily). */
export function enqueue(m: Machine, task: TaskRec): void {
  m.queueOrder.push(task);
  m.queueDirty = true;
}

/** Moves a task to `state`, keeping its run's counts equal to its tasks' states. */
export function setTaskState(m: Machine, task: TaskRec, state: TaskState): void {
  const counts = runOf(m, task.runId).counts;
  counts[countKey(task.state)]--;
  counts[countKey(state)]++;
  task.state = state;
  m.touched.add(task.runId);
}
