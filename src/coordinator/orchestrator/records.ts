import type {
  AttemptResult,
  AttemptState,
  AttemptView,
  Capabilities,
  RunCounts,
  RunState,
  RunSummary,
  TaskState,
  TaskTemplate,
  TaskView,
  WorkerState,
  WorkerView,
} from '../../model/index.js';
import { assert } from '../../raft/index.js';
import type { Breaker, BreakerConfig, RecoveryHistory, TaskLadderState } from '../recovery/index.js';
import { checkQueue, type FileQueueRec } from './file-queue.js';

/**
 * The orchestrator's records as it keeps them (mutable, internal), the views
 * it hands out (copies), and the cross-record invariants.
 */

export interface WorkerRec {
  workerId: string;
  name: string;
  capabilities: Capabilities;
  slots: number;
  state: WorkerState;
  registeredAtMs: number;
  httpAddress: string;
  /** Running attempt ids, in assignment order. */
  running: string[];
  /** An operator drained it; kept through a loss, so it comes back draining. */
  drained: boolean;
  breaker: Breaker;
  /** Workers with equal keys are peers for the adaptive threshold. */
  capabilityKey: string;
  /** Resetting (recovery level 3): out of scheduling until it reports the reset done. */
  resetting: boolean;
  /** When the reset was asked for (the leader gives up waiting after a while). */
  resetSinceMs: number;
  /** The session key hash the id is bound to; '' or absent (older snapshots): not bound yet. */
  sessionKeyHash?: string;
  /** The boot id of the worker process last registered under this id; '' or absent: unknown. */
  bootId?: string;
}

export interface AttemptRec {
  attemptId: string;
  number: number;
  workerId: string;
  assignedAtMs: number;
  state: AttemptState;
  result?: AttemptResult;
  reason: string;
  lateResults: number;
  /** Started as a hedge of the previous attempt (orchestrator/hedging.ts); absent otherwise. */
  hedge?: true;
  /** A hedge: why the previous attempt was hedged (its overrun, or its slow worker). */
  hedgedBecause?: string;
}

export interface TaskRec {
  taskId: string;
  runId: string;
  seq: number;
  template: TaskTemplate;
  files: string[];
  state: TaskState;
  reason: string;
  queuedAtMs: number;
  finishedAtMs: number;
  expectedMs: number;
  attempts: AttemptRec[];
  testFailures: number;
  infraFailures: number;
  notBeforeMs: number;
  avoidWorkers: string[];
  /** Level 1 of the recovery ladder: run the retry on this worker if it can take it. */
  preferWorker: string;
  /** The task's position on the recovery ladder. */
  ladder: TaskLadderState;
  /** Every recovery decision taken for the task, oldest first (bounded), for `runs show --explain`. */
  decisions: RecoveryDecision[];
  /** Attempts cancelled by stopping workers (not faults, but bounded). */
  cancelledRuns: number;
}

/** A recovery decision as the task keeps it. */
export interface RecoveryDecision {
  readonly atMs: number;
  readonly attemptId: string;
  readonly workerId: string;
  readonly failureClass: string;
  readonly level: number;
  readonly action: string;
  readonly reason: string;
}

export interface RunRec {
  runId: string;
  name: string;
  state: RunState;
  submittedAtMs: number;
  finishedAtMs: number;
  setup: string[];
  setupCacheKey: string;
  sourceDir: string;
  taskIds: string[];
  counts: MutableCounts;
  parallelOpen: number;
  running: number;
  degraded: boolean;
  /** Queue-mode suites' file queues (file-queue.ts); absent in runs without any (and in older snapshots). */
  queues?: FileQueueRec[];
}

export type MutableCounts = { -readonly [K in keyof RunCounts]: RunCounts[K] };

export const emptyCounts = (): MutableCounts => ({ tasks: 0, queued: 0, running: 0, passed: 0, failed: 0, cancelled: 0, failedInfra: 0 });

export function countKey(state: TaskState): keyof MutableCounts {
  switch (state) {
    case 'queued':
      return 'queued';
    case 'running':
      return 'running';
    case 'passed':
      return 'passed';
    case 'failed':
      return 'failed';
    case 'cancelled':
      return 'cancelled';
    case 'failed-infra':
      return 'failedInfra';
  }
}

export const terminal = (state: TaskState): boolean => state !== 'queued' && state !== 'running';

/**
 * Whether attempt i may be running: the task's last attempt, or the one a
 * hedge (the last) was started for, which runs on after the hedge ends. A
 * task runs at most two attempts at once, and only while hedged.
 */
function currentAttempt(task: TaskRec, i: number): boolean {
  const n = task.attempts.length;
  return i === n - 1 || (i === n - 2 && task.attempts[n - 1]!.hedge === true);
}

/** Asserts the cross-record invariants (after a restore; tests call it after every step). */
export function checkInvariants(runs: ReadonlyMap<string, RunRec>, tasks: ReadonlyMap<string, TaskRec>, workers: ReadonlyMap<string, WorkerRec>): void {
  const runningByWorker = new Map<string, string[]>();
  for (const run of runs.values()) {
    const counts = emptyCounts();
    let running = 0;
    let parallelOpen = 0;
    for (const taskId of run.taskIds) {
      const task = tasks.get(taskId);
      assert(task !== undefined && task.runId === run.runId, `run ${run.runId} lists missing task ${taskId}`);
      counts.tasks++;
      counts[countKey(task.state)]++;
      if (!terminal(task.state) && !task.template.exclusive) parallelOpen++;
      task.attempts.forEach((attempt, i) => {
        if (attempt.state === 'running') {
          assert(task.state === 'running' && currentAttempt(task, i), `attempt ${attempt.attemptId} runs but is not one of its task's current ones`);
          running++;
          runningByWorker.set(attempt.workerId, [...(runningByWorker.get(attempt.workerId) ?? []), attempt.attemptId]);
        }
      });
      assert(task.attempts.filter((a) => a.hedge === true).length <= 1, `task ${taskId} was hedged more than once`);
      if (task.state === 'running') assert(task.attempts.some((a) => a.state === 'running'), `task ${taskId} is running without a running attempt`);
    }
    assert(JSON.stringify(counts) === JSON.stringify(run.counts), `run ${run.runId} counts ${JSON.stringify(run.counts)} disagree with its tasks ${JSON.stringify(counts)}`);
    assert(running === run.running && parallelOpen === run.parallelOpen, `run ${run.runId} load disagrees with its tasks`);
    const open = counts.queued + counts.running > 0;
    assert(open === (run.state === 'running'), `run ${run.runId} is ${run.state} with ${counts.queued} queued and ${counts.running} running`);
    const queueTask = (id: string): { taskId: string; files: string[]; open: boolean } | undefined => {
      const t = tasks.get(id);
      return t === undefined ? undefined : { taskId: t.taskId, files: t.files, open: !terminal(t.state) };
    };
    for (const queue of run.queues ?? []) checkQueue(queue, queueTask, run.state !== 'running', run.state === 'cancelled');
  }
  for (const worker of workers.values()) {
    const expected = (runningByWorker.get(worker.workerId) ?? []).sort();
    assert(JSON.stringify([...worker.running].sort()) === JSON.stringify(expected), `worker ${worker.workerId} running set disagrees with the tasks`);
    assert(worker.state !== 'lost' || worker.running.length === 0, `lost worker ${worker.workerId} runs attempts`);
  }
}

/** 2: breakers, recovery ladders and the recovery history (a version-1 snapshot is upgraded on restore). */
export const orchestratorFormatVersion = 2;

export interface SnapshotState {
  version: number;
  nextSeq: number;
  workers: WorkerRec[];
  runs: (RunRec & { tasks: TaskRec[] })[];
  timings: unknown;
  flakes: unknown;
  recovery: RecoveryHistory;
  /** Absent in snapshots taken before the settings could change: the defaults. */
  breakerConfig?: BreakerConfig;
}

export function workerView(w: WorkerRec): WorkerView {
  return {
    workerId: w.workerId,
    name: w.name,
    capabilities: w.capabilities,
    slots: w.slots,
    state: w.state,
    registeredAtMs: w.registeredAtMs,
    running: [...w.running],
    httpAddress: w.httpAddress,
    breaker: { state: w.breaker.state, reason: w.breaker.reason, sinceMs: w.breaker.sinceMs },
    resetting: w.resetting,
  };
}

export function runSummary(run: RunRec): RunSummary {
  return {
    runId: run.runId,
    name: run.name,
    state: run.state,
    submittedAtMs: run.submittedAtMs,
    finishedAtMs: run.finishedAtMs,
    counts: { ...run.counts },
    degraded: run.degraded,
  };
}

export function taskView(task: TaskRec): TaskView {
  return {
    taskId: task.taskId,
    runId: task.runId,
    template: task.template,
    files: task.files,
    state: task.state,
    reason: task.reason,
    queuedAtMs: task.queuedAtMs,
    finishedAtMs: task.finishedAtMs,
    expectedMs: task.expectedMs,
    attempts: task.attempts.map(
      (a): AttemptView => ({
        attemptId: a.attemptId,
        number: a.number,
        workerId: a.workerId,
        assignedAtMs: a.assignedAtMs,
        state: a.state,
        ...(a.result === undefined ? {} : { result: a.result }),
        reason: a.reason,
        lateResults: a.lateResults,
        ...(a.hedge === true ? { hedge: true as const, hedgedBecause: a.hedgedBecause ?? '' } : {}),
      }),
    ),
    decisions: [...task.decisions],
  };
}
